"""Africa's Talking's send side against the fake provider, through the real client and the outbox
sender: the form the client posts, what each kind of answer becomes (sent, retried, failed), an
answer whose statusCode is not a number, and a number the provider's API refuses."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import async_sessionmaker

from gateway.config import OutboxSettings
from gateway.dashboard.queries import failed_sms
from gateway.kernel.envelopes import SendOutcome, SendResult
from gateway.metrics import Metrics
from gateway.outbox.sender import OutboxSender
from gateway.providers.africastalking import AfricasTalkingSender
from gateway.providers.africastalking_fake import FAKE_API_KEY, FAKE_USERNAME
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import Outbox
from gateway.storage.outbox import PRIORITY_REPLY, OutboundSms, enqueue
from tests.support.fake_provider import FakeProviderServer
from tests.support.ports import free_port

if TYPE_CHECKING:  # the clock fixture's type, only named in annotations
    from tests.support.gateway import FakeClock

SETTINGS = OutboxSettings(poll_seconds=0.01, backoff_base_seconds=1, backoff_max_seconds=2)
ODD, PLAIN = "+22790123456", "+22790123457"
DIGITS = re.compile(r"\d{6,}")


@pytest.fixture
async def sessions(db_url: str) -> AsyncIterator[async_sessionmaker]:
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer() as server:
        yield server


@pytest.fixture
async def provider(fake: FakeProviderServer) -> AsyncIterator[AfricasTalkingSender]:
    sender = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, fake.base_url, timeout=5)
    yield sender
    await sender.close()


async def test_the_client_posts_the_documented_form_to_base_messaging() -> None:
    posted: list[tuple[str, dict[str, str], dict[str, str]]] = []

    async def messaging(request: web.Request) -> web.Response:
        posted.append((request.path, dict(await request.post()), dict(request.headers)))
        return web.json_response({"SMSMessageData": {"Message": "Sent to 2/2", "Recipients": [
            {"statusCode": 101, "number": to, "status": "Success", "cost": "XOF 25.0000", "messageId": f"ATXid_{n}"}
            for n, to in enumerate((ODD, PLAIN))]}}, status=201)

    app = web.Application()
    app.router.add_post("/version1/messaging", messaging)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = AfricasTalkingSender("user", "key", f"http://127.0.0.1:{port}/version1/", sender_id="3737")
    try:
        results = await client.send("Alerte", [ODD, PLAIN])
    finally:
        await client.close()
        await runner.cleanup()
    [(path, form, headers)] = posted
    assert path == "/version1/messaging"
    assert form == {"username": "user", "to": f"{ODD},{PLAIN}", "message": "Alerte", "bulkSMSMode": "1",
                    "from": "3737"}
    assert (headers["apiKey"], headers["Accept"]) == ("key", "application/json")
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert results == [SendResult(ODD, SendOutcome.SENT, "ATXid_0", "XOF 25.0000"),
                       SendResult(PLAIN, SendOutcome.SENT, "ATXid_1", "XOF 25.0000")]


# What each answer of the provider becomes: 5xx, timeouts, 401 and 429 and the retryable statusCodes
# are tried again; other 4xx and the other statusCodes fail for good.
ANSWERS = [
    ("accepted", {"mode": "ok"}, "Alerte", (SendOutcome.SENT, None)),
    ("http 500", {"mode": "error500"}, "Alerte", (SendOutcome.RETRY, "http_500")),
    ("timeout", {"mode": "timeout"}, "Alerte", (SendOutcome.RETRY, "timeout")),
    ("http 400: a form the provider refuses", {"mode": "ok"}, "", (SendOutcome.FAILED, "http_400")),
    ("insufficient balance", {"mode": "reject_all", "reject_status": 405}, "Alerte",
     (SendOutcome.RETRY, "InsufficientBalance")),
    ("gateway error", {"mode": "reject_all", "reject_status": 501}, "Alerte", (SendOutcome.RETRY, "GatewayError")),
    ("blacklisted", {"mode": "reject_all", "reject_status": 406}, "Alerte", (SendOutcome.FAILED, "UserInBlacklist")),
    ("invalid number", {"mode": "reject_all", "reject_status": 403}, "Alerte",
     (SendOutcome.FAILED, "InvalidPhoneNumber")),
]


@pytest.mark.parametrize(("label", "mode", "text", "expected"), ANSWERS, ids=[a[0] for a in ANSWERS])
async def test_each_answer_is_sent_retried_or_failed(fake: FakeProviderServer, label: str, mode: dict, text: str,
                                                     expected: tuple[SendOutcome, str | None]) -> None:
    await fake.set_mode(**mode)
    client = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, fake.base_url, timeout=0.3)
    try:
        [result] = await client.send(text, [PLAIN])
    finally:
        await fake.reset()  # releases a request hung in "timeout"
        await client.close()
    assert (result.outcome, result.reason) == expected


async def test_wrong_credentials_are_retried_and_an_unreachable_provider_too(fake: FakeProviderServer) -> None:
    wrong_key = AfricasTalkingSender(FAKE_USERNAME, "wrong-key", fake.base_url, timeout=5)
    nobody = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, f"http://127.0.0.1:{free_port()}/version1", timeout=5)
    try:
        assert [(r.outcome, r.reason) for r in await wrong_key.send("Alerte", [PLAIN])] == [
            (SendOutcome.RETRY, "http_401")]
        [unreachable] = await nobody.send("Alerte", [PLAIN])
    finally:
        await wrong_key.close()
        await nobody.close()
    assert unreachable.outcome is SendOutcome.RETRY and unreachable.reason.startswith("connection: ")
    assert await fake.messages() == []


async def queue_replies(sessions: async_sessionmaker, clock: FakeClock, recipients: list[str]) -> None:
    async with sessions() as session, session.begin():
        await enqueue(session, [OutboundSms(f"reply:{n}", "reply", to, "Recu R0001", PRIORITY_REPLY,
                                            expires_at=clock() + timedelta(hours=24))
                                for n, to in enumerate(recipients)], clock())


async def send_for_an_hour(sessions: async_sessionmaker, provider: AfricasTalkingSender,
                           clock: FakeClock) -> dict[str, Outbox]:
    sender = OutboxSender(sessions, provider, SETTINGS, Metrics(), clock, sessions.kw["bind"].dialect.name)
    for _ in range(30):  # well past every back-off: anything left to retry is retried
        await sender.send_due()
        clock.advance(minutes=2)
    async with sessions() as session:
        return {row.recipient: row for row in (await session.execute(select(Outbox))).scalars()}


async def test_a_status_code_that_is_not_a_number_is_recorded_as_sent_and_never_sent_again(
        sessions: async_sessionmaker, fake: FakeProviderServer, provider: AfricasTalkingSender,
        clock: FakeClock) -> None:
    await fake.set_mode("ok", number_statuses={ODD: "Queued"})
    await queue_replies(sessions, clock, [ODD, PLAIN])
    rows = await send_for_an_hour(sessions, provider, clock)
    assert sorted(m["to"] for m in await fake.messages()) == [ODD, PLAIN], "an SMS was sent twice"
    assert (rows[ODD].status, rows[ODD].attempts, rows[PLAIN].status) == ("sent", 1, "sent")
    assert rows[ODD].last_error == "sent, provider status unknown: 'Queued'"
    assert rows[ODD].provider_message_id


async def test_a_number_the_provider_refuses_fails_alone_and_is_named_nowhere(
        sessions: async_sessionmaker, fake: FakeProviderServer, provider: AfricasTalkingSender, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    refused = "+227-90123456"  # the provider's API wants +<digits> and would refuse the whole request
    caplog.set_level(logging.INFO)
    await queue_replies(sessions, clock, [refused, PLAIN])
    rows = await send_for_an_hour(sessions, provider, clock)
    assert [m["to"] for m in await fake.messages()] == [PLAIN], "the valid recipient paid for the refused one"
    assert (rows[refused].status, rows[PLAIN].status) == ("failed", "sent")
    assert not DIGITS.search(rows[refused].last_error or ""), rows[refused].last_error
    assert "90123456" not in caplog.text, caplog.text


async def test_the_delivery_page_masks_a_number_in_an_error_stored_before_masking(sessions: async_sessionmaker,
                                                                                   clock: FakeClock) -> None:
    await queue_replies(sessions, clock, [PLAIN])
    async with sessions() as session, session.begin():
        await session.execute(Outbox.__table__.update().values(
            status="failed", last_error="Invalid phone number: +22790123457"))
    async with sessions() as session:
        [row] = await failed_sms(session, clock() - timedelta(days=1))
    assert row.error == "Invalid phone number: +********457"

"""Africa's Talking's send side against the fake provider, through the real SDK and the outbox
sender: an answer whose statusCode is not a number, and a number the SDK refuses."""

from __future__ import annotations

import logging
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from gateway.config import OutboxSettings
from gateway.dashboard.queries import failed_sms
from gateway.metrics import Metrics
from gateway.outbox.sender import OutboxSender
from gateway.providers.africastalking import AfricasTalkingSender
from gateway.providers.africastalking_fake import FAKE_API_KEY, FAKE_USERNAME
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import Outbox
from gateway.storage.outbox import PRIORITY_REPLY, OutboundSms, enqueue
from tests.support.fake_provider import FakeProviderServer

SETTINGS = OutboxSettings(poll_seconds=0.01, backoff_base_seconds=1, backoff_max_seconds=2)
ODD, PLAIN = "+22790123456", "+22790123457"
DIGITS = re.compile(r"\d{6,}")


@pytest.fixture
async def sessions(db_url):  # noqa: ANN001
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


@pytest.fixture
async def fake():
    async with FakeProviderServer() as server:
        yield server


@pytest.fixture
def provider(fake):  # noqa: ANN001
    sender = AfricasTalkingSender(FAKE_USERNAME, FAKE_API_KEY, fake.base_url, timeout=5)
    yield sender
    sender.close()


async def queue_replies(sessions, clock, recipients: list[str]) -> None:  # noqa: ANN001
    async with sessions() as session, session.begin():
        await enqueue(session, [OutboundSms(f"reply:{n}", "reply", to, "Recu R0001", PRIORITY_REPLY,
                                            expires_at=clock() + timedelta(hours=24))
                                for n, to in enumerate(recipients)], clock())


async def send_for_an_hour(sessions, provider, clock) -> dict[str, Outbox]:  # noqa: ANN001
    sender = OutboxSender(sessions, provider, SETTINGS, Metrics(), clock, sessions.kw["bind"].dialect.name)
    for _ in range(30):  # well past every back-off: anything left to retry is retried
        await sender.send_due()
        clock.advance(minutes=2)
    async with sessions() as session:
        return {row.recipient: row for row in (await session.execute(select(Outbox))).scalars()}


async def test_a_status_code_that_is_not_a_number_is_recorded_as_sent_and_never_sent_again(
        sessions, fake, provider, clock) -> None:  # noqa: ANN001
    await fake.set_mode("ok", number_statuses={ODD: "Queued"})
    await queue_replies(sessions, clock, [ODD, PLAIN])
    rows = await send_for_an_hour(sessions, provider, clock)
    assert sorted(m["to"] for m in await fake.messages()) == [ODD, PLAIN], "an SMS was sent twice"
    assert (rows[ODD].status, rows[ODD].attempts, rows[PLAIN].status) == ("sent", 1, "sent")
    assert rows[ODD].last_error == "sent, provider status unknown: 'Queued'"
    assert rows[ODD].provider_message_id


async def test_a_number_the_sdk_refuses_fails_alone_and_is_named_nowhere(sessions, fake, provider, clock,  # noqa: ANN001
                                                                        caplog) -> None:  # noqa: ANN001
    refused = "+227-90123456"  # the SDK wants +<digits>: it raises "Invalid phone number: +227-90123456"
    caplog.set_level(logging.INFO)
    await queue_replies(sessions, clock, [refused, PLAIN])
    rows = await send_for_an_hour(sessions, provider, clock)
    assert [m["to"] for m in await fake.messages()] == [PLAIN], "the valid recipient paid for the refused one"
    assert (rows[refused].status, rows[PLAIN].status) == ("failed", "sent")
    assert not DIGITS.search(rows[refused].last_error or ""), rows[refused].last_error
    assert "90123456" not in caplog.text, caplog.text


async def test_the_delivery_page_masks_a_number_in_an_error_stored_before_masking(sessions, clock) -> None:  # noqa: ANN001
    await queue_replies(sessions, clock, [PLAIN])
    async with sessions() as session, session.begin():
        await session.execute(Outbox.__table__.update().values(
            status="failed", last_error="Invalid phone number: +22790123457"))
    async with sessions() as session:
        [row] = await failed_sms(session, clock() - timedelta(days=1))
    assert row.error == "Invalid phone number: +********457"

"""A phone running SMS Gateway for Android (the fake phone) and `ewg serve` over real HTTP: signed
webhooks in, confirmations and alerts out through the phone's API, and failover from a failing
Africa's Talking to the phone."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import aiohttp
from sqlalchemy import select

from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.providers.android_fake import signed_webhook
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import Message, Outbox
from tests.support.end_to_end import CALLBACKS_TOKEN, wait_for
from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import GatewayProcess
from tests.support.phone import SIGNING_KEY, FakePhone
from tests.support.ports import free_port

FOCAL_POINT = "+22790000101"  # demo: approved, Gabi
GABI_COMMITTEE = {"+22796000201", "+22796000202"}


def gateway_env(db_url: str, **extra: str) -> dict[str, str]:
    return {"EWG_DATABASE__URL": db_url, "EWG_CALLBACKS__TOKEN": CALLBACKS_TOKEN, "EWG_OUTBOX__POLL_SECONDS": "0.1",
            "EWG_OUTBOX__BACKOFF_BASE_SECONDS": "0.2", "EWG_OUTBOX__BACKOFF_MAX_SECONDS": "0.5", **extra}


async def post_webhook(gateway: GatewayProcess, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/callbacks/android", data=body, headers=headers) as response:
        return response.status, await response.text()


async def rows(db_url: str, statement) -> list:
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.execute(statement)).all())
    finally:
        await engine.dispose()


def received(text: str, event_id: str, sender: str = FOCAL_POINT, **signing) -> tuple[bytes, dict[str, str]]:
    return signed_webhook(SIGNING_KEY, "sms:received", {
        "messageId": "content-derived", "message": text, "phoneNumber": sender, "simNumber": 1,
        "receivedAt": datetime.now(UTC).astimezone().isoformat()}, event_id=event_id, **signing)


async def test_the_phone_alone_receives_confirms_and_alerts(db_url, tmp_path) -> None:
    async with FakePhone() as phone:
        gateway = GatewayProcess(gateway_env(db_url, EWG_PROVIDERS__ORDER='["android"]', **phone.env()),
                                 free_port(), tmp_path)
        await gateway.start(timeout=60)  # production mode (the test secrets), no Africa's Talking account
        try:
            forged_body, forged_headers = received("ATTAQUE GABI 4", "evt-forged")
            forged_headers["X-Signature"] = "0" * 64
            assert (await post_webhook(gateway, forged_body, forged_headers))[0] == 401
            stale = received("ATTAQUE GABI 4", "evt-stale", timestamp=int(time.time()) - 600)
            assert (await post_webhook(gateway, *stale))[0] == 401

            body, headers = received("ATTAQUE GABI 3", "evt-0001")
            assert await post_webhook(gateway, body, headers) == (200, "stored: report")
            retried = received("ATTAQUE GABI 3", "evt-0001")  # the app's retry: same event, signed anew
            assert await post_webhook(gateway, *retried) == (200, "duplicate: already stored")

            expected = {FOCAL_POINT} | GABI_COMMITTEE

            async def all_sent() -> bool:
                return expected <= {n for m in phone.messages for n in m["phoneNumbers"]}
            await wait_for(all_sent, timeout=30)
        finally:
            await gateway.terminate()

    stored = await rows(db_url, select(Message.external_id, Message.provider))
    assert stored == [("evt-0001", "android")], "stored once under its event id; forged and stale refused"
    sent = await rows(db_url, select(Outbox.kind, Outbox.recipient, Outbox.status, Outbox.provider, Outbox.id))
    assert {(kind, recipient) for kind, recipient, *_ in sent} == {("reply", FOCAL_POINT)} | {
        ("alert", n) for n in GABI_COMMITTEE}
    assert all(status == "sent" and provider == "android" for _, _, status, provider, _ in sent), sent
    by_id = {m["id"]: m for m in phone.messages}
    for _, recipient, _, _, outbox_id in sent:  # our outbox id is the phone's message id
        assert by_id[str(outbox_id)]["phoneNumbers"] == [recipient]
        assert by_id[str(outbox_id)]["withDeliveryReport"] is True and by_id[str(outbox_id)]["ttl"] > 0
    assert len(phone.messages) == len(sent), "an SMS went out twice"


async def test_alerts_fail_over_to_the_phone_when_africastalking_fails(db_url, tmp_path) -> None:
    async with FakePhone() as phone, FakeProviderProcess() as at:
        await at.set_mode("error500")
        env = gateway_env(db_url, EWG_PROVIDERS__ORDER='["africastalking", "android"]',
                          EWG_PROVIDERS__TRIES_BEFORE_FAILOVER="2", EWG_AFRICASTALKING__BASE_URL=at.base_url,
                          **at.credentials_env(), **phone.env())
        gateway = GatewayProcess(env, free_port(), tmp_path)
        await gateway.start(timeout=60)
        try:
            form = inbound_sms_form(FOCAL_POINT, "ATTAQUE GABI 3", received_at=datetime.now(UTC))
            async with aiohttp.ClientSession() as http, http.post(
                    f"{gateway.url}/callbacks/at/sms", params={"token": CALLBACKS_TOKEN}, data=form) as response:
                assert response.status == 200
            started = time.monotonic()

            async def alerted() -> bool:
                return GABI_COMMITTEE <= {n for m in phone.messages for n in m["phoneNumbers"]}
            await wait_for(alerted, timeout=30)
            elapsed = time.monotonic() - started
        finally:
            await gateway.terminate()
        assert (await at.stats())["accepted"] == 0 and (await at.stats())["requests"] >= 2

    assert elapsed < 30
    sent = await rows(db_url, select(Outbox.kind, Outbox.recipient, Outbox.status, Outbox.provider))
    alerts = {(recipient, status, provider) for kind, recipient, status, provider in sent if kind == "alert"}
    assert alerts == {(n, "sent", "android") for n in GABI_COMMITTEE}, "the rows say which provider sent them"
    # the focal point texted Africa's Talking's short code: the answer waits for it, never the phone's number
    replies = [(status, provider) for kind, _, status, provider in sent if kind == "reply"]
    assert replies == [("queued", "africastalking")], replies
    assert FOCAL_POINT not in {n for m in phone.messages for n in m["phoneNumbers"]}

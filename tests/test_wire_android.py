"""Wire table for POST /callbacks/android: raw body and headers in; status, body fragment and the
rows stored out. One case per line."""

from __future__ import annotations

import json
import logging

import pytest
from sqlalchemy import func, select

from gateway.providers.android import sign
from gateway.storage.models import DeliveryEvent, Message
from tests.support.gateway import FakeClock, count, make_settings, running_gateway

KEY = "wire-signing-key-0123456789"
CLOCK = FakeClock()
NOW = int(CLOCK.now.timestamp())
SENDER = "+22790000101"


def body(kind: str, payload: dict | None, event_id: str = "evt-1", drop: str = "") -> bytes:
    data = {"deviceId": "dev", "event": kind, "id": event_id, "payload": payload, "webhookId": "w"}
    data.pop(drop, None)
    return json.dumps(data, ensure_ascii=False).encode()


def received(text: str, **extra) -> dict:
    return {"messageId": "m", "message": text, "phoneNumber": SENDER, "simNumber": 1,
            "receivedAt": "2026-11-24T13:00:00+01:00", **extra}


def signed(raw: bytes, stamp: int = NOW, key: str = KEY) -> dict[str, str]:
    return {"X-Timestamp": str(stamp), "X-Signature": sign(key, raw, str(stamp)), "Content-Type": "application/json"}


HAUSA = "an kai hari a gabi, ɓarayi sun ɗauki shanu ƙwarai ƴan bindiga"
# label, raw body, headers (None: signed now), status, body fragment, messages stored, delivery events stored
CASES = [
    ("received", body("sms:received", received("ATTAQUE GABI 3")), None, 200, "stored: report", 1, 0),
    ("hausa hooked letters", body("sms:received", received(HAUSA)), None, 200, "stored", 1, 0),
    ("bad signature", body("sms:received", received("ATTAQUE GABI 3")), {"X-Timestamp": str(NOW),
                                                                         "X-Signature": "ab" * 32}, 401,
     "does not match", 0, 0),
    ("signed with another key", (raw := body("sms:received", received("x"))), signed(raw, key="other-key"), 401,
     "does not match", 0, 0),
    ("stale timestamp", (raw := body("sms:received", received("x"))), signed(raw, NOW - 301), 401,
     "more than 5 minutes", 0, 0),
    ("future timestamp", (raw := body("sms:received", received("x"))), signed(raw, NOW + 301), 401,
     "more than 5 minutes", 0, 0),
    ("no signature", body("sms:received", received("x")), {}, 401, "X-Signature", 0, 0),
    ("missing id", body("sms:received", received("x"), drop="id"), None, 400, "field 'id' required", 0, 0),
    ("missing event", body("sms:received", received("x"), drop="event"), None, 400, "field 'event' required", 0, 0),
    ("missing phone", body("sms:received", {"message": "x", "receivedAt": "2026-11-24T13:00:00Z"}), None, 400,
     "payload.phoneNumber", 0, 0),
    ("missing text", body("sms:received", {"phoneNumber": SENDER, "receivedAt": "2026-11-24T13:00:00Z"}), None,
     400, "payload.message", 0, 0),
    ("bad date", body("sms:received", received("x", receivedAt="yesterday")), None, 400, "payload.receivedAt", 0, 0),
    ("not json", b"{nope", None, 400, "not JSON", 0, 0),
    ("sent", body("sms:sent", {"messageId": "17", "phoneNumber": SENDER}), None, 200, "ok", 0, 1),
    ("delivered", body("sms:delivered", {"messageId": "17", "phoneNumber": SENDER}), None, 200, "ok", 0, 1),
    ("failed", body("sms:failed", {"messageId": "17", "reason": "RESULT_ERROR_GENERIC_FAILURE"}), None, 200,
     "ok", 0, 1),
    ("delivery without message id", body("sms:delivered", {}), None, 400, "payload.messageId", 0, 0),
    ("ping", body("system:ping", {"health": {"status": "pass"}}), None, 200, "ok", 0, 0),
    ("unknown event", body("sms:data-received", {"data": "x"}), None, 200, "ignored: unknown event", 0, 0),
]


@pytest.mark.parametrize(("label", "raw", "headers", "status", "fragment", "messages", "events"), CASES,
                         ids=[case[0] for case in CASES])
async def test_wire(db_url, caplog, label, raw, headers, status, fragment, messages, events) -> None:
    settings = make_settings(db_url, android={"signing_key": KEY})
    caplog.set_level(logging.WARNING)
    async with running_gateway(settings, clock=CLOCK) as client:
        response = await client.post("/callbacks/android", data=raw,
                                      headers=signed(raw) if headers is None else headers)
        assert response.status == status, await response.text()
        assert fragment in await response.text()
        assert await count(client, select(func.count()).select_from(Message)) == messages
        assert await count(client, select(func.count()).select_from(DeliveryEvent)) == events
        if label == "hausa hooked letters":
            assert await count(client, select(func.count()).select_from(Message).where(Message.text == HAUSA)) == 1
        if label == "unknown event":
            assert "unknown event 'sms:data-received'" in caplog.text
        if label == "ping":
            health = await (await client.get("/healthz")).json()
            assert "android" not in health  # the phone does not send here: no phone health to show


async def test_duplicate_event_is_stored_once_and_ping_is_health(db_url) -> None:
    settings = make_settings(db_url, android={"signing_key": KEY, "base_url": "http://127.0.0.1:9",
                                              "username": "u", "password": "p"},
                             gateway={"demo": False, "pseudonym_secret": "test-pseudonym-secret"})
    async with running_gateway(settings, clock=CLOCK) as client:
        raw = body("sms:received", received("ATTAQUE GABI 3"), event_id="evt-dup")
        first = await client.post("/callbacks/android", data=raw, headers=signed(raw))
        again = await client.post("/callbacks/android", data=raw, headers=signed(raw))
        assert (first.status, await first.text()) == (200, "stored: report")
        assert (again.status, await again.text()) == (200, "duplicate: already stored")
        assert await count(client, select(func.count()).select_from(Message)
                           .where(Message.external_id == "evt-dup", Message.provider == "android")) == 1
        assert (await (await client.get("/healthz")).json())["android"] == {"status": "no ping yet"}
        ping = body("system:ping", {}, event_id="evt-ping")
        assert (await client.post("/callbacks/android", data=ping, headers=signed(ping))).status == 200
        assert (await (await client.get("/healthz")).json())["android"]["status"] == "ok"

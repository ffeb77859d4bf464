"""Every provider's SMS callback answers a database outage with 503 (the provider retries) and a
refusal tied to the message itself with 400, through the one shared ingest step."""

from __future__ import annotations

import json
import sqlite3

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.providers.android import sign
from gateway.runtime import RUNTIME
from tests.support.gateway import FakeClock, make_settings, running_gateway

CLOCK = FakeClock()
KEY = "outage-signing-key-0123456789"
SENDER = "+22790000101"


def android_request() -> tuple[str, bytes, dict[str, str]]:
    raw = json.dumps({"deviceId": "d", "event": "sms:received", "id": "evt-9", "webhookId": "w", "payload": {
        "messageId": "m", "message": "ATTAQUE GABI 3", "phoneNumber": SENDER, "simNumber": 1,
        "receivedAt": "2026-11-24T13:00:00+01:00"}}).encode()
    stamp = str(int(CLOCK.now.timestamp()))
    return "/callbacks/android", raw, {"X-Timestamp": stamp, "X-Signature": sign(KEY, raw, stamp),
                                       "Content-Type": "application/json"}


def at_request() -> tuple[str, bytes, dict[str, str]]:
    form = inbound_sms_form(SENDER, "ATTAQUE GABI 3", received_at=CLOCK.now, message_id="at-9")
    body = "&".join(f"{k}={v}" for k, v in form.items()).encode()
    return "/callbacks/at/sms?token=s3cret", body, {"Content-Type": "application/x-www-form-urlencoded"}


def kannel_request() -> tuple[str, bytes, dict[str, str]]:
    query = "id=k-9&from=%2B22790000101&to=3737&time=1796404701&smsc=op&coding=0&charset=UTF-8&text=ATTAQUE+GABI+3"
    return f"/callbacks/kannel/sms?token=s3cret&{query}", b"", {}


OUTAGE = OperationalError("INSERT ...", {}, sqlite3.OperationalError("database is locked"))
OWN_FAULT = IntegrityError("INSERT ...", {}, sqlite3.IntegrityError("CHECK constraint failed"))


@pytest.mark.parametrize("request_of", [at_request, android_request, kannel_request])
@pytest.mark.parametrize(("error", "status", "fragment"), [(OUTAGE, 503, "storage unavailable, retry later"),
                                                           (OWN_FAULT, 400, "could not be stored")])
async def test_an_sms_ingest_cannot_store_is_refused_for_the_right_reason(db_url, request_of, error, status,
                                                                          fragment) -> None:
    settings = make_settings(db_url, callbacks={"token": "s3cret"}, android={"signing_key": KEY})

    async def refuse(_sms):
        raise error

    async with running_gateway(settings, clock=CLOCK) as client:
        client.app[RUNTIME].ingest.submit = refuse
        path, body, headers = request_of()
        method = client.get if not body else client.post
        response = await (method(path, headers=headers) if not body else method(path, data=body, headers=headers))
        assert response.status == status, await response.text()
        assert fragment in await response.text()

"""Wire tables for Kannel's calls: /callbacks/kannel/sms (smsbox's sms-service) and
/callbacks/kannel/delivery (the dlr-url). Raw query or body in; status, body and the rows stored
out. One case per line."""

from __future__ import annotations

import logging
from urllib.parse import quote_from_bytes

import pytest
from sqlalchemy import func, select

from gateway.runtime import RUNTIME
from gateway.storage.models import DeliveryEvent, Message, Outbox
from tests.support.gateway import FakeClock, count, make_settings, running_gateway, settle

CLOCK = FakeClock()
SENDER = "+22790000101"  # demo: an approved focal point of Gabi
HAUSA = "an kai hari a gabi, ɓarayi sun ɗauki shanu ƙwarai ƴan bindiga"


def query(drop: str = "", **fields: str | bytes) -> str:
    """The sms-service's query as Kannel builds it (each escape's bytes percent-encoded)."""
    values = {"id": "0b7f6c1e-2d7a-4d55-9a1e-3f0c2b1d4e5f", "from": SENDER, "to": "3737", "time": "1796404701",
              "smsc": "orange", "coding": "0", "charset": "UTF-8", "text": "ATTAQUE GABI 3", **fields}
    values.pop(drop, None)
    return "&".join(f"{name}={quote_from_bytes(v if isinstance(v, bytes) else v.encode())}"
                    for name, v in values.items())


UCS2 = {"coding": "2", "charset": "UTF-16BE", "text": HAUSA.encode("utf-16-be")}
# label, method, query, POST body, status, body fragment ("" with 200: an empty body), messages stored,
# the text stored (None: not checked)
SMS_CASES = [
    ("report", "GET", query(), None, 200, "", 1, "ATTAQUE GABI 3"),
    ("utf-8 hausa hooked letters", "GET", query(text=HAUSA.encode()), None, 200, "", 1, HAUSA),
    ("ucs-2 hausa hooked letters", "GET", query(**UCS2), None, 200, "", 1, HAUSA),
    ("ucs-2 without a charset", "GET", query(**{**UCS2, "charset": ""}), None, 200, "", 1, HAUSA),
    ("ucs-2 named UCS-2", "GET", query(**{**UCS2, "charset": "UCS-2"}), None, 200, "", 1, HAUSA),
    ("latin-1", "GET", query(text="fum\xe9e".encode("latin-1"), charset="ISO-8859-1"), None, 200, "", 1, "fumée"),
    ("post form", "POST", "", query(text=HAUSA.encode()).encode(), 200, "", 1, HAUSA),
    ("no time: received now", "GET", query(drop="time"), None, 200, "", 1, None),
    ("empty text", "GET", query(text=""), None, 200, "", 1, ""),
    ("missing id", "GET", query(drop="id"), None, 400, "field 'id' required", 0, None),
    ("missing from", "GET", query(drop="from"), None, 400, "field 'from' required", 0, None),
    ("missing to", "GET", query(drop="to"), None, 400, "field 'to' required", 0, None),
    ("missing text", "GET", query(drop="text"), None, 400, "field 'text' required", 0, None),
    ("8-bit data", "GET", query(coding="1"), None, 400, "field 'coding' '1' is 8-bit data", 0, None),
    ("unknown coding", "GET", query(coding="7"), None, 400, "field 'coding' '7'", 0, None),
    ("unknown charset", "GET", query(charset="EBCDIC-US"), None, 400, "field 'charset' 'EBCDIC-US' is not accepted",
     0, None),
    ("text not utf-8", "GET", query(text=b"\xff\xfeok"), None, 400, "field 'text' is not valid UTF-8", 0, None),
    ("ucs-2 of odd length", "GET", query(**{**UCS2, "text": b"\x00S\x02"}), None, 400,
     "field 'text' is not valid UTF-16BE", 0, None),
    ("nul in text", "GET", query(text=b"ok\x00"), None, 400, "field 'text' contains a NUL", 0, None),
    ("bad time", "GET", query(time="yesterday"), None, 400, "field 'time' is not Unix seconds", 0, None),
    ("not a phone number", "GET", query(**{"from": "orange"}), None, 400, "field 'from' is not a usable phone", 0,
     None),
    ("id too long", "GET", query(id="x" * 101), None, 400, "field 'id' longer than 100", 0, None),
    ("id not utf-8", "GET", query(id=b"\xff"), None, 400, "field 'id' is not valid UTF-8", 0, None),
    ("json body", "POST", "", b'{"id": "1"}', 400, "application/x-www-form-urlencoded", 0, None),
]


@pytest.mark.parametrize(("label", "method", "raw_query", "body", "status", "fragment", "messages", "text"),
                         SMS_CASES, ids=[case[0] for case in SMS_CASES])
async def test_sms_wire(db_url, label, method, raw_query, body, status, fragment, messages, text) -> None:
    async with running_gateway(make_settings(db_url), clock=CLOCK) as client:
        headers = {"Content-Type": "application/json" if label == "json body"
                   else "application/x-www-form-urlencoded"} if body is not None else {}
        response = await client.request(method, f"/callbacks/kannel/sms?{raw_query}", data=body, headers=headers)
        answer = await response.text()
        assert response.status == status, answer
        if status == 200:
            assert answer == "", "a 200 with a body would be sent to the phone by Kannel (omit-empty)"
        assert fragment in answer
        assert await count(client, select(func.count()).select_from(Message)
                           .where(Message.provider == "kannel")) == messages
        if text is not None:
            assert await count(client, select(func.count()).select_from(Message).where(Message.text == text)) == 1


async def test_a_retried_message_is_stored_once_and_answered_empty(db_url) -> None:
    async with running_gateway(make_settings(db_url), clock=CLOCK) as client:
        for _ in range(3):  # smsbox retries a call that failed or timed out
            response = await client.get(f"/callbacks/kannel/sms?{query(**UCS2)}")
            assert (response.status, await response.text()) == (200, "")
        assert await count(client, select(func.count()).select_from(Message).where(
            Message.external_id == "0b7f6c1e-2d7a-4d55-9a1e-3f0c2b1d4e5f", Message.provider == "kannel")) == 1


async def test_token_is_required(db_url) -> None:
    settings = make_settings(db_url, callbacks={"token": "kannel-callback-token-0123"})
    async with running_gateway(settings, clock=CLOCK) as client:
        for path in ("sms", "delivery"):
            refused = await client.get(f"/callbacks/kannel/{path}?{query()}&outbox=1&status=1")
            assert refused.status == 403 and "token" in await refused.text()
        accepted = await client.get(f"/callbacks/kannel/sms?token=kannel-callback-token-0123&{query()}")
        assert (accepted.status, await accepted.text()) == (200, "")
        assert await count(client, select(func.count()).select_from(Message)) == 1


# label, method, query, status, body fragment, delivery events stored, status word stored
DELIVERY_CASES = [
    ("delivered", "GET", "outbox=17&status=1", 200, "ok", 1, "Delivered"),
    ("undeliverable", "GET", "outbox=17&status=2", 200, "ok", 1, "Failed"),
    ("buffered", "GET", "outbox=17&status=4", 200, "ok", 1, "Buffered"),
    ("smsc accepted", "GET", "outbox=17&status=8", 200, "ok", 1, "Submitted"),
    ("smsc rejected", "GET", "outbox=17&status=16", 200, "ok", 1, "Rejected"),
    ("unknown type", "GET", "outbox=17&status=64", 200, "ok", 1, "64"),
    ("post form", "POST", "outbox=17&status=1", 200, "ok", 1, "Delivered"),
    ("missing outbox", "GET", "status=1", 400, "field 'outbox' required", 0, None),
    ("outbox not a number", "GET", "outbox=abc&status=1", 400, "field 'outbox' is not an outbox id", 0, None),
    ("missing status", "GET", "outbox=17", 400, "field 'status' required", 0, None),
    ("unexpanded status", "GET", "outbox=17&status=%25d", 200, "ok", 1, "%d"),
]


@pytest.mark.parametrize(("label", "method", "raw_query", "status", "fragment", "events", "word"),
                         DELIVERY_CASES, ids=[case[0] for case in DELIVERY_CASES])
async def test_delivery_wire(db_url, caplog, label, method, raw_query, status, fragment, events, word) -> None:
    caplog.set_level(logging.WARNING)
    async with running_gateway(make_settings(db_url), clock=CLOCK) as client:
        if method == "POST":
            response = await client.post("/callbacks/kannel/delivery", data=raw_query.encode(),
                                         headers={"Content-Type": "application/x-www-form-urlencoded"})
        else:
            response = await client.get(f"/callbacks/kannel/delivery?{raw_query}")
        assert response.status == status, await response.text()
        assert fragment in await response.text()
        assert await count(client, select(func.count()).select_from(DeliveryEvent)) == events
        if word is not None:
            assert await count(client, select(func.count()).select_from(DeliveryEvent).where(
                DeliveryEvent.provider_message_id == "kannel-17", DeliveryEvent.status == word)) == 1
        if label == "unknown type":
            assert "unknown type '64'" in caplog.text


async def test_a_delivery_report_updates_its_outbox_row_once(db_url) -> None:
    async with running_gateway(make_settings(db_url), clock=CLOCK) as client:
        stored = await client.get(f"/callbacks/kannel/sms?{query()}")  # a report: its confirmation is queued
        assert stored.status == 200
        await settle(client)
        async with client.app[RUNTIME].sessions() as session, session.begin():
            row = (await session.execute(select(Outbox).where(Outbox.kind == "reply"))).scalar_one()
            row.provider_message_id = f"kannel-{row.id}"  # as KannelSender records a sent SMS
            outbox_id = row.id
        for _ in range(2):  # smsbox retries a dlr-url call
            answer = await client.get(f"/callbacks/kannel/delivery?outbox={outbox_id}&status=1")
            assert (answer.status, await answer.text()) == (200, "ok")
        assert await count(client, select(func.count()).select_from(Outbox).where(
            Outbox.id == outbox_id, Outbox.delivery_status == "Delivered")) == 1
        assert await count(client, select(func.count()).select_from(DeliveryEvent)) == 1

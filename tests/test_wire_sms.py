"""Wire tests for the inbound SMS and delivery callbacks, in courier's table style:
raw urlencoded body -> status, body fragment, and what is stored."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select, update

from gateway.runtime import RUNTIME
from gateway.storage.models import DeliveryEvent, Message, Outbox, Report
from gateway.storage.outbox import OutboundSms, enqueue

TOKEN = "?token=s3cret"
FOCAL_POINT = "+22790000101"  # demo: approved focal point of Gabi, Hausa
UNKNOWN = "+22791234567"


def sms(**fields: str | None) -> str:
    form = {"from": FOCAL_POINT, "to": "3737", "text": "ATTAQUE GABI 12", "date": "2026-11-24 11:59:00",
            "id": "ATXid_1", "linkId": "lnk-1", "networkCode": "61402"}
    form.update(fields)
    return urlencode({k: v for k, v in form.items() if v is not None})


@dataclass(frozen=True)
class Case:
    label: str
    body: str | bytes
    status: int
    fragment: str
    messages: int = 0  # rows in messages afterwards
    reports: int = 0
    replies: int = 0  # rows in outbox afterwards
    query: str = TOKEN
    headers: dict = field(default_factory=dict)


SMS_CASES = [
    Case("valid report", sms(), 200, "stored: report", 1, 1, 1),
    Case("ISO date", sms(date="2026-11-24T11:59:00.123Z"), 200, "stored: report", 1, 1, 1),
    Case("date with offset", sms(date="2026-11-24T12:59:00+01:00"), 200, "stored", 1, 1, 1),
    Case("unknown text gets help", sms(text="bonjour"), 200, "stored: unknown", 1, 0, 1),
    Case("empty text is stored", sms(text=""), 200, "stored: unknown", 1, 0, 1),
    Case("command", sms(text="AIDE"), 200, "stored: command", 1, 0, 1),
    Case("unknown number: stored, unverified", sms(**{"from": UNKNOWN}), 200, "stored: report", 1, 1, 1),
    Case("national number form", sms(**{"from": "90000101"}), 200, "stored: report", 1, 1, 1),
    Case("Mali number", sms(**{"from": "+22376123456"}), 200, "stored", 1, 1, 1),
    Case("SQL-looking text kept verbatim", sms(text="ATTAQUE GABI'; DROP TABLE reports;--"), 200, "stored", 1, 1, 1),
    Case("missing from", sms(**{"from": None}), 400, "field 'from' required"),
    Case("missing to", sms(to=None), 400, "field 'to' required"),
    Case("missing text", sms(text=None), 400, "field 'text' required"),
    Case("missing date", sms(date=None), 400, "field 'date' required"),
    Case("missing id", sms(id=None), 400, "field 'id' required"),
    Case("empty id", sms(id=""), 400, "field 'id' is empty"),
    Case("bad phone", sms(**{"from": "hello"}), 400, "field 'from' is not a usable phone number"),
    Case("too short phone", sms(**{"from": "+2271"}), 400, "field 'from'"),
    Case("phone of an unsupported country", sms(**{"from": "+33612345678"}), 400, "unsupported country"),
    Case("bad date", sms(date="yesterday"), 400, "field 'date' is not a date"),
    Case("id longer than its column", sms(id="A" * 101), 400, "field 'id' longer than 100 characters"),
    Case("networkCode too long", sms(networkCode="0" * 17), 400, "field 'networkCode' longer than 16"),
    Case("very long name in a registration", sms(text="INSCRIPTION Gabi " + "Awa " * 60), 200, "stored: command",
         1, 0, 1),
    Case("NUL in text", sms(text="ATTAQUE\x00"), 400, "field 'text' contains a NUL"),
    Case("missing token", sms(), 403, "wrong or missing token", query=""),
    Case("wrong token", sms(), 403, "wrong or missing token", query="?token=guess"),
    Case("oversize body", sms(text="A" * 9000), 413, "larger than"),
    Case("body not UTF-8", b"from=\xff\xfe&text=x", 400, "body is not a valid form"),
    Case("garbage as phone", sms(**{"from": "%FF%FE"}), 400, "field 'from' is not a usable"),
    Case("JSON instead of a form", '{"from": "+22790000101"}', 400, "field 'from' required",
         headers={"Content-Type": "application/json"}),
]


async def counts(client) -> tuple[int, int, int]:  # noqa: ANN001
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session:
        return tuple([
            (await session.execute(select(func.count()).select_from(model))).scalar_one()
            for model in (Message, Report)
        ] + [(await session.execute(
            select(func.count()).select_from(Outbox).where(Outbox.kind == "reply"))).scalar_one()])


@pytest.mark.parametrize("case", SMS_CASES, ids=lambda c: c.label)
async def test_inbound_sms_wire(gateway, case: Case) -> None:
    headers = {"Content-Type": "application/x-www-form-urlencoded", **case.headers}
    response = await gateway.post("/callbacks/at/sms" + case.query, data=case.body, headers=headers)
    assert response.status == case.status
    assert case.fragment in await response.text()
    assert response.content_type == "text/plain"
    assert await counts(gateway) == (case.messages, case.reports, case.replies)


async def test_duplicate_callback_is_stored_and_answered_once(gateway) -> None:  # noqa: ANN001
    for _ in range(3):
        response = await gateway.post("/callbacks/at/sms" + TOKEN, data=sms(id="ATXid_dup"),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 200
    assert "duplicate" in await response.text()
    assert await counts(gateway) == (1, 1, 1)


async def test_same_id_on_concurrent_callbacks_stored_once(gateway) -> None:  # noqa: ANN001
    import asyncio

    responses = await asyncio.gather(*[
        gateway.post("/callbacks/at/sms" + TOKEN, data=sms(id="ATXid_race"),
                     headers={"Content-Type": "application/x-www-form-urlencoded"}) for _ in range(20)
    ])
    assert [r.status for r in responses] == [200] * 20
    assert await counts(gateway) == (1, 1, 1)


async def test_stored_message_keeps_the_provider_fields(gateway) -> None:  # noqa: ANN001
    await gateway.post("/callbacks/at/sms" + TOKEN, data=sms(text="sace guidan sori uku", id="ATXid_9"),
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        message = (await session.execute(select(Message))).scalar_one()
        report = (await session.execute(select(Report))).scalar_one()
    assert (message.external_id, message.sender, message.short_code, message.link_id, message.network_code) == \
        ("ATXid_9", FOCAL_POINT, "3737", "lnk-1", "61402")
    assert message.text == "sace guidan sori uku"
    assert message.received_at.isoformat() == "2026-11-24T11:59:00+00:00"
    assert (report.incident, report.commune_pcode, report.count, report.trust) == \
        ("kidnapping", "NE004005003", 3, "approved")


def delivery(**fields: str | None) -> str:
    form = {"id": "ATXid_out1", "status": "Success", "phoneNumber": FOCAL_POINT, "networkCode": "61402",
            "failureReason": "", "retryCount": "0"}
    form.update(fields)
    return urlencode({k: v for k, v in form.items() if v is not None})


DELIVERY_STATUSES = ["Sent", "Submitted", "Buffered", "Success", "Rejected", "Failed", "AbsentSubscriber",
                     "Expired", "SomethingNew"]
DELIVERY_CASES = [
    *[Case(f"status {s}", delivery(status=s), 200, "ok", messages=1) for s in DELIVERY_STATUSES],
    Case("failure reason", delivery(status="Failed", failureReason="InsufficientCredit"), 200, "ok", messages=1),
    Case("missing id", delivery(id=None), 400, "field 'id' required"),
    Case("missing status", delivery(status=None), 400, "field 'status' required"),
    Case("bad retryCount", delivery(retryCount="x"), 400, "field 'retryCount' is not a number"),
    Case("negative retryCount", delivery(retryCount="-1"), 400, "field 'retryCount' is not a number"),
    Case("huge retryCount", delivery(retryCount="2200000000"), 400, "field 'retryCount' is out of range"),
    Case("missing token", delivery(), 403, "wrong or missing token", query=""),
]


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=lambda c: c.label)
async def test_delivery_report_wire(gateway, case: Case) -> None:  # noqa: ANN001
    response = await gateway.post("/callbacks/at/delivery" + case.query, data=case.body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == case.status
    assert case.fragment in await response.text()
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(DeliveryEvent))).scalar_one()
    assert stored == case.messages


async def test_delivery_report_updates_the_outbox_row_once(gateway) -> None:  # noqa: ANN001
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        [row_id] = await enqueue(session, [OutboundSms("test:1", "reply", FOCAL_POINT, "Recu R7K2")], runtime.clock())
        await session.execute(update(Outbox).where(Outbox.id == row_id).values(
            status="sent", provider_message_id="ATXid_reply"))
    for _ in range(2):
        response = await gateway.post("/callbacks/at/delivery" + TOKEN, data=delivery(id="ATXid_reply"),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 200
    async with runtime.sessions() as session:
        row = (await session.execute(select(Outbox).where(Outbox.kind == "reply"))).scalar_one()
        events = (await session.execute(select(func.count()).select_from(DeliveryEvent))).scalar_one()
    assert row.delivery_status == "Success"
    assert events == 1

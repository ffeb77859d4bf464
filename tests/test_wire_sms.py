"""Wire tests for the inbound SMS and delivery callbacks, in courier's table style:
raw urlencoded body -> status, body fragment, and what is stored."""

from __future__ import annotations

import asyncio
import sqlite3
from dataclasses import dataclass, field, replace
from urllib.parse import parse_qsl, urlencode

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError

from gateway.dashboard.queries import review_queue
from gateway.parser.result import ParseResult
from gateway.runtime import RUNTIME
from gateway.sms import ingest, replies
from gateway.storage.errors import database_unavailable
from gateway.storage.models import Alert, DeliveryEvent, Message, Outbox, Report, Reporter
from gateway.storage.outbox import OutboundSms, enqueue
from tests.support.callbacks import FOCAL_POINT, TOKEN, sms
from tests.support.gateway import running_gateway

UNKNOWN = "+22791234567"


MULTIPART = {"Content-Type": "multipart/form-data; boundary=zz"}


def multipart(text: bytes, content_type: bytes | None = None, name: bytes = b"text") -> bytes:
    """sms()'s fields as multipart/form-data parts, then a part `name` holding `text` (the last of
    two parts with one name is the field's value)."""
    fields = [(key.encode(), value.encode(), None) for key, value in parse_qsl(sms())]
    body = b""
    for key, value, part_type in [*fields, (name, text, content_type)]:
        body += b'--zz\r\nContent-Disposition: form-data; name="' + key + b'"\r\n'
        body += (b"Content-Type: " + part_type + b"\r\n" if part_type else b"") + b"\r\n" + value + b"\r\n"
    return body + b"--zz--\r\n"


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
    # A valid number of a country outside gateway.accepted_regions is kept for review: no report, no reply.
    Case("number of a country outside accepted_regions", sms(**{"from": "+33612345678"}), 200,
         "stored: kept for review", 1, 0, 0),
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
    # Charsets: UTF-8 and Latin-1 only. unicode_escape turned "\ud800" into a lone surrogate: a 500.
    Case("charset unicode_escape with a lone surrogate", sms(text="\\ud800"), 400,
         "charset 'unicode_escape' is not accepted: send UTF-8 or Latin-1",
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=unicode_escape"}),
    Case("charset raw_unicode_escape", sms(text="\\ud800"), 400, "charset 'raw_unicode_escape' is not accepted",
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=raw_unicode_escape"}),
    Case("charset utf-16", sms(), 400, "charset 'utf-16' is not accepted",
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-16"}),
    Case("unknown charset", sms(), 400, "charset 'bogus' is not accepted",
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=bogus"}),
    Case("charset utf-8 declared", sms(), 200, "stored: report", 1, 1, 1,
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=UTF-8"}),
    Case("charset iso-8859-1 declared", sms("latin-1", text="ATTAQUE GABI 12 d\xe9j\xe0"), 200, "stored: report", 1, 1,
         1, headers={"Content-Type": "application/x-www-form-urlencoded; charset=iso-8859-1"}),
    Case("multipart form", multipart(b"ATTAQUE GABI 12"), 200, "stored: report", 1, 1, 1, headers=MULTIPART),
    Case("multipart text part in unicode_escape", multipart(b"\\ud800", b"text/plain; charset=unicode_escape"), 400,
         "a field's charset 'unicode_escape' is not accepted", headers=MULTIPART),
    Case("multipart field name not UTF-8", multipart(b"x", name=b"note\xff"), 400, "a field name is not valid UTF-8",
         headers=MULTIPART),
    Case("date offset out of range", sms(date="0001-01-01T00:00:00+01:00"), 400, "field 'date' is not a date"),
]

# RapidPro courier's Africa's Talking receive cases (handlers/africastalking), replayed: valid
# numbers from Kenya, kept for review here (Kenya is not an accepted region), never refused.
COURIER_AT = "from=%2B254791541111&to=2020&text=Msg&date=2017-05-03T06%3A04%3A45Z&id=ATXid_dda018a640edfcde5b7a60ac9ecc3da1"
COURIER_AT_NOW = ("linkId=03090445075804249226&text=Msg&to=21512&id=ec9adc86-51d5-4bc8-8eb0-d8ab0bb53dc3"
                  "&date={date}&from=%2B254791541111")
SMS_CASES += [
    Case("courier AT: receive valid", COURIER_AT, 200, "stored: kept for review", 1, 0, 0),
    Case("courier AT: receive valid with linkId", COURIER_AT + "&linkId=03090445075804249226", 200,
         "stored: kept for review", 1, 0, 0),
    Case("courier AT: receive valid (incoming.json)", COURIER_AT_NOW.format(date="2017-05-03T06%3A04%3A45Z"), 200,
         "stored: kept for review", 1, 0, 0),
    Case("courier AT: alt date format", COURIER_AT_NOW.format(date="2017-05-03+06%3A04%3A45"), 200,
         "stored: kept for review", 1, 0, 0),
    Case("courier AT: receive empty", "empty", 400, "field 'from' required"),
    Case("courier AT: missing text", COURIER_AT.replace("&text=Msg", ""), 400, "field 'text' required"),
    Case("courier AT: invalid URN", COURIER_AT.replace("%2B254791541111", "MTN"), 400,
         "field 'from' is not a usable phone number"),
]


async def counts(client) -> tuple[int, int, int]:
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


async def test_duplicate_callback_is_stored_and_answered_once(gateway) -> None:
    for _ in range(3):
        response = await gateway.post("/callbacks/at/sms" + TOKEN, data=sms(id="ATXid_dup"),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 200
    assert "duplicate" in await response.text()
    assert await counts(gateway) == (1, 1, 1)


async def test_same_id_on_concurrent_callbacks_stored_once(gateway) -> None:
    import asyncio

    responses = await asyncio.gather(*[
        gateway.post("/callbacks/at/sms" + TOKEN, data=sms(id="ATXid_race"),
                     headers={"Content-Type": "application/x-www-form-urlencoded"}) for _ in range(20)
    ])
    assert [r.status for r in responses] == [200] * 20
    assert await counts(gateway) == (1, 1, 1)


async def test_stored_message_keeps_the_provider_fields(gateway) -> None:
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


def parse_raising(client, text: str, exc: Exception) -> None:
    """The running gateway's parser raises `exc` for `text`; other texts are parsed as usual."""
    ctx = client.server.app[RUNTIME].ingest_ctx
    parse = ctx.parse

    def parse_or_raise(body: str, lang: str | None, home: str | None) -> ParseResult:
        if body == text:
            raise exc
        return parse(body, lang, home)

    ctx.parse = parse_or_raise


async def post_sms(client, **fields: str) -> tuple[int, str]:
    response = await client.post("/callbacks/at/sms" + TOKEN, data=sms(**fields),
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
    return response.status, await response.text()


async def message_by_id(client, external_id: str) -> Message:
    async with client.server.app[RUNTIME].sessions() as session:
        return (await session.execute(select(Message).where(Message.external_id == external_id))).scalar_one()


async def in_review_queue(client, message_id: int) -> bool:
    runtime = client.server.app[RUNTIME]
    async with runtime.sessions() as session:
        return message_id in {item.message_id for item in await review_queue(session, runtime.pseudonym_secret)}


async def test_a_message_whose_understanding_raises_is_stored_for_review(gateway, caplog) -> None:
    text = "ATTAQUE GABI 12 boum"
    parse_raising(gateway, text, ValueError(f"cannot read the text of {FOCAL_POINT}"))
    assert await post_sms(gateway, text=text, id="ATXid_boom") == (200, "stored: kept for review")
    assert await counts(gateway) == (1, 0, 0)  # the message, no report, no reply
    message = await message_by_id(gateway, "ATXid_boom")
    assert (message.text, message.sender, message.kind, message.reply_status) == (text, FOCAL_POINT, "unknown", "none")
    assert message.error == "not understood: ValueError raised while handling it"
    assert await in_review_queue(gateway, message.id)
    assert "ATXid_boom" in caplog.text and "ValueError" in caplog.text
    assert FOCAL_POINT[4:] not in caplog.text  # the exception's text (with the number) is never logged
    # The provider's retry finds it stored.
    assert await post_sms(gateway, text=text, id="ATXid_boom") == (200, "duplicate: already stored")
    assert await counts(gateway) == (1, 0, 0)


async def test_the_rest_of_a_batch_is_stored_as_usual_when_one_message_raises(gateway) -> None:
    parse_raising(gateway, "PANNE", RuntimeError("parser bug"))
    texts = ["ATTAQUE GABI 12", "attaque tera 3", "PANNE", "AIDE", "enlevement gabi 2", "bonjour"]
    answers = await asyncio.gather(*(post_sms(gateway, text=text, id=f"ATXid_b{n}", **{"from": f"+2279111200{n}"})
                                     for n, text in enumerate(texts)))
    assert answers == [(200, "stored: report"), (200, "stored: report"), (200, "stored: kept for review"),
                       (200, "stored: command"), (200, "stored: report"), (200, "stored: unknown")]
    assert await counts(gateway) == (6, 3, 5)


async def test_a_constraint_error_of_one_message_stores_it_for_review_not_a_503(gateway) -> None:
    """A report naming a commune the gazetteer's table lacks breaks a foreign key: that error belongs
    to the message (every retry would meet it), so it is kept for review, not answered 503."""
    ctx = gateway.server.app[RUNTIME].ingest_ctx
    parse = ctx.parse
    ctx.parse = lambda text, lang, home: (ParseResult("report", incident="attack", commune="NE999999999", lang="fr")
                                          if text == "ATTAQUE NULLE PART" else parse(text, lang, home))
    answers = await asyncio.gather(post_sms(gateway, text="ATTAQUE NULLE PART", id="ATXid_fk"),
                                   post_sms(gateway, id="ATXid_ok", **{"from": UNKNOWN}))
    assert answers == [(200, "stored: kept for review"), (200, "stored: report")]
    message = await message_by_id(gateway, "ATXid_fk")
    assert message.error == "not understood: IntegrityError raised while handling it"
    assert await in_review_queue(gateway, message.id)
    assert await counts(gateway) == (2, 1, 1)


async def test_a_message_the_database_refuses_even_raw_is_a_400(gateway, monkeypatch) -> None:
    async def refuse(*_args, **_kwargs):
        raise IntegrityError("INSERT INTO messages ...", None, Exception("refused"))

    parse_raising(gateway, "ATTAQUE GABI 12", ValueError("parser bug"))
    monkeypatch.setattr(ingest, "keep_for_review", refuse)
    assert await post_sms(gateway) == (400, "the message could not be stored (IntegrityError)")


class _PgError(Exception):
    def __init__(self, sqlstate: str):
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(("error", "unavailable"), [
    (OperationalError("x", None, sqlite3.OperationalError("database is locked")), True),
    (OperationalError("x", None, sqlite3.OperationalError("attempt to write a readonly database")), True),
    (DBAPIError("x", None, _PgError("08006")), True),  # connection failure
    (DBAPIError("x", None, _PgError("53100")), True),  # disk full
    (DBAPIError("x", None, _PgError("25006")), True),  # read-only transaction (a standby)
    (DBAPIError("x", None, _PgError("40001")), True),  # serialization failure: a retry succeeds
    (ConnectionRefusedError(), True),
    (TimeoutError(), True),
    (IntegrityError("x", None, sqlite3.IntegrityError("FOREIGN KEY constraint failed")), False),
    (DBAPIError("x", None, _PgError("23505")), False),  # unique violation
    (DataError("x", None, _PgError("22001")), False),  # value too long for its column
    (DBAPIError("x", None, _PgError("22021")), False),  # bad byte sequence
    (ValueError("parser bug"), False),
    (UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed"), False),
])
def test_only_operational_database_errors_mean_unavailable(error: Exception, unavailable: bool) -> None:
    assert database_unavailable(error) is unavailable


KENYAN = "+254791541111"  # courier's test number


async def test_courier_receive_from_kenya_is_stored_as_sent(gateway) -> None:
    response = await gateway.post("/callbacks/at/sms" + TOKEN, data=COURIER_AT + "&linkId=03090445075804249226",
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status, await response.text()) == (200, "stored: kept for review")
    message = await message_by_id(gateway, "ATXid_dda018a640edfcde5b7a60ac9ecc3da1")
    assert (message.sender, message.short_code, message.text, message.link_id) == (KENYAN, "2020", "Msg",
                                                                                  "03090445075804249226")
    assert message.received_at.isoformat() == "2017-05-03T06:04:45+00:00"
    assert (message.kind, message.reply_status) == ("unknown", "none")
    assert message.error == "sender's country (KE) is outside gateway.accepted_regions"
    assert await in_review_queue(gateway, message.id)


async def test_a_foreign_number_never_raises_an_alert(gateway) -> None:
    """Not even an approved reporter's row makes a foreign number's report count: it is kept for
    review and scored nowhere. The same text from the commune's approved focal point alerts."""
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        session.add(Reporter(phone=KENYAN, name="Abroad", commune_pcode="NE004006003", lang="fr", status="approved",
                             created_at=runtime.clock()))
    senders = [KENYAN, "+254791541112", "+254791541113", "+33612345678"]
    answers = [await post_sms(gateway, text="ATTAQUE GABI 100", id=f"ATXid_f{n}", **{"from": sender})
               for n, sender in enumerate(senders)]
    assert answers == [(200, "stored: kept for review")] * len(senders)

    async def alerts() -> int:
        await runtime.score_once()
        async with runtime.sessions() as session:
            return (await session.execute(select(func.count()).select_from(Alert))).scalar_one()

    assert await alerts() == 0
    assert await counts(gateway) == (4, 0, 0)
    assert await post_sms(gateway, text="ATTAQUE GABI 100", id="ATXid_local") == (200, "stored: report")
    assert await alerts() == 1


async def test_a_foreign_number_gets_a_reply_only_when_configured(settings, clock) -> None:
    answering = replace(settings, gateway=replace(settings.gateway, reply_to_foreign=True))
    async with running_gateway(answering, clock) as client:
        assert await post_sms(client, text="bonjour", **{"from": KENYAN}) == (200, "stored: kept for review")
        runtime = client.server.app[RUNTIME]
        async with runtime.sessions() as session:
            reply = (await session.execute(select(Outbox).where(Outbox.kind == "reply"))).scalar_one()
        assert (reply.recipient, reply.body) == (KENYAN, replies.text("fr", replies.HELP))
        assert (await message_by_id(client, "ATXid_1")).reply_status == "queued"


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
    Case("charset unicode_escape with a lone surrogate", delivery(failureReason="\\ud800"), 400,
         "body charset 'unicode_escape' is not accepted: send UTF-8 or Latin-1",
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=unicode_escape"}),
    Case("charset utf-16", delivery(), 400, "body charset 'utf-16' is not accepted",
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-16"}),
    Case("charset latin-1", delivery(), 200, "ok", messages=1,
         headers={"Content-Type": "application/x-www-form-urlencoded; charset=latin-1"}),
]


@pytest.mark.parametrize("case", DELIVERY_CASES, ids=lambda c: c.label)
async def test_delivery_report_wire(gateway, case: Case) -> None:
    response = await gateway.post("/callbacks/at/delivery" + case.query, data=case.body,
                                  headers={"Content-Type": "application/x-www-form-urlencoded", **case.headers})
    assert response.status == case.status
    assert case.fragment in await response.text()
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session:
        stored = (await session.execute(select(func.count()).select_from(DeliveryEvent))).scalar_one()
    assert stored == case.messages


async def test_a_delivery_report_the_database_refuses_for_itself_is_a_400_not_a_503(gateway, monkeypatch) -> None:
    from gateway.views import callbacks

    async def refuse(*_args, **_kwargs):
        raise DataError("INSERT INTO delivery_events ...", None, Exception("value too long"))

    monkeypatch.setattr(callbacks, "record_delivery", refuse)
    response = await gateway.post("/callbacks/at/delivery" + TOKEN, data=delivery(),
                                  headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (response.status, await response.text()) == (400, "delivery report could not be stored (DataError)")


async def test_delivery_report_updates_the_outbox_row_once(gateway) -> None:
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


async def test_an_in_flight_report_never_overwrites_a_final_one(gateway) -> None:
    """A network may send "Submitted" and the handset's receipt together, in either order."""
    runtime = gateway.server.app[RUNTIME]
    async with runtime.sessions() as session, session.begin():
        [row_id] = await enqueue(session, [OutboundSms("test:2", "reply", FOCAL_POINT, "Recu R7K3")], runtime.clock())
        await session.execute(update(Outbox).where(Outbox.id == row_id).values(
            status="sent", provider_message_id="ATXid_both"))
    for status in ("Success", "Submitted"):
        response = await gateway.post("/callbacks/at/delivery" + TOKEN, data=delivery(id="ATXid_both", status=status),
                                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert response.status == 200
    async with runtime.sessions() as session:
        row = (await session.execute(select(Outbox).where(Outbox.id == row_id))).scalar_one()
    assert row.delivery_status == "Success"

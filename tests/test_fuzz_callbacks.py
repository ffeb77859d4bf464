"""Hostile input: every callback fuzzed (hypothesis) with random fields, encodings, lengths and
control characters. Never a 500, and nothing half-stored: after every example, each message has
its outcome, each report its message, each queued reply its outbox row, each USSD report its
session; an SMS answered "stored" is stored verbatim."""

from __future__ import annotations

import string
from urllib.parse import quote_from_bytes, urlencode

import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from gateway.runtime import RUNTIME
from gateway.sms.followup import ask_key
from gateway.storage.models import Message, Outbox, Report, UssdSession

FIELDS = {
    "/callbacks/at/sms": ("from", "to", "text", "date", "id", "linkId", "networkCode"),
    "/callbacks/at/delivery": ("id", "status", "phoneNumber", "networkCode", "failureReason", "retryCount"),
    "/callbacks/at/ussd": ("sessionId", "serviceCode", "phoneNumber", "networkCode", "text"),
    "/callbacks/at/ussd/events": ("sessionId", "phoneNumber", "status", "input", "durationInMillis",
                                  "errorMessage", "date"),
}
ALLOWED = {"/callbacks/at/sms": {200, 400, 413}, "/callbacks/at/delivery": {200, 400, 413},
           "/callbacks/at/ussd": {200, 400, 413}, "/callbacks/at/ussd/events": {200, 400, 413}}

# Anything a phone network or an attacker might put in a field.
any_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=60)
control_text = st.text(st.characters(max_codepoint=0x1F) | st.sampled_from("\x7f\u200b\u202e\ufeff\u00a0"),
                       max_size=20)
sql_text = st.sampled_from(["' OR 1=1 --", "ATTAQUE GABI'; DROP TABLE messages;--", "1); DELETE FROM reports; --",
                            "\\x00", "%00", "${jndi:ldap://x}", "<script>alert(1)</script>", "*384*1#"])
phone_like = st.sampled_from(["+22790000101", "+22791234567", "0022790000102", "90000103", "+2279", "+1",
                              "+22796000201", "abc", "", " ", "+227 90 12 34 56", "+33612345678"])
date_like = st.sampled_from(["2026-11-24 17:10:25", "2026-11-24T17:10:25.123Z", "2026-13-45 99:99:99",
                             "yesterday", "", "0", "9999-12-31 23:59:59", "2026-11-24 17:10:25+14:00"])
menu_like = st.sampled_from(["", "1", "1*1", "1*2*3", "1*1*GABI*12*1", "1*1*GABI*12*1*1", "9*9*9", "*", "**",
                             "0", "00", "1*" * 50])
long_text = st.integers(1990, 2100).map(lambda n: "A" * n)
field_value = st.one_of(any_text, control_text, sql_text, phone_like, date_like, menu_like, long_text,
                        st.text(string.digits, max_size=12), st.just(" ATTAQUE GABI 12 "))


VALID = {
    "/callbacks/at/sms": {"from": "+22791234567", "to": "3737", "text": "ATTAQUE GABI 12",
                          "date": "2026-11-24 11:59:00", "id": "", "linkId": "L1", "networkCode": "61402"},
    "/callbacks/at/delivery": {"id": "ATXid_1", "status": "Success", "phoneNumber": "+22790000101",
                               "networkCode": "61402", "failureReason": "", "retryCount": "0"},
    "/callbacks/at/ussd": {"sessionId": "", "serviceCode": "*384*3737#", "phoneNumber": "+22791234567",
                           "networkCode": "61402", "text": ""},
    "/callbacks/at/ussd/events": {"sessionId": "", "phoneNumber": "+22791234567", "status": "Success",
                                  "input": "1*1", "durationInMillis": "1200", "errorMessage": "",
                                  "date": "2026-11-24 11:59:00"},
}
ALWAYS_FUZZED = {"/callbacks/at/sms": "text", "/callbacks/at/ussd": "text"}


@st.composite
def forms(draw, endpoint: str) -> dict[str, str]:
    """A valid form with some fields dropped or replaced, so that both refusals and stored
    messages are exercised; plus stray fields."""
    form = dict(VALID[endpoint])
    for name in ("id", "sessionId"):
        if name in form and not form[name]:
            form[name] = draw(st.uuids()).hex
    if endpoint in ALWAYS_FUZZED:
        form[ALWAYS_FUZZED[endpoint]] = draw(st.one_of(field_value, menu_like))
    # Every example replaces at least one field: each is hit about max_examples / len(fields) times
    # (a bad date reaching the database as a 500 went unnoticed when fields were fuzzed only by chance).
    form[draw(st.sampled_from(FIELDS[endpoint]))] = draw(field_value)
    for name in draw(st.lists(st.sampled_from(FIELDS[endpoint]), unique=True, max_size=3)):
        if draw(st.booleans()):
            form.pop(name, None)
        else:
            form[name] = draw(field_value)
    for _ in range(draw(st.integers(0, 2))):
        form[draw(st.text(string.ascii_letters + "[]._-", min_size=1, max_size=12))] = draw(any_text)
    return form


@st.composite
def raw_bodies(draw) -> tuple[bytes, str]:
    """A body that is not a clean UTF-8 form: random bytes, odd charsets, broken escapes."""
    body = draw(st.one_of(
        st.binary(max_size=300),
        st.builds(lambda b: b"from=%2B22790000101&to=3737&id=x&date=2026-11-24+17%3A10%3A25&text=" + b, st.binary(max_size=80)),
        st.builds(lambda b: ("text=" + quote_from_bytes(b)).encode(), st.binary(max_size=80)),
        st.just(b"text=%E9%ZZ%&&=&=="),
    ))
    content_type = draw(st.sampled_from([
        "application/x-www-form-urlencoded", "application/x-www-form-urlencoded; charset=latin-1",
        "application/x-www-form-urlencoded; charset=utf-16", "application/x-www-form-urlencoded; charset=bogus",
        "multipart/form-data; boundary=zzz", "text/plain", "application/json",
        *(f"application/x-www-form-urlencoded; charset={name}" for name in REFUSED_CHARSETS),
    ]))
    return body, content_type


# Charsets a provider might declare: only UTF-8 and Latin-1 (ASCII is both) are read. The escape
# codecs turn "\ud800" into a lone surrogate, which no database stores (it was a 500).
ACCEPTED_CHARSETS = ["utf-8", "UTF-8", "utf8", "iso-8859-1", "ISO-8859-1", "latin-1", "latin1", "us-ascii"]
REFUSED_CHARSETS = ["unicode_escape", "raw_unicode_escape", "utf-16", "utf-16-le", "utf-32", "utf-7", "cp1252",
                    "koi8-r", "shift_jis", "idna", "rot13", "bogus"]
lone_surrogate = st.integers(0xD800, 0xDFFF).map(lambda code: f"\\u{code:04x}")  # as unicode_escape writes it
latin1_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=40)


@st.composite
def escaped_forms(draw, endpoint: str) -> str:
    """A form with a lone surrogate, escaped, in one of its fields (or all of it)."""
    form = draw(forms(endpoint))
    name = draw(st.sampled_from(FIELDS[endpoint]))
    form[name] = draw(st.sampled_from(["", form.get(name, "")])) + draw(lone_surrogate)
    return urlencode(form)


def multipart_body(form: dict[str, str], charset: str, encoding: str) -> bytes:
    """`form` as multipart/form-data (boundary zzz), each part declaring `charset`, encoded in `encoding`."""
    body = b""
    for name, value in form.items():
        body += (f'--zzz\r\nContent-Disposition: form-data; name="{name}"\r\n'
                 f"Content-Type: text/plain; charset={charset}\r\n\r\n").encode("ascii", "replace")
        body += value.encode(encoding, "replace") + b"\r\n"
    return body + b"--zzz--\r\n"


async def assert_nothing_half_stored(client: TestClient) -> None:
    async with client.app[RUNTIME].sessions() as session:
        async def count(statement) -> int:
            return int((await session.execute(statement)).scalar_one())

        without_outcome = await count(select(func.count()).select_from(Message).where(
            (Message.reply_status.is_(None) & (Message.channel == "sms")) | Message.kind.not_in(
                ("report", "command", "unknown"))))
        reports_without_message = await count(select(func.count()).select_from(Report).outerjoin(
            Message, Message.id == Report.message_id).where(Message.id.is_(None)))
        report_messages_without_report = await count(select(func.count()).select_from(Message).outerjoin(
            Report, Report.message_id == Message.id).where(Message.kind == "report", Report.id.is_(None)))
        # A queued reply is an outbox row keyed by its message: a reply, or a question asking for the place
        # or the incident.
        queued = (await session.execute(select(Message.id).where(Message.reply_status == "queued"))).scalars()
        outbox_keys = set((await session.execute(select(Outbox.dedup_key))).scalars())
        queued_without_outbox = sum(1 for message_id in queued if outbox_keys.isdisjoint(
            (f"reply:{message_id}", ask_key(message_id), ask_key(message_id, what=True))))
        ussd_reports_without_session = await count(select(func.count()).select_from(Report).outerjoin(
            UssdSession, UssdSession.report_id == Report.id).where(Report.channel == "ussd",
                                                                    UssdSession.session_id.is_(None)))
    assert (without_outcome, reports_without_message, report_messages_without_report, queued_without_outbox,
            ussd_reports_without_session) == (0, 0, 0, 0, 0)


async def stored_text(client: TestClient, external_id: str) -> str | None:
    async with client.app[RUNTIME].sessions() as session:
        return (await session.execute(select(Message.text).where(
            Message.channel == "sms", Message.external_id == external_id))).scalar_one_or_none()


FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.mark.parametrize("endpoint", list(FIELDS))
@FUZZ
@given(data=st.data())
async def test_random_forms_never_500_and_leave_nothing_half_stored(gateway, endpoint, data) -> None:
    form = data.draw(forms(endpoint))
    response = await gateway.post(endpoint, params={"token": "s3cret"}, data=form)
    body = await response.text()
    assert response.status in ALLOWED[endpoint], (response.status, body, form)
    if endpoint == "/callbacks/at/ussd" and response.status == 200:
        assert body.startswith(("CON ", "END ")), body
    event(f"{response.status} {body.split(':')[0][:20]}")
    if endpoint == "/callbacks/at/sms" and body.startswith("stored"):
        assert await stored_text(gateway, form["id"].strip()) == form["text"], "text not stored verbatim"
    await assert_nothing_half_stored(gateway)


@pytest.mark.parametrize("endpoint", list(FIELDS))
@FUZZ
@given(raw=raw_bodies())
async def test_raw_bodies_in_any_encoding_never_500(gateway, endpoint, raw) -> None:
    body, content_type = raw
    response = await gateway.post(endpoint, params={"token": "s3cret"}, data=body,
                                  headers={"Content-Type": content_type})
    assert response.status in ALLOWED[endpoint], (response.status, await response.text(), body, content_type)
    await assert_nothing_half_stored(gateway)


@pytest.mark.parametrize("endpoint", list(FIELDS))
@FUZZ
@given(data=st.data())
async def test_other_charsets_and_lone_surrogates_are_a_400_naming_the_charset(gateway, endpoint, data) -> None:
    charset = data.draw(st.sampled_from(REFUSED_CHARSETS))
    if data.draw(st.booleans()):
        body = data.draw(escaped_forms(endpoint)).encode()
        content_type, where = f"application/x-www-form-urlencoded; charset={charset}", "body"
    else:
        body = multipart_body(dict(VALID[endpoint], text=data.draw(lone_surrogate)), charset, "ascii")
        content_type, where = "multipart/form-data; boundary=zzz", "a field's"
    response = await gateway.post(endpoint, params={"token": "s3cret"}, data=body, headers={"Content-Type": content_type})
    assert (response.status, await response.text()) == (
        400, f"{where} charset {charset!r} is not accepted: send UTF-8 or Latin-1"), (body, content_type)
    await assert_nothing_half_stored(gateway)


@pytest.mark.parametrize("endpoint", list(FIELDS))
@FUZZ
@given(data=st.data())
async def test_utf8_and_latin1_forms_are_read_as_sent(gateway, endpoint, data) -> None:
    charset = data.draw(st.sampled_from(ACCEPTED_CHARSETS))
    encoding = "ascii" if charset == "us-ascii" else charset
    form = data.draw(forms(endpoint))
    field = ALWAYS_FUZZED.get(endpoint, "status")
    form[field] = data.draw(st.text(string.printable, max_size=40) if encoding == "ascii" else latin1_text)
    form = {name: value.encode(encoding, "replace").decode(encoding) for name, value in form.items()}
    if data.draw(st.booleans()):
        body, content_type = urlencode(form, encoding=encoding).encode(), f"application/x-www-form-urlencoded; charset={charset}"
    else:
        body, content_type = multipart_body(form, charset, encoding), "multipart/form-data; boundary=zzz"
    response = await gateway.post(endpoint, params={"token": "s3cret"}, data=body, headers={"Content-Type": content_type})
    answer = await response.text()
    assert response.status in ALLOWED[endpoint] and "charset" not in answer, (response.status, answer, body)
    if endpoint == "/callbacks/at/sms" and answer.startswith("stored"):
        assert await stored_text(gateway, form["id"].strip()) == form["text"], "text not stored as sent"
    await assert_nothing_half_stored(gateway)

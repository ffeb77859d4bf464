"""Kannel (SMPP to an operator): smsbox's sms-service in, its sendsms out, its delivery reports.

Nothing else in the code base knows Kannel's field names or codings. The sms-service calls
`/callbacks/kannel/sms` with Kannel's escapes under the names `../shared/interface.md` lists;
`text` is `%b`, the message's raw bytes, so it is read from the undecoded query or body and
decoded here by `coding` and `charset` (UCS-2 arrives as UTF-16BE, GSM-7 as UTF-8). A FormError
names the offending field. The message id (`%I`) is the dedup key.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from urllib.parse import unquote_to_bytes

import aiohttp

from gateway.kernel.envelopes import (
    DeliveryReport,
    DeliveryState,
    FailureCause,
    InboundSms,
    Outgoing,
    SendOutcome,
    SendResult,
)
from gateway.kernel.phones import PhoneError, mask_phones_in, normalise_phone
from gateway.kernel.segments import is_gsm7
from gateway.providers.africastalking import FormError

NAME = "kannel"
MAX_FIELD_BYTES = 2000
MAX_FIELDS = 50  # the sms-service sends eight, the dlr-url four
# Identifier fields go to bounded columns: a longer value is refused by name, not by the database.
FIELD_LIMITS = {"id": 100, "to": 40, "smsc": 16, "outbox": 19, "try": 9, "status": 4}
SMS_REQUIRED = ("id", "from", "to", "text")

# Kannel's `coding` (%c): 0 GSM-7 (handed over in `charset`, UTF-8 by default), 1 8-bit data,
# 2 UCS-2. 8-bit data is a binary SMS (a ringtone, a SIM update): no text to read.
TEXT_CODINGS = {"", "0", "2"}
# `charset` (%C) -> Python's codec. UCS-2 is UTF-16BE without the surrogate pairs a phone never sends.
CHARSETS = {
    "UTF-8": "utf-8", "UTF8": "utf-8",
    "UTF-16BE": "utf-16-be", "UCS-2": "utf-16-be", "UCS-2BE": "utf-16-be", "UTF-16": "utf-16",
    "ISO-8859-1": "latin-1", "LATIN1": "latin-1", "WINDOWS-1252": "cp1252", "CP1252": "cp1252",
    "US-ASCII": "ascii", "ASCII": "ascii",
}

# Kannel's delivery report types (%d in the dlr-url) -> our status word and what it means for the row.
DLR_TYPES: dict[str, tuple[str, DeliveryState]] = {
    "1": ("Delivered", DeliveryState.DELIVERED),  # on the handset
    "2": ("Failed", DeliveryState.FAILED),  # undeliverable
    "4": ("Buffered", DeliveryState.IN_FLIGHT),  # queued at the operator (phone off, out of coverage)
    "8": ("Submitted", DeliveryState.IN_FLIGHT),  # accepted by the operator's SMSC
    "16": ("Rejected", DeliveryState.FAILED),  # refused by the operator's SMSC
}
DLR_MASK = 1 | 2 | 4 | 8 | 16  # every report type above
# Why a failed report type failed. %d carries no reason: an undeliverable SMS or an SMSC's refusal
# is the operator's route as far as the gateway can tell, so another provider may do better.
FAILURE_CAUSES: dict[str, FailureCause] = {"2": FailureCause.PROVIDER, "16": FailureCause.PROVIDER}


def raw_fields(raw: bytes | str) -> dict[str, bytes]:
    """A query string or urlencoded body as raw bytes per field (the first of a repeated name):
    `%b` is the SMS's own bytes, which no charset guess may touch before `coding` is read."""
    try:  # a request line's bytes that are not UTF-8 reach us as surrogates: back to the bytes sent
        data = raw.encode("utf-8", errors="surrogateescape") if isinstance(raw, str) else raw
    except UnicodeEncodeError:
        raise FormError("text", "is not a valid query string") from None
    fields: dict[str, bytes] = {}
    for pair in data.split(b"&"):
        if not pair:
            continue
        if len(fields) >= MAX_FIELDS:
            raise FormError("(form)", f"has more than {MAX_FIELDS} fields")
        name, _, value = pair.partition(b"=")
        try:
            key = unquote_to_bytes(name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            raise FormError("(name)", "is not valid UTF-8") from None
        fields.setdefault(key, unquote_to_bytes(value.replace(b"+", b" ")))
    return fields


def _field(fields: Mapping[str, bytes], name: str, required: bool = True) -> str | None:
    """A field other than the text, as UTF-8 text."""
    raw = fields.get(name)
    if raw is None or (required and not raw.strip()):
        if required:
            raise FormError(name, "required" if raw is None else "is empty")
        return None
    try:
        value = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise FormError(name, "is not valid UTF-8") from None
    if "\x00" in value:
        raise FormError(name, "contains a NUL character")
    limit = FIELD_LIMITS.get(name, MAX_FIELD_BYTES)
    if len(value) > limit:
        raise FormError(name, f"longer than {limit} characters")
    return value


def decode_text(raw: bytes, coding: str, charset: str) -> str:
    """The SMS's text from its raw bytes, by Kannel's coding and charset."""
    if coding not in TEXT_CODINGS:
        what = "8-bit data, not a text" if coding == "1" else "not 0 (GSM-7) or 2 (UCS-2)"
        raise FormError("coding", f"{coding[:10]!r} is {what}")
    name = charset.upper() or ("UTF-16BE" if coding == "2" else "UTF-8")
    codec = CHARSETS.get(name)
    if codec is None:
        raise FormError("charset", f"{charset[:40]!r} is not accepted (UTF-8, UTF-16BE, UCS-2, ISO-8859-1, "
                                   "WINDOWS-1252)")
    if len(raw) > MAX_FIELD_BYTES:
        raise FormError("text", f"longer than {MAX_FIELD_BYTES} bytes")
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise FormError("text", f"is not valid {name}") from None
    if "\x00" in text:
        raise FormError("text", "contains a NUL character")
    return text


def parse_time(value: str | None, now: datetime) -> datetime:
    """`%T`: Unix seconds; absent or empty, the time the gateway received it."""
    if not value:
        return now
    if not (value.isascii() and value.isdigit() and len(value) <= 12):
        raise FormError("time", f"is not Unix seconds: {value[:20]!r}")
    return datetime.fromtimestamp(int(value), UTC)


def parse_inbound_sms(fields: Mapping[str, bytes], default_region: str, now: datetime) -> InboundSms:
    for name in SMS_REQUIRED:
        if name != "text":
            _field(fields, name)
    if "text" not in fields:
        raise FormError("text", "required")
    coding = _field(fields, "coding", required=False) or ""
    charset = _field(fields, "charset", required=False) or ""
    try:
        sender = normalise_phone(_field(fields, "from"), default_region, ())
    except PhoneError as exc:
        raise FormError("from", f"is not a usable phone number ({exc})") from None
    return InboundSms(
        external_id=_field(fields, "id"),
        sender=sender,
        short_code=_field(fields, "to"),
        text=decode_text(fields["text"], coding, charset),
        received_at=parse_time(_field(fields, "time", required=False), now),
        network_code=_field(fields, "smsc", required=False) or None,
        provider=NAME,
    )


def message_id(outbox_id: int, attempt: int = 0) -> str:
    """The provider message id of one try of an SMS sent through Kannel: its dlr-url names the outbox
    row, and the try after the first (so that a report of a later try is not taken for a repeat)."""
    return f"{NAME}-{outbox_id}-{attempt}" if attempt else f"{NAME}-{outbox_id}"


def parse_delivery_report(fields: Mapping[str, bytes]) -> DeliveryReport:
    outbox = _field(fields, "outbox")
    if not (outbox.isascii() and outbox.isdigit()):
        raise FormError("outbox", f"is not an outbox id: {outbox[:20]!r}")
    attempt = _field(fields, "try", required=False) or "0"
    if not (attempt.isascii() and attempt.isdigit()):
        raise FormError("try", f"is not a number: {attempt[:20]!r}")
    kind = _field(fields, "status")
    status, state = DLR_TYPES.get(kind, (kind, DeliveryState.UNKNOWN))
    return DeliveryReport(
        provider_message_id=message_id(int(outbox), int(attempt)), status=status, state=state, phone=None,
        network_code=_field(fields, "smsc", required=False) or None,
        failure_reason=None, retry_count=0, cause=FAILURE_CAUSES.get(kind),
    )


# --- outbound SMS -----------------------------------------------------------------

CONNECT_TIMEOUT_SECONDS = 3.05
# sendsms answers 4xx with a sentence; these words mean the number itself was refused.
RECIPIENT_REFUSALS = ("denied", "number", "receiver")


class KannelSender:
    """Sends each SMS through smsbox's `/cgi-bin/sendsms`, one request per recipient so that its
    dlr-url names the outbox row. The text goes as UTF-8 and leaves as UCS-2 (`coding=2`) only
    when GSM-7 cannot carry it."""

    name = NAME
    per_sms = True

    def __init__(self, sendsms_url: str, username: str, password: str, smsc: str = "", dlr_base_url: str = "",
                 callback_token: str = "", timeout: float = 10, connections: int = 4):
        self._url = sendsms_url
        self._auth = {"user": username, "pass": password}
        self._smsc = smsc
        self._dlr_url = ""
        if dlr_base_url:
            token = f"token={callback_token}&" if callback_token else ""
            self._dlr_url = dlr_base_url.rstrip("/") + "/callbacks/kannel/delivery?" + token + "outbox={id}&status=%d"
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=timeout),
        )

    def query(self, text: str, one: Outgoing, now: datetime | None = None) -> dict[str, str]:
        """The sendsms parameters of one SMS."""
        params = {**self._auth, "to": one.recipient, "text": text, "charset": "UTF-8"}
        if not is_gsm7(text):
            params["coding"] = "2"
        if self._smsc:
            params["smsc"] = self._smsc
        if self._dlr_url and one.outbox_id:
            params["dlr-mask"] = str(DLR_MASK)
            params["dlr-url"] = self._dlr_url.replace("{id}", str(one.outbox_id) + (
                f"&try={one.attempt}" if one.attempt else ""))
        if one.expires_at is not None:  # minutes the operator keeps trying
            left = (one.expires_at - (now or datetime.now(UTC))).total_seconds()
            params["validity"] = str(max(1, math.ceil(left / 60)))
        return params

    async def send(self, text: str, recipients: Sequence[str],
                   outgoing: Sequence[Outgoing] | None = None) -> list[SendResult]:
        sms = list(outgoing) if outgoing is not None else [Outgoing(0, r) for r in recipients]
        return list(await asyncio.gather(*(self._send_one(text, one) for one in sms)))

    async def _send_one(self, text: str, one: Outgoing) -> SendResult:
        try:
            async with self._http.get(self._url, params=self.query(text, one)) as response:
                body = (await response.read()).decode(errors="replace")
                status = response.status
        except TimeoutError:
            return SendResult(one.recipient, SendOutcome.RETRY, reason="timeout")
        except aiohttp.ClientError as exc:
            return SendResult(one.recipient, SendOutcome.RETRY, reason=f"connection: {type(exc).__name__}")
        body = mask_phones_in(body[:80])
        if 200 <= status < 300:  # 202 "0: Accepted for delivery" or "3: Queued for later delivery"
            return SendResult(one.recipient, SendOutcome.SENT,
                              message_id(one.outbox_id, one.attempt) if one.outbox_id else None)
        if 400 <= status < 500 and any(word in body.lower() for word in RECIPIENT_REFUSALS):
            return SendResult(one.recipient, SendOutcome.FAILED, reason=f"http_{status}: {body}")
        # a wrong password, an unknown smsc, no sender: Kannel's configuration, not the recipient's
        return SendResult(one.recipient, SendOutcome.RETRY, reason=f"http_{status}: {body}")

    async def close(self) -> None:
        await self._http.close()

"""SMS Gateway for Android (a phone with a local SIM): its signed webhooks in, SMS out through its API.

Nothing else in the code base knows the app's field names. A webhook is verified before its body
is read (X-Signature: hex HMAC-SHA256 of the raw body followed by X-Timestamp, keyed with the
app's signing key), then becomes a neutral message (gateway.kernel.envelopes). The event `id` is
the dedup key: the app retries an event for about two days, and its `messageId` is derived from
the content, so two identical texts would share it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

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
from gateway.kernel.phones import PhoneError, normalise_phone

NAME = "android"
MAX_SKEW_SECONDS = 300  # a signed request older or newer than this is a replay
MAX_TEXT_CHARS = 2000
ID_CHARS = 100  # messages.external_id, delivery_events.provider_message_id

# Delivery events -> the outbox row's delivery state (the app's own word is kept as the status).
DELIVERY_EVENTS: dict[str, DeliveryState] = {
    "sms:sent": DeliveryState.IN_FLIGHT,
    "sms:delivered": DeliveryState.DELIVERED,
    "sms:failed": DeliveryState.FAILED,
}
EVENTS = ("sms:received", *DELIVERY_EVENTS, "system:ping")
DELIVERY_STATUS = {"sms:sent": "Sent", "sms:delivered": "Delivered", "sms:failed": "Failed"}
# Words in an `sms:failed` reason (Android's SmsManager results) that blame the number; any other
# failure is the phone's own (no signal, radio off, SIM out of credit): another provider may do better.
RECIPIENT_REASONS = ("SHORT_CODE_NOT_ALLOWED", "SHORT_CODE_NEVER_ALLOWED", "INVALID_DESTINATION",
                     "INVALID_ARGUMENTS", "INVALID_SMS_FORMAT", "FDN_CHECK_FAILURE")


def failure_cause(event: str, reason: str | None) -> FailureCause | None:
    """Why an event says the SMS did not arrive; None when it does not say so."""
    if DELIVERY_EVENTS.get(event) is not DeliveryState.FAILED:
        return None
    words = (reason or "").upper()
    return FailureCause.RECIPIENT if any(word in words for word in RECIPIENT_REASONS) else FailureCause.PROVIDER


class WebhookError(ValueError):
    """A webhook is unusable; str() names the field. `status` is the HTTP answer (400, or 401 for
    a signature that does not verify)."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.status = status


# --- inbound webhooks -------------------------------------------------------------

def sign(key: str, body: bytes, timestamp: str) -> str:
    """The app's signature of a webhook (the fake phone signs with it too)."""
    return hmac.new(key.encode(), body + timestamp.encode(), hashlib.sha256).hexdigest()


def verify(key: str, body: bytes, signature: str | None, timestamp: str | None, now: datetime) -> None:
    """WebhookError(401) unless the request is signed with `key` within MAX_SKEW_SECONDS of `now`."""
    if not key:
        raise WebhookError("android.signing_key is not set: webhooks cannot be verified", 401)
    if not signature or not timestamp:
        raise WebhookError("header 'X-Signature' and 'X-Timestamp' required", 401)
    stamp = timestamp.strip()
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise WebhookError("header 'X-Timestamp' is not Unix seconds", 401)
    if abs(now.timestamp() - int(stamp)) > MAX_SKEW_SECONDS:
        raise WebhookError("header 'X-Timestamp' is more than 5 minutes from the gateway's clock", 401)
    if not hmac.compare_digest(sign(key, body, stamp), signature.strip().lower()):
        raise WebhookError("header 'X-Signature' does not match the body", 401)


@dataclass(frozen=True)
class Webhook:
    """One verified webhook: at most one of `sms` and `delivery` is set (neither for a ping or an
    unknown event)."""

    event: str
    event_id: str
    device_id: str | None
    sms: InboundSms | None = None
    delivery: DeliveryReport | None = None


def _text(value: object, name: str, limit: int, required: bool = True) -> str | None:
    if value is None or value == "":
        if required:
            raise WebhookError(f"field '{name}' required")
        return None
    if not isinstance(value, str):
        raise WebhookError(f"field '{name}' is not text")
    if "\x00" in value:
        raise WebhookError(f"field '{name}' contains a NUL character")
    if len(value) > limit:
        raise WebhookError(f"field '{name}' longer than {limit} characters")
    return value


def _date(value: object, name: str) -> datetime:
    """The app's ISO 8601 time; receivedAt is the phone's local time with its offset."""
    text = _text(value, name, 64)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        raise WebhookError(f"field '{name}' is not a date: {text[:40]!r}") from None


def parse_webhook(body: bytes, default_region: str, short_code: str = NAME) -> Webhook:
    """A verified body as a Webhook; WebhookError(400) naming the field that is missing or wrong."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise WebhookError("body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookError("body is not a JSON object")
    event = _text(data.get("event"), "event", 40)
    event_id = _text(data.get("id"), "id", ID_CHARS).strip()
    device_id = _text(data.get("deviceId"), "deviceId", 100, required=False)
    payload = data.get("payload")
    if payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise WebhookError("field 'payload' is not an object")
    if event == "sms:received":
        try:
            sender = normalise_phone(_text(payload.get("phoneNumber"), "payload.phoneNumber", 40), default_region)
        except PhoneError as exc:
            raise WebhookError(f"field 'payload.phoneNumber' is not a usable phone number ({exc})") from None
        text = _text(payload.get("message"), "payload.message", MAX_TEXT_CHARS, required=False) or ""
        if "message" not in payload:
            raise WebhookError("field 'payload.message' required")
        sim = payload.get("simNumber")
        return Webhook(event, event_id, device_id, sms=InboundSms(
            external_id=event_id, sender=sender, short_code=short_code if sim is None else f"{short_code}:{sim}"[:40],
            text=text, received_at=_date(payload.get("receivedAt"), "payload.receivedAt"), provider=NAME))
    if event in DELIVERY_EVENTS:
        message_id = _text(payload.get("messageId"), "payload.messageId", ID_CHARS).strip()
        reason = _text(payload.get("reason"), "payload.reason", 200, required=False)
        return Webhook(event, event_id, device_id, delivery=DeliveryReport(
            provider_message_id=message_id, status=DELIVERY_STATUS[event], state=DELIVERY_EVENTS[event],
            phone=None, network_code=None, failure_reason=reason, retry_count=0,
            cause=failure_cause(event, reason)))
    return Webhook(event, event_id, device_id)


# --- outbound SMS -----------------------------------------------------------------

CONNECT_TIMEOUT_SECONDS = 3.05


class AndroidSender:
    """Sends each SMS through the app's `/messages` API (basic auth), one request per recipient
    with our outbox id as the message id, so its delivery events name the outbox row and a
    request sent twice is one SMS. A phone sends one SMS at a time: `connections` stays small."""

    name = NAME
    per_sms = True

    def __init__(self, base_url: str, username: str, password: str, sim_number: int = 0,
                 timeout: float = 15, connections: int = 2):
        self._base = base_url.rstrip("/")
        self._sim = sim_number
        self._http = aiohttp.ClientSession(
            headers={"Accept": "application/json", "Authorization": "Basic " + base64.b64encode(
                f"{username}:{password}".encode()).decode()},
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=timeout),
        )

    async def send(self, text: str, recipients: Sequence[str],
                   outgoing: Sequence[Outgoing] | None = None) -> list[SendResult]:
        sms = list(outgoing) if outgoing is not None else [Outgoing(0, r) for r in recipients]
        return list(await asyncio.gather(*(self._send_one(text, one) for one in sms)))

    def message(self, text: str, one: Outgoing, now: datetime | None = None) -> dict:
        """The JSON of one SMS for the app's API."""
        body: dict = {"textMessage": {"text": text}, "phoneNumbers": [one.recipient], "withDeliveryReport": True}
        if one.outbox_id:
            body["id"] = message_id(one)
        if self._sim:
            body["simNumber"] = self._sim
        if one.expires_at is not None:
            left = (one.expires_at - (now or datetime.now(UTC))).total_seconds()
            body["ttl"] = max(1, math.ceil(left))
        return body

    async def _send_one(self, text: str, one: Outgoing) -> SendResult:
        try:
            async with self._http.post(self._base + "/messages", json=self.message(text, one)) as response:
                raw = await response.read()
                status = response.status
        except TimeoutError:
            return SendResult(one.recipient, SendOutcome.RETRY, reason="timeout")
        except aiohttp.ClientError as exc:
            return SendResult(one.recipient, SendOutcome.RETRY, reason=f"connection: {type(exc).__name__}")
        if 200 <= status < 300 or status == 409:  # 409: this id was already taken, the SMS exists
            sent_id = message_id(one) if one.outbox_id else _answer_id(raw)
            return SendResult(one.recipient, SendOutcome.SENT, sent_id or None)
        # 400: the app refuses this SMS (a number it cannot send to); anything else is the phone's side
        outcome = SendOutcome.FAILED if status == 400 else SendOutcome.RETRY
        return SendResult(one.recipient, outcome, reason=f"http_{status}")

    async def register_webhook(self, url: str, event: str) -> int:
        """Registers `url` for `event` with the app (its id is the event's name, so registering
        again replaces it); the HTTP status of the answer."""
        body = {"id": "ewg-" + event.replace(":", "-"), "url": url, "event": event}
        async with self._http.post(self._base + "/webhooks", json=body) as response:
            await response.read()
            return response.status

    async def close(self) -> None:
        await self._http.close()


def message_id(one: Outgoing) -> str:
    """The app's id of one try of an SMS: the outbox id, and the try after the first (the app answers
    409 to an id it has seen, so a try after a failure needs its own)."""
    return f"{one.outbox_id}-{one.attempt}" if one.attempt else str(one.outbox_id)


def _answer_id(raw: bytes) -> str | None:
    try:
        answer = json.loads(raw)
    except ValueError:
        return None
    value = answer.get("id") if isinstance(answer, dict) else None
    return str(value)[:ID_CHARS] if value else None

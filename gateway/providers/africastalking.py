"""Africa's Talking: inbound SMS, delivery reports and USSD forms; outbound SMS over its HTTP API.

Nothing else in the code base knows Africa's Talking's field names. Forms become
neutral messages (gateway.kernel.envelopes); a FormError names the offending field.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import aiohttp

from gateway.kernel.envelopes import (
    DeliveryReport,
    DeliveryState,
    FailureCause,
    InboundSms,
    SendOutcome,
    SendResult,
    UssdEnd,
    UssdHop,
    UssdScreen,
)
from gateway.kernel.phones import PhoneError, mask_phones_in, normalise_phone

MAX_FIELD_CHARS = 2000


class FormError(ValueError):
    """A callback form is unusable; str() is the plain-text answer naming the field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"field '{field}' {reason}")
        self.field = field


# --- inbound forms ----------------------------------------------------------------

SMS_REQUIRED = ("from", "to", "text", "date", "id")
DELIVERY_REQUIRED = ("id", "status")
USSD_REQUIRED = ("sessionId", "serviceCode", "phoneNumber")

DELIVERY_STATES: dict[str, DeliveryState] = {
    "Sent": DeliveryState.IN_FLIGHT,
    "Submitted": DeliveryState.IN_FLIGHT,
    "Buffered": DeliveryState.IN_FLIGHT,
    "Success": DeliveryState.DELIVERED,
    "Rejected": DeliveryState.FAILED,
    "Failed": DeliveryState.FAILED,
    "AbsentSubscriber": DeliveryState.FAILED,
    "Expired": DeliveryState.FAILED,
}

# failureReason of a Failed or Rejected report -> why. A reason not listed (or none) counts as the
# provider's: another provider may still reach the phone.
FAILURE_CAUSES: dict[str, FailureCause] = {
    "InsufficientCredit": FailureCause.PROVIDER,  # our account with the provider
    "InvalidLinkId": FailureCause.PROVIDER,
    "DeliveryFailure": FailureCause.PROVIDER,
    "RejectedByGateway": FailureCause.PROVIDER,
    "UserNotSubscribedToProduct": FailureCause.PROVIDER,  # a premium product's rule; a plain SMS elsewhere is not bound
    "AbsentSubscriber": FailureCause.ABSENT,  # phone off or out of coverage
    "UserIsInactive": FailureCause.RECIPIENT,
    "UserInBlackList": FailureCause.RECIPIENT,
    "UserInBlacklist": FailureCause.RECIPIENT,
    "InvalidPhoneNumber": FailureCause.RECIPIENT,
    "UserAccountSuspended": FailureCause.RECIPIENT,
    "UserDoesNotExist": FailureCause.RECIPIENT,
    "NotNetworkSubscriber": FailureCause.RECIPIENT,
}
# A status that names its cause whatever the reason says.
STATUS_CAUSES: dict[str, FailureCause] = {"AbsentSubscriber": FailureCause.ABSENT, "Expired": FailureCause.ABSENT}


def failure_cause(status: str, reason: str | None) -> FailureCause | None:
    """Why a report says the SMS did not arrive; None when it does not say so."""
    if DELIVERY_STATES.get(status) is not DeliveryState.FAILED:
        return None
    return STATUS_CAUSES.get(status) or FAILURE_CAUSES.get((reason or "").strip(), FailureCause.PROVIDER)


# Identifier fields are stored in bounded columns: longer values are refused here, by name,
# rather than failing in the database (where they would look like an outage).
FIELD_LIMITS = {"id": 100, "sessionId": 100, "linkId": 100, "to": 40, "serviceCode": 40, "networkCode": 16}


def _field(form: Mapping[str, str], name: str, required: bool = True) -> str | None:
    value = form.get(name)
    if value is None:
        if required:
            raise FormError(name, "required")
        return None
    if "\x00" in value:
        raise FormError(name, "contains a NUL character")
    limit = FIELD_LIMITS.get(name, MAX_FIELD_CHARS)
    if len(value.strip()) > limit:
        raise FormError(name, f"longer than {limit} characters")
    if required and name != "text" and not value.strip():
        raise FormError(name, "is empty")
    return value


def _phone(form: Mapping[str, str], name: str, default_region: str, regions: Sequence[str] = ()) -> str:
    """The field as E.164; `regions` empty: a valid number of any country."""
    try:
        return normalise_phone(_field(form, name) or "", default_region, tuple(regions))
    except PhoneError as exc:
        raise FormError(name, f"is not a usable phone number ({exc})") from None


def parse_provider_date(value: str) -> datetime:
    """The provider sends '2026-11-24 17:10:25' (UTC) or ISO 8601 ('2026-11-24T17:10:25.123Z')."""
    text = value.strip()
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M:%S.%f"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC)
        except ValueError:
            pass
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):  # OverflowError: an offset that moves year 1 or 9999 out of range
        raise FormError("date", f"is not a date: {text[:40]!r}") from None


def parse_inbound_sms(form: Mapping[str, str], default_region: str) -> InboundSms:
    """A valid sender of any country is accepted: one outside the accepted regions is still a
    message to keep (gateway.sms.ingest stores it for review); only a value that is no phone number
    is refused."""
    for name in SMS_REQUIRED:
        _field(form, name)
    return InboundSms(
        external_id=_field(form, "id").strip(),
        sender=_phone(form, "from", default_region),
        short_code=_field(form, "to").strip(),
        text=_field(form, "text"),
        received_at=parse_provider_date(_field(form, "date")),
        link_id=_field(form, "linkId", required=False) or None,
        network_code=_field(form, "networkCode", required=False) or None,
    )


MAX_RETRY_COUNT = 10_000


def parse_delivery_report(form: Mapping[str, str]) -> DeliveryReport:
    for name in DELIVERY_REQUIRED:
        _field(form, name)
    status = _field(form, "status").strip()
    retry_text = (_field(form, "retryCount", required=False) or "0").strip() or "0"
    if not (retry_text.isascii() and retry_text.isdigit()):
        raise FormError("retryCount", f"is not a number: {retry_text[:20]!r}")
    retry_count = int(retry_text)
    if retry_count > MAX_RETRY_COUNT:  # the provider retries a few times, never billions
        raise FormError("retryCount", f"is out of range: {retry_text[:20]!r}")
    reason = _field(form, "failureReason", required=False) or None
    return DeliveryReport(
        provider_message_id=_field(form, "id").strip(),
        status=status,
        state=DELIVERY_STATES.get(status, DeliveryState.UNKNOWN),
        phone=_field(form, "phoneNumber", required=False),
        network_code=_field(form, "networkCode", required=False) or None,
        failure_reason=reason,
        retry_count=retry_count,
        cause=failure_cause(status, reason),
    )


def parse_ussd_hop(form: Mapping[str, str], default_region: str, regions: Sequence[str]) -> UssdHop:
    for name in USSD_REQUIRED:
        _field(form, name)
    return UssdHop(
        session_id=_field(form, "sessionId").strip(),
        service_code=_field(form, "serviceCode").strip(),
        phone=_phone(form, "phoneNumber", default_region, regions),
        network_code=_field(form, "networkCode", required=False) or None,
        text=_field(form, "text", required=False) or "",
    )


def parse_ussd_end(form: Mapping[str, str]) -> UssdEnd:
    _field(form, "sessionId")
    duration = (_field(form, "durationInMillis", required=False) or "").strip()
    return UssdEnd(
        session_id=_field(form, "sessionId").strip(),
        phone=_field(form, "phoneNumber", required=False),
        status=(_field(form, "status", required=False) or "unknown").strip(),
        input=_field(form, "input", required=False),
        duration_ms=int(duration) if duration.isdigit() else None,
        error_message=_field(form, "errorMessage", required=False),
    )


def render_ussd(screen: UssdScreen) -> str:
    return ("END " if screen.final else "CON ") + screen.text


def source_allowed(remote: str | None, allow_from: Sequence[str]) -> bool:
    if not allow_from:
        return True
    if not remote:
        return False
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allow_from)


# --- outbound SMS -----------------------------------------------------------------

# Per-recipient statusCode in the send answer: 100-102 accepted, the rest refused.
ACCEPTED_CODES = {100, 101, 102}
RETRYABLE_CODES = {405, 500, 501, 502}  # insufficient balance and provider-side faults
# The API wants +<country code><number>, digits only, and refuses the whole request otherwise.
SENDABLE_NUMBER = re.compile(r"\+\d{4,}")
CONNECT_TIMEOUT_SECONDS = 3.05


class ProviderHttpError(Exception):
    """The send request was answered, but not with the provider's JSON (any status, the body kept)."""

    def __init__(self, status: int, body: str):
        super().__init__(f"HTTP {status}: {body[:120]}")
        self.status = status
        self.body = body


class AfricasTalkingSender:
    """Sends one text to many recipients in one request (bulk mode): the documented form posted to
    `<base_url>/messaging` with aiohttp, on the event loop. Made inside the running loop (it opens
    its connection pool there); `connections` bounds the requests in flight to the provider."""

    def __init__(self, username: str, api_key: str, base_url: str, sender_id: str = "",
                 timeout: float = 10, connections: int = 4):
        self._url = base_url.rstrip("/") + "/messaging"
        self._username = username
        self._sender_id = sender_id
        # `timeout` bounds the wait for each read of the answer, not the whole request: a request
        # queued for a free connection, or a large answer still arriving, is not cut short.
        self._http = aiohttp.ClientSession(
            headers={"apiKey": api_key, "Accept": "application/json"},
            connector=aiohttp.TCPConnector(limit=connections),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_SECONDS, sock_read=timeout),
        )

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        # One number the provider does not accept would refuse the whole request: that one fails alone.
        refused = [r for r in recipients if not SENDABLE_NUMBER.fullmatch(r)]
        sendable = [r for r in recipients if r not in refused] if refused else list(recipients)
        sent = await self._send_sendable(text, sendable) if sendable else []
        return sent + _all(refused, SendOutcome.FAILED, "not a number the provider accepts")

    async def _send_sendable(self, text: str, recipients: list[str]) -> list[SendResult]:
        try:
            answer = await self.post_messaging(text, recipients)
        except ProviderHttpError as exc:
            retry = exc.status >= 500 or exc.status in (401, 429)
            return _all(recipients, SendOutcome.RETRY if retry else SendOutcome.FAILED, f"http_{exc.status}")
        except TimeoutError:  # aiohttp's connect and read timeouts are TimeoutErrors
            return _all(recipients, SendOutcome.RETRY, "timeout")
        except aiohttp.ClientError as exc:
            return _all(recipients, SendOutcome.RETRY, f"connection: {type(exc).__name__}")
        except ValueError:  # a JSON answer that does not parse
            return _all(recipients, SendOutcome.RETRY, "malformed answer")
        return interpret_send_answer(answer, recipients)

    async def post_messaging(self, text: str, recipients: Sequence[str]) -> object:
        """The provider's parsed JSON answer to one bulk send; ProviderHttpError for any other answer."""
        form = {"username": self._username, "to": ",".join(recipients), "message": text, "bulkSMSMode": "1"}
        if self._sender_id:
            form["from"] = self._sender_id
        async with self._http.post(self._url, data=form) as response:
            body = await response.read()
            if not 200 <= response.status < 300:
                raise ProviderHttpError(response.status, body.decode(errors="replace"))
            if not response.headers.get("Content-Type", "").startswith("application/json"):
                raise ProviderHttpError(response.status, "unexpected answer: " + body[:80].decode(errors="replace"))
        return json.loads(body)

    async def close(self) -> None:
        await self._http.close()


def interpret_send_answer(answer: object, recipients: list[str]) -> list[SendResult]:
    try:
        entries = answer["SMSMessageData"]["Recipients"]  # type: ignore[index]
    except (TypeError, KeyError):
        return _all(recipients, SendOutcome.RETRY, "malformed answer")
    results: dict[str, SendResult] = {}
    for entry in entries:
        number = str(entry.get("number", ""))
        code = _status_code(entry.get("statusCode", 0))
        if code is None:
            # The provider took the request and answered a status we cannot read: it may well have
            # sent the SMS, so it is recorded as sent (with the status kept), never sent again.
            status = mask_phones_in(str(entry.get("statusCode")))[:40]
            results[number] = SendResult(number, SendOutcome.SENT, entry.get("messageId") or None, entry.get("cost"),
                                         f"sent, provider status unknown: {status!r}")
            continue
        if code in ACCEPTED_CODES:
            outcome = SendOutcome.SENT
        elif code in RETRYABLE_CODES:
            outcome = SendOutcome.RETRY
        else:
            outcome = SendOutcome.FAILED
        results[number] = SendResult(number, outcome, entry.get("messageId") or None,
                                     entry.get("cost"), None if outcome is SendOutcome.SENT else entry.get("status"))
    return [results.get(r) or SendResult(r, SendOutcome.RETRY, reason="missing from answer") for r in recipients]


def _status_code(value: object) -> int | None:
    """The statusCode as a number (absent counts as 0, a refusal), or None when it is not one."""
    if value is None or value == "":
        return 0
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value).strip()
    return int(text) if text.isascii() and text.isdigit() else None


def _all(recipients: Sequence[str], outcome: SendOutcome, reason: str) -> list[SendResult]:
    return [SendResult(r, outcome, reason=reason) for r in recipients]

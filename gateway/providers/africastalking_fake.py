"""A local stand-in for Africa's Talking's SMS API, for tests, benchmarks and demos.

It answers `POST /version1/messaging` exactly as the provider's documented API does (the form
gateway.providers.africastalking posts, the JSON it reads), records what it accepted, and can be
steered over HTTP:

    GET  /_fake/messages   JSON list of {to, message, from, messageId, at} accepted so far
    GET  /_fake/stats      {"requests": N, "accepted": M} (requests counts refused and hung ones too)
    POST /_fake/reset      forget messages and counters, back to mode "ok"
    POST /_fake/mode       {"mode": "ok"|"error500"|"timeout"|"reject_all", "delay_ms": N,
                            "reject_status": 405, "number_statuses": {"+227...": 406}}
                           (a number_statuses value that is text, e.g. "Queued", is accepted and
                           answered with that text as its statusCode: a status the client cannot read)
    POST /_fake/deliver    {"messageId", "status", "callback_url", "failureReason"?, "retryCount"?}
    POST /_fake/inbound    {"callback_url", "from", "text", "to"?, "id"?} posts an inbound SMS

Run it with `python -m gateway.providers.africastalking_fake --port 8090`; point the gateway at it
with EWG_AFRICASTALKING__BASE_URL=http://127.0.0.1:8090/version1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum

import aiohttp
import phonenumbers
from aiohttp import web

from gateway.kernel.segments import measure
from gateway.providers.africastalking_forms import delivery_report_form, inbound_sms_form

FAKE_USERNAME = "ewg-fake"
FAKE_API_KEY = "fake-api-key"
AUTH_FAILED_TEXT = "The supplied authentication is invalid"

# The provider's per-recipient statusCode table (SMS API documentation).
STATUS_NAMES = {
    100: "Processed",
    101: "Sent",
    102: "Queued",
    401: "RiskHold",
    402: "InvalidSenderId",
    403: "InvalidPhoneNumber",
    404: "UnsupportedNumberType",
    405: "InsufficientBalance",
    406: "UserInBlacklist",
    407: "CouldNotRoute",
    409: "DoNotDisturbRejection",
    500: "InternalServerError",
    501: "GatewayError",
    502: "RejectedByGateway",
}
SENT = 101
SENT_STATUSES = frozenset({100, 101, 102})


def status_text(code: int) -> str:
    """The `status` string of a recipient: accepted ones read "Success" whatever their code."""
    return "Success" if code in SENT_STATUSES else STATUS_NAMES[code]


class Mode(StrEnum):
    OK = "ok"
    ERROR500 = "error500"  # every request answers HTTP 500
    TIMEOUT = "timeout"  # requests hang until the mode changes, then answer 504
    REJECT_ALL = "reject_all"  # HTTP 201, but every recipient gets `reject_status`


@dataclass(frozen=True)
class Behaviour:
    mode: Mode = Mode.OK
    delay_ms: int = 0
    reject_status: int = 405
    number_statuses: dict[str, int | str] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict) -> Behaviour:
        unknown = set(data) - {"mode", "delay_ms", "reject_status", "number_statuses"}
        if unknown:
            raise ValueError(f"unknown field '{sorted(unknown)[0]}'")
        behaviour = cls(
            mode=Mode(data.get("mode", "ok")),
            delay_ms=int(data.get("delay_ms", 0)),
            reject_status=int(data.get("reject_status", 405)),
            number_statuses={str(k): v if isinstance(v, str) and not v.isdigit() else int(v)
                             for k, v in data.get("number_statuses", {}).items()},
        )
        for code in (behaviour.reject_status, *behaviour.number_statuses.values()):
            if isinstance(code, int) and code not in STATUS_NAMES:
                raise ValueError(f"unknown statusCode {code}")
        return behaviour


@dataclass(frozen=True)
class RecordedSms:
    to: str
    message: str
    sender: str | None
    message_id: str
    at: str  # ISO 8601, UTC

    def to_json(self) -> dict:
        return {"to": self.to, "message": self.message, "from": self.sender,
                "messageId": self.message_id, "at": self.at}


@dataclass
class FakeState:
    username: str
    api_key: str
    currency: str
    unit_cost: Decimal
    clock: Callable[[], datetime]
    behaviour: Behaviour = field(default_factory=Behaviour)
    messages: list[RecordedSms] = field(default_factory=list)
    requests: int = 0
    # Set (and replaced) whenever the behaviour changes, to release requests hung in "timeout".
    behaviour_changed: asyncio.Event = field(default_factory=asyncio.Event)

    def change_behaviour(self, behaviour: Behaviour) -> None:
        self.behaviour = behaviour
        self.behaviour_changed.set()
        self.behaviour_changed = asyncio.Event()


STATE = web.AppKey("fake_at_state", FakeState)
HTTP_CLIENT = web.AppKey("fake_at_http_client", aiohttp.ClientSession)


def _json(data: object, status: int = 200) -> web.Response:
    # The provider answers "application/json" with no charset (its own SDK reads nothing else).
    return web.Response(body=json.dumps(data).encode(), status=status, headers={"Content-Type": "application/json"})


def _plain(text: str, status: int) -> web.Response:
    return web.Response(text=text, status=status, content_type="text/plain")


def recipient_status(number: str, behaviour: Behaviour) -> int | str:
    """The statusCode the provider would give this recipient."""
    if number in behaviour.number_statuses:
        return behaviour.number_statuses[number]
    if behaviour.mode is Mode.REJECT_ALL:
        return behaviour.reject_status
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return 403
    if not number.startswith("+") or not phonenumbers.is_valid_number(parsed):
        return 403
    if phonenumbers.number_type(parsed) == phonenumbers.PhoneNumberType.FIXED_LINE:
        return 404
    return SENT


def _money(state: FakeState, amount: Decimal) -> str:
    return f"{state.currency} {amount:.4f}"


async def _hang_until_released(state: FakeState) -> web.Response:
    await state.behaviour_changed.wait()
    return _plain("Gateway Timeout", 504)


async def messaging(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.requests += 1
    behaviour = state.behaviour
    if behaviour.delay_ms:
        await asyncio.sleep(behaviour.delay_ms / 1000)
    if behaviour.mode is Mode.TIMEOUT:
        return await _hang_until_released(state)
    if behaviour.mode is Mode.ERROR500:
        return _plain("Internal Server Error", 500)

    form = await request.post()
    if form.get("username") != state.username or request.headers.get("apiKey") != state.api_key:
        return _plain(AUTH_FAILED_TEXT, 401)
    for name in ("to", "message"):
        if not form.get(name):
            return _plain(f"Request is missing required form field '{name}'", 400)

    text = str(form["message"])
    sender = str(form["from"]) if form.get("from") else None
    cost_per_recipient = state.unit_cost * measure(text).segments
    recipients, total = [], Decimal(0)
    for number in (n.strip() for n in str(form["to"]).split(",")):
        code = recipient_status(number, behaviour)
        if code in SENT_STATUSES or isinstance(code, str):
            message_id = f"ATXid_{uuid.uuid4().hex}"
            state.messages.append(RecordedSms(number, text, sender, message_id, state.clock().isoformat()))
            recipients.append({"statusCode": code, "number": number,
                               "status": code if isinstance(code, str) else status_text(code),
                               "cost": _money(state, cost_per_recipient), "messageId": message_id})
            total += cost_per_recipient
        else:
            recipients.append({"statusCode": code, "number": number, "status": status_text(code),
                               "cost": "0", "messageId": "None"})
    sent = sum(1 for r in recipients if r["statusCode"] in SENT_STATUSES or isinstance(r["statusCode"], str))
    summary = f"Sent to {sent}/{len(recipients)} Total Cost: {_money(state, total) if sent else '0'}"
    return _json({"SMSMessageData": {"Message": summary, "Recipients": recipients}}, status=201)


async def list_messages(request: web.Request) -> web.Response:
    return _json([m.to_json() for m in request.app[STATE].messages])


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return _json({"requests": state.requests, "accepted": len(state.messages)})


async def reset(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.messages.clear()
    state.requests = 0
    state.change_behaviour(Behaviour())
    return _json({"ok": True})


async def set_mode(request: web.Request) -> web.Response:
    try:
        behaviour = Behaviour.from_json(await request.json())
    except (ValueError, TypeError, AttributeError) as exc:
        return _plain(f"bad mode: {exc}", 400)
    request.app[STATE].change_behaviour(behaviour)
    return _json({"mode": behaviour.mode.value, "delay_ms": behaviour.delay_ms})


async def _post_form(request: web.Request, url: str, form: dict[str, str]) -> web.Response:
    async with request.app[HTTP_CLIENT].post(url, data=form) as answer:
        body = await answer.text()
    return _json({"status": answer.status, "body": body, "form": form})


async def deliver(request: web.Request) -> web.Response:
    data = await request.json()
    for name in ("messageId", "status", "callback_url"):
        if name not in data:
            return _plain(f"field '{name}' required", 400)
    sms = next((m for m in request.app[STATE].messages if m.message_id == data["messageId"]), None)
    if sms is None:
        return _plain(f"unknown messageId '{data['messageId']}'", 404)
    form = delivery_report_form(
        sms.message_id, data["status"], sms.to,
        failure_reason=data.get("failureReason", ""), retry_count=int(data.get("retryCount", 0)),
    )
    return await _post_form(request, data["callback_url"], form)


async def inbound(request: web.Request) -> web.Response:
    data = await request.json()
    for name in ("callback_url", "from", "text"):
        if name not in data:
            return _plain(f"field '{name}' required", 400)
    form = inbound_sms_form(data["from"], data["text"], received_at=request.app[STATE].clock(),
                            to=data.get("to", "3737"), message_id=data.get("id"))
    return await _post_form(request, data["callback_url"], form)


async def _http_client(app: web.Application):
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as client:
        app[HTTP_CLIENT] = client
        yield


async def _release_hung_requests(app: web.Application) -> None:
    app[STATE].behaviour_changed.set()


def create_app(
    *,
    username: str = FAKE_USERNAME,
    api_key: str = FAKE_API_KEY,
    currency: str = "XOF",
    unit_cost: Decimal = Decimal("25"),
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> web.Application:
    app = web.Application()
    app[STATE] = FakeState(username, api_key, currency, unit_cost, clock)
    app.cleanup_ctx.append(_http_client)
    app.on_shutdown.append(_release_hung_requests)
    app.router.add_post("/version1/messaging", messaging)
    app.router.add_get("/_fake/messages", list_messages)
    app.router.add_get("/_fake/stats", stats)
    app.router.add_post("/_fake/reset", reset)
    app.router.add_post("/_fake/mode", set_mode)
    app.router.add_post("/_fake/deliver", deliver)
    app.router.add_post("/_fake/inbound", inbound)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A local fake of Africa's Talking's SMS API.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--username", default=FAKE_USERNAME)
    parser.add_argument("--api-key", default=FAKE_API_KEY)
    parser.add_argument("--currency", default="XOF")
    parser.add_argument("--unit-cost", type=Decimal, default=Decimal("25"), help="cost of one SMS segment")
    args = parser.parse_args(argv)
    app = create_app(username=args.username, api_key=args.api_key, currency=args.currency,
                     unit_cost=args.unit_cost)
    web.run_app(app, host=args.host, port=args.port, print=lambda line: print(line, flush=True))


if __name__ == "__main__":
    main()

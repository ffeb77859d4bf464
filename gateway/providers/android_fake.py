"""A local stand-in for a phone running SMS Gateway for Android, for tests and demos.

It answers the app's API as gateway.providers.android uses it (basic auth):

    POST /messages         {id, textMessage: {text}, phoneNumbers, withDeliveryReport, ttl?, simNumber?}: 202
    POST /webhooks         {id, url, event}: 201, registered
    GET  /_fake/messages   JSON list of the messages accepted
    GET  /_fake/webhooks   JSON list of the webhooks registered
    POST /_fake/mode       {"mode": "ok"|"error500"}

and signs webhooks as the app does (`signed_webhook`), for a test to post to the gateway.
"""

from __future__ import annotations

import argparse
import base64
import json
import time
import uuid
from dataclasses import dataclass, field

from aiohttp import web

from gateway.providers.android import sign

FAKE_USERNAME = "ewg-phone"
FAKE_PASSWORD = "phone-password"


@dataclass
class PhoneState:
    username: str
    password: str
    mode: str = "ok"
    messages: list[dict] = field(default_factory=list)
    webhooks: dict[str, dict] = field(default_factory=dict)
    requests: int = 0


STATE = web.AppKey("fake_phone_state", PhoneState)


def signed_webhook(key: str, event: str, payload: dict, event_id: str | None = None,
                   timestamp: int | None = None, device_id: str = "fake-device") -> tuple[bytes, dict[str, str]]:
    """A webhook body and its headers, signed as the app signs them."""
    body = json.dumps({"deviceId": device_id, "event": event, "id": event_id or uuid.uuid4().hex,
                       "payload": payload, "webhookId": "ewg-" + event.replace(":", "-")},
                      ensure_ascii=False).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    return body, {"Content-Type": "application/json", "X-Timestamp": stamp, "X-Signature": sign(key, body, stamp)}


def _authorised(request: web.Request, state: PhoneState) -> bool:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return user == state.username and password == state.password


async def messages(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.requests += 1
    if not _authorised(request, state):
        return web.json_response({"message": "unauthorized"}, status=401)
    if state.mode == "error500":
        return web.json_response({"message": "internal error"}, status=500)
    try:
        data = await request.json()
        text = data["textMessage"]["text"]
        numbers = list(data["phoneNumbers"])
    except (ValueError, KeyError, TypeError):
        return web.json_response({"message": "invalid request"}, status=400)
    message_id = str(data.get("id") or uuid.uuid4().hex)
    if any(m["id"] == message_id for m in state.messages):
        return web.json_response({"message": "message with this id already exists"}, status=409)
    state.messages.append({"id": message_id, "text": text, "phoneNumbers": numbers, "ttl": data.get("ttl"),
                           "withDeliveryReport": data.get("withDeliveryReport"), "simNumber": data.get("simNumber")})
    return web.json_response({"id": message_id, "state": "Pending",
                              "recipients": [{"phoneNumber": n, "state": "Pending"} for n in numbers]}, status=202)


async def webhooks(request: web.Request) -> web.Response:
    state = request.app[STATE]
    if not _authorised(request, state):
        return web.json_response({"message": "unauthorized"}, status=401)
    data = await request.json()
    if not isinstance(data, dict) or not data.get("url") or not data.get("event"):
        return web.json_response({"message": "url and event required"}, status=400)
    hook_id = str(data.get("id") or uuid.uuid4().hex)
    state.webhooks[hook_id] = {"id": hook_id, "url": data["url"], "event": data["event"]}
    return web.json_response(state.webhooks[hook_id], status=201)


async def list_messages(request: web.Request) -> web.Response:
    return web.json_response(request.app[STATE].messages)


async def list_webhooks(request: web.Request) -> web.Response:
    return web.json_response(list(request.app[STATE].webhooks.values()))


async def set_mode(request: web.Request) -> web.Response:
    mode = (await request.json()).get("mode")
    if mode not in ("ok", "error500"):
        return web.Response(status=400, text=f"bad mode: {mode!r}")
    request.app[STATE].mode = mode
    return web.json_response({"mode": mode})


def create_app(username: str = FAKE_USERNAME, password: str = FAKE_PASSWORD) -> web.Application:
    app = web.Application()
    app[STATE] = PhoneState(username, password)
    app.router.add_post("/messages", messages)
    app.router.add_post("/webhooks", webhooks)
    app.router.add_get("/_fake/messages", list_messages)
    app.router.add_get("/_fake/webhooks", list_webhooks)
    app.router.add_post("/_fake/mode", set_mode)
    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake SMS Gateway for Android phone")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8091)
    args = parser.parse_args(argv)
    web.run_app(create_app(), host=args.host, port=args.port)


if __name__ == "__main__":
    main()

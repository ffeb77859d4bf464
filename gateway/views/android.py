"""SMS Gateway for Android's webhooks: `POST /callbacks/android`.

The signature is checked on the raw body before anything in it is used: a forged or replayed
request is answered 401 and stores nothing. Then as the other callbacks: 200 once durably stored,
a retried event (the same event id) answered 200 and changing nothing, 503 during a database
outage so that the app retries.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from aiohttp import web

from gateway.outbox.redelivery import NOTHING
from gateway.providers.android import WebhookError, parse_webhook, verify
from gateway.runtime import RUNTIME, Runtime
from gateway.storage.delivery import record_delivery
from gateway.storage.errors import database_unavailable
from gateway.storage.group_commit import ShuttingDown
from gateway.views.callbacks import frames
from gateway.views.common import plain, tokens_match
from gateway.views.inbound import ingest_sms, stored_answer

log = logging.getLogger(__name__)
ENDPOINT = "android"


@dataclass
class PhoneHealth:
    """When the phone last said it was alive (system:ping), for /healthz and /metrics."""

    last_ping: datetime | None = None

    def detail(self, now: datetime, stale_seconds: float) -> dict[str, object]:
        if self.last_ping is None:
            return {"status": "no ping yet"}
        age = max((now - self.last_ping).total_seconds(), 0.0)
        return {"status": "ok" if age <= stale_seconds else "stale", "last_ping_seconds_ago": round(age)}


PHONE = web.AppKey("android_phone", PhoneHealth)


def _refuse(runtime: Runtime, status: int, reason: str, remote: str | None) -> web.Response:
    runtime.metrics.callbacks.labels(ENDPOINT, "forbidden").inc()
    log.warning("android webhook refused (%d): %s (from %s)", status, reason, remote)
    return plain(status, reason)


async def webhook(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    callbacks = runtime.settings.callbacks
    # the app signs its requests: the query token is a second check, made when the URL carries one
    given = request.query.get("token")
    if given is not None and callbacks.token and not tokens_match(given, callbacks.token, callbacks.previous_token):
        return _refuse(runtime, 403, "wrong token", request.remote)
    started = time.perf_counter()
    body = await request.read()
    now = runtime.clock()
    try:
        verify(runtime.settings.android.signing_key, body, request.headers.get("X-Signature"),
               request.headers.get("X-Timestamp"), now)
        event = parse_webhook(body, runtime.settings.gateway.default_region)
    except WebhookError as exc:
        if exc.status == 401:
            return _refuse(runtime, 401, str(exc), request.remote)
        runtime.metrics.callbacks.labels(ENDPOINT, "bad_request").inc()
        return plain(400, str(exc))
    try:
        if event.sms is not None:
            return await _received(request, runtime, event.sms, started)
        if event.delivery is not None:
            async with runtime.sessions() as session, session.begin():
                acted = NOTHING
                if await record_delivery(session, event.delivery, now):
                    acted = await runtime.redelivery.act(session, event.delivery, now)
            runtime.metrics.delivery.labels(event.delivery.status).inc()
            runtime.after_commit(reports_stored=False, sms_queued=acted.queued)
        elif event.event == "system:ping":
            request.app[PHONE].last_ping = now
            runtime.metrics.android_last_ping.set(now.timestamp())
        else:
            log.warning("android webhook with unknown event %r (id %s) ignored", event.event[:40], event.event_id)
            runtime.metrics.callbacks.labels(ENDPOINT, "unknown_event").inc()
            return plain(200, "ignored: unknown event")
    except web.HTTPException:
        raise  # ingest's own answer for an SMS it could not store
    except Exception as exc:  # noqa: BLE001 - a delivery event the database would not take
        if database_unavailable(exc) or isinstance(exc, ShuttingDown):
            runtime.metrics.callbacks.labels(ENDPOINT, "unavailable").inc()
            return plain(503, "storage unavailable, retry later")
        runtime.metrics.callbacks.labels(ENDPOINT, "bad_request").inc()
        log.error("android event %s not stored: %s\n%s", event.event_id, type(exc).__name__, frames(exc))
        return plain(400, f"event could not be stored ({type(exc).__name__})")
    runtime.metrics.callbacks.labels(ENDPOINT, "stored").inc()
    return plain(200, "ok")


async def _received(request: web.Request, runtime: Runtime, sms, started: float) -> web.Response:
    """An inbound SMS: through the same group-committed ingest as every provider's."""
    return stored_answer(await ingest_sms(runtime, sms, ENDPOINT, started))

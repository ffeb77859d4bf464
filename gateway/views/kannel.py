"""Kannel's calls: `/callbacks/kannel/sms` (smsbox's sms-service) and `/callbacks/kannel/delivery`
(the dlr-url of each SMS sent), by GET or by POST with an urlencoded body.

As the other callbacks: the token first, 200 only once the message is committed, a retried message
id answered 200 and changing nothing, 503 during a database outage so that Kannel retries. A 200 to
the sms-service has an empty body: with `omit-empty` Kannel then sends nothing itself, and the
reply leaves through the outbox like every other SMS.
"""

from __future__ import annotations

import logging
import time

from aiohttp import web

from gateway.providers.africastalking import FormError
from gateway.providers.kannel import parse_delivery_report, parse_inbound_sms, raw_fields
from gateway.runtime import RUNTIME, Runtime
from gateway.views.callbacks import refuse_if_not_provider, store_delivery_report
from gateway.views.common import plain
from gateway.views.inbound import ingest_sms

log = logging.getLogger(__name__)
FORM = "application/x-www-form-urlencoded"


def stored() -> web.Response:
    """Nothing for Kannel to send."""
    return web.Response(status=200, body=b"", content_type="text/plain")


async def read_fields(request: web.Request) -> dict[str, bytes]:
    """The query's fields, and a POST body's (which win); raw bytes, for the text's sake."""
    fields = raw_fields(request.rel_url.raw_query_string)
    if request.method == "POST" and request.body_exists:
        if request.content_type not in (FORM, "application/octet-stream"):
            raise FormError("(body)", f"is {request.content_type[:60]!r}: send {FORM}")
        fields.update(raw_fields(await request.read()))
    return fields


async def inbound_sms(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    refuse_if_not_provider(request, "kannel_sms")
    started = time.perf_counter()
    try:
        sms = parse_inbound_sms(await read_fields(request), runtime.settings.gateway.default_region, runtime.clock())
    except FormError as exc:
        runtime.metrics.callbacks.labels("kannel_sms", "bad_request").inc()
        return plain(400, str(exc))
    await ingest_sms(runtime, sms, "kannel_sms", started)
    return stored()


async def delivery_report(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    refuse_if_not_provider(request, "kannel_delivery")
    try:
        report = parse_delivery_report(await read_fields(request))
    except FormError as exc:
        runtime.metrics.callbacks.labels("kannel_delivery", "bad_request").inc()
        return plain(400, str(exc))
    if report.state.value == "unknown":
        log.warning("Kannel delivery report with unknown type %r for %s", report.status[:10],
                    report.provider_message_id)
    return await store_delivery_report(runtime, report, "kannel_delivery")


def add_routes(app: web.Application) -> None:
    for path, handler in (("/callbacks/kannel/sms", inbound_sms), ("/callbacks/kannel/delivery", delivery_report)):
        app.router.add_get(path, handler)
        app.router.add_post(path, handler)

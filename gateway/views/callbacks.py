"""Africa's Talking callbacks: inbound SMS and delivery reports.

200 only once the message is committed; a provider retry of a stored id is answered
200 and changes nothing; a database outage is answered 503 so the provider retries. A message
that cannot be understood (an exception while handling it) is still stored, for review, and
answered 200; an error the database raises for that message alone is a 400, not a 503 that
every retry would meet again.
"""

from __future__ import annotations

import logging
import time
import traceback

from aiohttp import web

from gateway.kernel.envelopes import DeliveryReport, InboundSms, UssdScreen
from gateway.outbox.redelivery import NOTHING
from gateway.providers.africastalking import (
    FormError,
    parse_delivery_report,
    parse_inbound_sms,
    parse_ussd_end,
    parse_ussd_hop,
    render_ussd,
    source_allowed,
)
from gateway.runtime import RUNTIME, Runtime
from gateway.storage.delivery import record_delivery
from gateway.storage.errors import database_unavailable
from gateway.storage.group_commit import ShuttingDown
from gateway.storage.models import Message
from gateway.ussd import flow as ussd_flow
from gateway.views.common import plain, read_form, tokens_match
from gateway.views.inbound import ingest_sms, stored_answer

log = logging.getLogger(__name__)


def refuse_if_not_provider(request: web.Request, endpoint: str) -> None:
    """Token and source checks come before the body is read: a refused call leaves no trace."""
    runtime = request.app[RUNTIME]
    callbacks = runtime.settings.callbacks
    if callbacks.token and not tokens_match(request.query.get("token"), callbacks.token, callbacks.previous_token):
        runtime.metrics.callbacks.labels(endpoint, "forbidden").inc()
        log.warning("%s callback refused: wrong or missing token (from %s)", endpoint, request.remote)
        raise web.HTTPForbidden(text="wrong or missing token", content_type="text/plain")
    if not source_allowed(request.remote, callbacks.allow_from):
        runtime.metrics.callbacks.labels(endpoint, "forbidden").inc()
        log.warning("%s callback refused: source %s not allowed", endpoint, request.remote)
        raise web.HTTPForbidden(text="source network not allowed", content_type="text/plain")


async def inbound_sms(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    refuse_if_not_provider(request, "sms")
    started = time.perf_counter()
    form = await read_form(request)
    gw = runtime.settings.gateway
    try:
        sms = parse_inbound_sms(form, gw.default_region)
    except FormError as exc:
        runtime.metrics.callbacks.labels("sms", "bad_request").inc()
        return plain(400, str(exc))
    return stored_answer(await ingest_sms(runtime, sms, "sms", started, unstorable_field))


# The form field filling each message column (InboundSms names its attributes like the columns).
_FIELD_COLUMNS = {"id": "external_id", "from": "sender", "to": "short_code", "text": "text", "linkId": "link_id",
                  "networkCode": "network_code"}


def unstorable_field(sms: InboundSms) -> str:
    """The form field that a database refusing the raw message most likely refused: one longer
    than its column, or holding a NUL (PostgreSQL text cannot)."""
    columns = Message.__table__.c
    for field_name, column in _FIELD_COLUMNS.items():
        value = getattr(sms, column)
        limit = getattr(columns[column].type, "length", None)
        if value is not None and ((limit and len(value) > limit) or "\x00" in value):
            return f"field '{field_name}'"
    return "the message"


async def delivery_report(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    refuse_if_not_provider(request, "delivery")
    form = await read_form(request)
    try:
        report = parse_delivery_report(form)
    except FormError as exc:
        runtime.metrics.callbacks.labels("delivery", "bad_request").inc()
        return plain(400, str(exc))
    if report.state.value == "unknown":
        log.warning("delivery report with unknown status %r for %s", report.status[:40], report.provider_message_id)
    return await store_delivery_report(runtime, report, "delivery")


async def store_delivery_report(runtime: Runtime, report: DeliveryReport, endpoint: str) -> web.Response:
    """Store a delivery report once and act on the failure it reports, in one transaction, and answer the
    provider (Africa's Talking and Kannel; the phone's events answer in their own batch)."""
    try:
        async with runtime.sessions() as session, session.begin():
            acted = NOTHING
            if await record_delivery(session, report, runtime.clock()):
                acted = await runtime.redelivery.act(session, report, runtime.clock())
    except Exception as exc:  # noqa: BLE001
        if database_unavailable(exc):
            runtime.metrics.callbacks.labels(endpoint, "unavailable").inc()
            return plain(503, "storage unavailable, retry later")
        runtime.metrics.callbacks.labels(endpoint, "bad_request").inc()
        log.error("%s report for %s not stored: %s\n%s", endpoint, report.provider_message_id, type(exc).__name__,
                  frames(exc))
        return plain(400, f"delivery report could not be stored ({type(exc).__name__})")
    runtime.metrics.callbacks.labels(endpoint, "stored").inc()
    runtime.metrics.delivery.labels(report.status if report.state.value != "unknown" else "unknown").inc()
    runtime.after_commit(reports_stored=False, sms_queued=acted.queued)
    return plain(200, "ok")


async def ussd(request: web.Request) -> web.Response:
    """USSD hop: always `text/plain` `CON ...` or `END ...` (errors too, so the phone shows them)."""
    runtime: Runtime = request.app[RUNTIME]
    refuse_if_not_provider(request, "ussd")
    started = time.perf_counter()
    form = await read_form(request)
    gw = runtime.settings.gateway
    try:
        hop = parse_ussd_hop(form, gw.default_region, gw.accepted_regions)
    except FormError as exc:
        runtime.metrics.ussd_hops.labels("bad_request").inc()
        return plain(400, str(exc))
    codes = runtime.settings.africastalking.ussd_codes
    if codes and hop.service_code not in codes:
        runtime.metrics.ussd_hops.labels("unknown_service").inc()
        return plain(200, render_ussd(UssdScreen("Service code not in use.", final=True)))
    try:
        answer = await runtime.answer_hop(hop)
    except Exception as exc:  # noqa: BLE001 - the phone shows a screen, never an HTTP error
        if database_unavailable(exc) or isinstance(exc, ShuttingDown):
            runtime.metrics.ussd_hops.labels("unavailable").inc()
        else:
            runtime.metrics.ussd_hops.labels("error").inc()
            log.error("USSD hop of session %s failed: %s\n%s", hop.session_id, type(exc).__name__, frames(exc))
        return plain(200, render_ussd(UssdScreen("Service temporarily unavailable. Please try again later.", True)))
    runtime.metrics.ussd_hops.labels("duplicate" if answer.duplicate else "ok").inc()
    runtime.metrics.ussd_latency.observe(time.perf_counter() - started)
    if answer.report_stored or answer.sms_queued:  # a USSD report is confirmed on screen, not by SMS
        runtime.after_commit(reports_stored=answer.report_stored, sms_queued=answer.sms_queued)
    return plain(200, render_ussd(answer.screen))


async def ussd_event(request: web.Request) -> web.Response:
    runtime: Runtime = request.app[RUNTIME]
    refuse_if_not_provider(request, "ussd_event")
    form = await read_form(request)
    try:
        event = parse_ussd_end(form)
    except FormError as exc:
        return plain(400, str(exc))
    try:
        if runtime.ussd_live is not None:
            await runtime.ussd_live.flush()  # the row holds the session's latest hop before it is ended
        async with runtime.sessions() as session, session.begin():
            ended = await ussd_flow.record_session_end(session, event, runtime.clock())
        if ended is not None and runtime.ussd_live is not None:
            runtime.ussd_live.ended(event.session_id, *ended)
    except Exception as exc:  # noqa: BLE001
        if database_unavailable(exc):
            return plain(503, "storage unavailable, retry later")
        log.error("USSD end of session %s not stored: %s\n%s", event.session_id, type(exc).__name__, frames(exc))
        return plain(400, f"session end could not be stored ({type(exc).__name__})")
    return plain(200, "ok")


def frames(exc: BaseException) -> str:
    """Where an exception was raised, without its text: that may quote a message or a number."""
    return "".join(traceback.format_tb(exc.__traceback__)).rstrip()

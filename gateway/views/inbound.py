"""What every provider's inbound SMS callback does once its envelope is read: hand it to the
group-committed ingest, answer 503 (the provider retries) only for a database outage, and count
what became of it. The provider's view formats its own 200."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from aiohttp import web

from gateway.kernel.envelopes import InboundSms
from gateway.runtime import Runtime
from gateway.sms.ingest import IngestOutcome
from gateway.storage.errors import database_unavailable
from gateway.storage.group_commit import ShuttingDown

log = logging.getLogger(__name__)


def _the_message(sms: InboundSms) -> str:
    return "the message"


async def ingest_sms(runtime: Runtime, sms: InboundSms, endpoint: str, started: float,
                     unstorable: Callable[[InboundSms], str] = _the_message) -> IngestOutcome:
    """The outcome of storing `sms`; raises a 503 or 400 answer when it could not be stored at all."""
    try:
        outcome = await runtime.ingest.submit(sms)
    except Exception as exc:  # noqa: BLE001 - what ingest could not even keep for review
        if database_unavailable(exc) or isinstance(exc, ShuttingDown):
            runtime.metrics.callbacks.labels(endpoint, "unavailable").inc()
            log.error("SMS %s not stored, database unavailable: %s", sms.external_id, type(exc).__name__)
            raise web.HTTPServiceUnavailable(text="storage unavailable, retry later",
                                             content_type="text/plain") from None
        runtime.metrics.callbacks.labels(endpoint, "bad_request").inc()
        log.error("SMS %s refused, the database would not store it: %s", sms.external_id, type(exc).__name__)
        raise web.HTTPBadRequest(text=f"{unstorable(sms)} could not be stored ({type(exc).__name__})",
                                 content_type="text/plain") from None
    runtime.metrics.ingest_latency.observe(time.perf_counter() - started)
    if outcome.duplicate:
        runtime.metrics.callbacks.labels(endpoint, "duplicate").inc()
        return outcome
    runtime.metrics.callbacks.labels(endpoint, "review" if outcome.review else "stored").inc()
    runtime.metrics.parsed.labels(outcome.kind, outcome.lang or "fr").inc()
    if outcome.reply_status == "rate_limited":
        runtime.metrics.replies_withheld.inc()
    runtime.after_commit(reports_stored=outcome.report_id is not None or outcome.kind == "command",
                         sms_queued=outcome.reply_status == "queued" or outcome.kind == "command")
    return outcome


def stored_answer(outcome: IngestOutcome) -> web.Response:
    """The plain-text 200 of the callbacks whose provider reads it (Africa's Talking, the phone)."""
    if outcome.duplicate:
        return web.Response(status=200, text="duplicate: already stored", content_type="text/plain")
    text = "stored: kept for review" if outcome.review else f"stored: {outcome.kind}"
    return web.Response(status=200, text=text, content_type="text/plain")

"""The application factory, used by `ewg serve` and by the tests alike."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from aiohttp import web

from alerts.api import PartnerArea
from gateway.alerting.rules_reload import RulesHolder
from gateway.alerting.start import Alerting
from gateway.config import Settings
from gateway.gazetteer.places import commune_name, ussd_search
from gateway.gazetteer.reference import load_reference_data
from gateway.kernel.envelopes import InboundSms, UssdHop
from gateway.kernel.tasks import stop_gracefully
from gateway.kernel.taxonomy import load_taxonomy
from gateway.metrics import Metrics
from gateway.outbox.partners import PartnerSender
from gateway.outbox.providers import build_providers
from gateway.outbox.redelivery import Redelivery
from gateway.outbox.sender import OutboxSender
from gateway.providers.base import SmsProvider
from gateway.providers.registry import LOG, Providers
from gateway.runtime import RUNTIME, Runtime, utc_now
from gateway.sms.alert_commands import AlertCommands
from gateway.sms.ingest import IngestContext, IngestOutcome, ingest_sms_batch
from gateway.storage.db import (
    check_sqlite_library,
    create_engine,
    is_sqlite,
    is_sqlite_in_memory,
    session_factory,
)
from gateway.storage.group_commit import GroupCommitter
from gateway.storage.migrate import schema_is_current
from gateway.storage.secrets import load_pseudonym_secret
from gateway.ussd.flow import (
    ActionDone,
    HopAnswer,
    LiveAction,
    answer_from_memory,
    handle_hops,
    load_callers,
    perform_actions,
)
from gateway.ussd.memory import LiveSessions
from gateway.views import routes

log = logging.getLogger(__name__)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class StaleSchema(RuntimeError):
    """The database is not at the code's migration head; the message names `ewg db upgrade`."""


@web.middleware
async def no_tracebacks(request: web.Request, handler: Handler) -> web.StreamResponse:
    """An unexpected error is logged with its traceback and answered with a plain 500."""
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:  # noqa: BLE001
        log.exception("unhandled error on %s %s", request.method, request.path)
        return web.Response(status=500, text="internal error", content_type="text/plain")


def create_app(settings: Settings, clock: Callable[[], datetime] = utc_now,
               provider: SmsProvider | Providers | None = None) -> web.Application:
    app = web.Application(client_max_size=settings.http.max_body_bytes, middlewares=[no_tracebacks])
    runtime = Runtime(settings=settings, metrics=Metrics(), clock=clock, provider=provider)
    app[RUNTIME] = runtime
    app.cleanup_ctx.extend([database_ctx, reference_data_ctx, ingest_ctx, sender_ctx, partners_ctx, alerts_ctx])
    routes.setup(app)
    return app


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    if is_sqlite(runtime.settings.database_url):
        check_sqlite_library()
    runtime.engine = create_engine(runtime.settings.database_url, runtime.settings.database.echo)
    runtime.sessions = session_factory(runtime.engine)
    current, detail = await schema_is_current(runtime.engine)
    if not current:
        await runtime.engine.dispose()
        raise StaleSchema(detail)
    yield
    await runtime.engine.dispose()


async def reference_data_ctx(app: web.Application) -> AsyncIterator[None]:
    """Taxonomy, gazetteer, parser and the rules (checked against the gazetteer's areas): loaded
    once, shared by SMS and USSD."""
    runtime = app[RUNTIME]
    runtime.taxonomy = load_taxonomy()
    runtime.gazetteer, runtime.parser = await load_reference_data(runtime.sessions, runtime.settings)
    partners = tuple(PartnerArea(p.name, p.areas) for p in runtime.settings.spillover.partner_list)
    runtime.rules_holder = RulesHolder(runtime.settings.rules_path, runtime.gazetteer, partners)
    runtime.rules_holder.load()
    # Never from the database. Without one, `ewg serve` has already refused to start unless in demo
    # mode, whose pseudonyms may be throw-away.
    runtime.pseudonym_secret = load_pseudonym_secret(runtime.settings) or secrets.token_hex(32)
    yield


async def ingest_ctx(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    gazetteer = runtime.gazetteer
    runtime.ingest_ctx = IngestContext(
        settings=runtime.settings,
        taxonomy=runtime.taxonomy,
        parse=lambda text, lang, home: runtime.parser.parse(text, lang=lang, home=home),
        commune_name=lambda pcode: commune_name(gazetteer, pcode),
        alerts=AlertCommands(
            rules_in_force=runtime.rules_holder,
            gazetteer=gazetteer,
            alert_expiry=runtime.settings.outbox.alert_expiry,
            observe_time_to_ack=runtime.metrics.time_to_ack.observe,
        ),
        key_secret=runtime.pseudonym_secret,
        locate=ussd_search(gazetteer),
    )

    async def process(batch: list[InboundSms]) -> list[IngestOutcome]:
        return await ingest_sms_batch(runtime.sessions, runtime.ingest_ctx, batch, runtime.clock())

    runtime.ussd_search = ussd_search(gazetteer)
    runtime.ingest = GroupCommitter(process, on_batch=runtime.metrics.group_commit_size.labels("sms").observe)
    runtime.ingest.start()
    async with ussd_sessions(runtime):
        yield
    await runtime.ingest.stop()


@asynccontextmanager
async def ussd_sessions(runtime: Runtime) -> AsyncIterator[None]:
    """USSD hops: sessions in memory, only hops with an action committed (one process), or every
    hop committed with its session row (replicas sharing a database); see settings.toml [ussd]."""
    settings = runtime.settings.ussd
    if not settings.uses_memory(runtime.dialect):
        async def process_hops(batch: list[UssdHop]) -> list[HopAnswer]:
            async with runtime.sessions() as session, session.begin():
                return await handle_hops(session, runtime.ingest_ctx, runtime.ussd_search, batch, runtime.clock())

        runtime.ussd = GroupCommitter(process_hops, on_batch=runtime.metrics.group_commit_size.labels("ussd").observe)
        runtime.answer_hop = runtime.ussd.submit
        runtime.ussd.start()
        yield
        await runtime.ussd.stop()
        return

    async def process_actions(batch: list[LiveAction]) -> list[ActionDone]:
        async with runtime.sessions() as session, session.begin():
            return await perform_actions(session, runtime.ingest_ctx, batch, runtime.clock())

    url = runtime.settings.database_url
    read_engine = None if is_sqlite_in_memory(url) or not is_sqlite(url) else create_engine(url, read_only=True)
    store = LiveSessions(runtime.sessions, session_factory(read_engine) if read_engine else runtime.sessions,
                         load_callers, settings.flush_seconds, timedelta(minutes=settings.idle_minutes), runtime.clock)
    runtime.ussd_live = store
    runtime.ussd = GroupCommitter(process_actions, on_batch=runtime.metrics.group_commit_size.labels("ussd").observe)
    runtime.answer_hop = lambda hop: answer_from_memory(store, runtime.ingest_ctx, runtime.ussd_search, hop,
                                                        runtime.clock(), runtime.ussd.submit)
    runtime.ussd.start()
    stopping = asyncio.Event()
    flusher = asyncio.create_task(store.run_forever(stopping), name="ussd-sessions")
    try:
        yield
    finally:
        await runtime.ussd.stop()
        await stop_gracefully([flusher], stopping.set)
        if read_engine is not None:
            await read_engine.dispose()


async def sender_ctx(app: web.Application) -> AsyncIterator[None]:
    runtime = app[RUNTIME]
    if isinstance(runtime.provider, Providers):
        providers = runtime.provider
    else:
        providers = Providers.single(runtime.provider) if runtime.provider else build_providers(runtime.settings)
    tries = runtime.settings.providers.tries_before_failover
    runtime.sender = OutboxSender(runtime.sessions, providers, runtime.settings.outbox, runtime.metrics,
                                  runtime.clock, runtime.dialect, tries, runtime.settings.costs)
    runtime.redelivery = Redelivery(runtime.settings.outbox, runtime.sender.provider_for, tries, runtime.metrics)
    task = asyncio.create_task(runtime.sender.run_forever(), name="outbox-sender")
    log.info("outbound SMS: %s", "log only" if providers.order == [LOG] else "through " + ", ".join(providers.order))
    yield
    await stop_gracefully([task], runtime.sender.request_stop)
    await providers.close()


async def partners_ctx(app: web.Application) -> AsyncIterator[None]:
    """CAP messages to partner gateways ([[spillover.partners]]), when there are any."""
    runtime = app[RUNTIME]
    partners = runtime.settings.spillover.partner_list
    if not partners:
        yield
        return
    sender = PartnerSender(runtime.sessions, partners, runtime.settings.outbox, runtime.taxonomy,
                           runtime.settings.dashboard.cap_sender, runtime.clock)
    task = asyncio.create_task(sender.run_forever(), name="partner-sender")
    log.info("spillover partners: %s", ", ".join(f"{p.name} ({', '.join(p.areas)})" for p in partners))
    yield
    await stop_gracefully([task], sender.request_stop)


async def alerts_ctx(app: web.Application) -> AsyncIterator[None]:
    """The scorer loop, the timed jobs and rule reloading; `OK <code>` and retractions reach the
    alert service through the ingest context (AlertCommands), whatever this context's place."""
    runtime = app[RUNTIME]
    alerting = Alerting(runtime, runtime.rules_holder)
    alerting.start()
    runtime.score_once = alerting.scorer.score_once
    runtime.scheduler = alerting.scheduler
    yield
    await alerting.stop()

"""Liveness/readiness and Prometheus metrics.

/metrics is behind the API token on the main port, or (`metrics.port`) only on a port of its own
bound to 127.0.0.1. A scrape never touches the database: the gauges that need it are refreshed
every `metrics.refresh_seconds` by a task, so scraping cannot hold SQLite's one connection."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from gateway.config import ConfigError
from gateway.dashboard.provider_health import pinged
from gateway.kernel.tasks import stop_gracefully
from gateway.outbox.health import ProviderHealth
from gateway.runtime import RUNTIME, Runtime
from gateway.storage.migrate import schema_is_current
from gateway.storage.models import Outbox
from gateway.storage.outbox import KINDS, PENDING
from gateway.storage.partner_deliveries import STATES as DELIVERY_STATES
from gateway.storage.partner_deliveries import delivery_counts
from gateway.storage.spend import daily_spend, month_budget
from gateway.views.android import PHONE
from gateway.views.api import require_api_token
from gateway.views.common import DATABASE_DOWN

log = logging.getLogger(__name__)


async def healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    detail: dict[str, object] = {"status": "ok"}
    try:
        async with runtime.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        detail["database"] = "ok"
        current, schema_detail = await schema_is_current(runtime.engine)
        detail["schema"] = schema_detail
        if not current:
            detail["status"] = "error"
    except DATABASE_DOWN as exc:
        detail.update(status="error", database=f"unreachable: {type(exc).__name__}")
    detail["rules"] = "loaded" if runtime.rules is not None else "none"
    if runtime.settings.android.sends_for_real:  # a dead phone is the likeliest outage in the field
        detail["android"] = request.app[PHONE].detail(runtime.clock(), runtime.settings.android.ping_stale_seconds)
    return web.json_response(detail, status=200 if detail["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    """The main port's /metrics: `Authorization: Bearer <api.token>`, like the API."""
    require_api_token(request)
    return metrics_without_token(request)


def metrics_without_token(request: web.Request) -> web.Response:
    """The metrics port's /metrics, reachable from the machine itself only."""
    runtime = request.app[RUNTIME]
    if runtime.sender is not None:  # judged at each scrape: it needs no database
        phone = request.app[PHONE].detail(runtime.clock(), runtime.settings.android.ping_stale_seconds)
        for name in runtime.sender.provider_names:
            seen = runtime.sender.health.get(name) or ProviderHealth()
            runtime.metrics.provider_healthy.labels(name).set(int(seen.healthy(pinged(name, phone))))
    body = generate_latest(runtime.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _metrics_only(request: web.Request) -> web.Response:
    return metrics_without_token(request)


async def metrics_ctx(app: web.Application) -> AsyncIterator[None]:
    """The task refreshing the database gauges and, when `metrics.port` is set, the metrics port."""
    runtime = app[RUNTIME]
    stopping = asyncio.Event()
    refresher = asyncio.create_task(refresh_forever(runtime, stopping), name="metrics-refresh")
    runner = None
    port = runtime.settings.metrics.port
    if port:
        own = web.Application()
        own[RUNTIME] = runtime
        own[PHONE] = app[PHONE]
        own.router.add_get("/metrics", _metrics_only)
        runner = web.AppRunner(own, access_log=None)
        await runner.setup()
        try:
            await web.TCPSite(runner, "127.0.0.1", port).start()
        except OSError as exc:
            await runner.cleanup()
            await stop_gracefully([refresher], stopping.set)
            raise ConfigError(f"setting metrics.port: cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        log.info("metrics: http://127.0.0.1:%d/metrics", port)
    try:
        yield
    finally:
        if runner is not None:
            await runner.cleanup()
        await stop_gracefully([refresher], stopping.set)


async def refresh_forever(runtime: Runtime, stopping: asyncio.Event) -> None:
    interval = max(runtime.settings.metrics.refresh_seconds, 0.05)
    while not stopping.is_set():
        try:
            await refresh_outbox_gauges(runtime)
            await refresh_spend_gauges(runtime)
            await refresh_partner_gauges(runtime)
        except DATABASE_DOWN as exc:  # the gauges keep their last values until the database is back
            log.warning("metrics: database gauges not refreshed: %s", type(exc).__name__)
        except Exception as exc:  # noqa: BLE001 - a failed refresh must not end the task
            log.error("metrics: database gauges not refreshed: %s", type(exc).__name__)
        try:
            await asyncio.wait_for(stopping.wait(), timeout=interval)
        except TimeoutError:
            pass


async def refresh_outbox_gauges(runtime: Runtime) -> None:
    now = runtime.clock()
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Outbox.kind, func.count(), func.min(Outbox.created_at))
            .where(Outbox.status.in_(PENDING)).group_by(Outbox.kind)
        )
        oldest = None
        for kind in KINDS:
            runtime.metrics.outbox_depth.labels(kind).set(0)
        for kind, count, first in rows:
            runtime.metrics.outbox_depth.labels(kind).set(count)
            if first is not None:
                first = first if first.tzinfo else first.replace(tzinfo=now.tzinfo)
                oldest = first if oldest is None or first < oldest else oldest
        runtime.metrics.outbox_oldest_age.set((now - oldest).total_seconds() if oldest else 0)
        limits = runtime.settings.gateway
        over_limit = (
            select(Outbox.recipient).where(
                Outbox.kind == "reply", Outbox.created_at >= now - timedelta(minutes=limits.reply_window_minutes))
            .group_by(Outbox.recipient).having(func.count() >= limits.reply_limit)
        ).subquery()
        flooding = (await session.execute(select(func.count()).select_from(over_limit))).scalar_one()
        runtime.metrics.flood_numbers.set(flooding)


async def refresh_spend_gauges(runtime: Runtime) -> None:
    now = runtime.clock()
    metrics = runtime.metrics
    async with runtime.sessions() as session:
        budget = await month_budget(session, runtime.settings.costs, now)
        today = await daily_spend(session, now.date())
    for provider in ("africastalking", "android", "kannel"):
        metrics.sms_spend_today.labels(provider).set(0)
    for line in today:
        metrics.sms_spend_today.labels(line.provider).set(line.amount)
    metrics.sms_spend_month.set(budget.spent)
    metrics.sms_budget.set(budget.budget)
    metrics.sms_budget_used.set(budget.share)
    metrics.sms_budget_warning.set(1 if budget.warning else 0)


async def refresh_partner_gauges(runtime: Runtime) -> None:
    """CAP messages to partner gateways by state; each configured partner shows every state, 0 included."""
    async with runtime.sessions() as session:
        counts = await delivery_counts(session)
    for partner in runtime.settings.spillover.partner_list:
        for state in DELIVERY_STATES:
            counts.setdefault((partner.name, state), 0)
    for (partner, state), n in counts.items():
        runtime.metrics.partner_deliveries.labels(partner, state).set(n)

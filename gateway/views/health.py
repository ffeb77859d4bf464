"""Liveness/readiness and Prometheus metrics."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select, text

from gateway.runtime import RUNTIME
from gateway.storage.migrate import schema_is_current
from gateway.storage.models import Outbox
from gateway.views.common import DATABASE_DOWN


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
    return web.json_response(detail, status=200 if detail["status"] == "ok" else 503)


async def metrics(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    try:
        await refresh_outbox_gauges(runtime)
    except DATABASE_DOWN:
        pass  # serve the counters we have; the gauges keep their last values
    body = generate_latest(runtime.metrics.registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def refresh_outbox_gauges(runtime) -> None:  # noqa: ANN001
    now = runtime.clock()
    async with runtime.sessions() as session:
        rows = await session.execute(
            select(Outbox.kind, func.count(), func.min(Outbox.created_at))
            .where(Outbox.status.in_(("queued", "sending"))).group_by(Outbox.kind)
        )
        oldest = None
        for kind in ("reply", "alert", "ack_notice", "digest"):
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

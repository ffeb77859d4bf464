"""CAP 1.2 for other early-warning systems: /feeds/cap.atom and /feeds/cap/<alert id>.xml (API token;
a partner's token sees the alerts of its scope only, and another area's alert is a 404)."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.feeds.cap import CAP_MIME, CapAlert, atom_feed, cap_xml
from gateway.runtime import RUNTIME
from gateway.storage.models import AdminUnit, Alert, AlertReport, Report
from gateway.views.api import api_principal
from gateway.views.common import DATABASE_DOWN, path_id, plain

FEED_ENTRIES = 200


async def cap_alerts(session: AsyncSession, alert_id: int | None = None, scope: Scope = EVERYWHERE) -> list[CapAlert]:
    query = (select(Alert, AdminUnit).join(AdminUnit, AdminUnit.pcode == Alert.commune_pcode)
             .order_by(Alert.updated_at.desc(), Alert.id.desc()).limit(FEED_ENTRIES))
    if (inside := scope.where(Alert.commune_pcode)) is not None:
        query = query.where(inside)
    if alert_id is not None:
        query = query.where(Alert.id == alert_id)
    rows = (await session.execute(query)).all()
    stats = {}
    if rows:
        stats = {alert_id: (n, top) for alert_id, n, top in await session.execute(
            select(AlertReport.alert_id, func.count(func.distinct(Report.sender_key)), func.max(Report.count))
            .join(Report, Report.id == AlertReport.report_id)
            .where(AlertReport.alert_id.in_([a.id for a, _ in rows]), Report.status == "valid")
            .group_by(AlertReport.alert_id))}
    return [CapAlert(a.id, a.code, a.incident, a.level, a.status, a.escalation_step, a.opened_at, a.updated_at,
                     unit.pcode, unit.name, unit.lat, unit.lon, *stats.get(a.id, (0, None)))
            for a, unit in rows]


async def cap_feed(request: web.Request) -> web.Response:
    # ?token= is accepted here because feed readers cannot set an Authorization header.
    reader = await api_principal(request, query_token_allowed=True)
    runtime = request.app[RUNTIME]
    try:
        async with runtime.sessions() as session:
            alerts = await cap_alerts(session, scope=reader.scope)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    base = f"{request.scheme}://{request.host}"
    body = atom_feed(alerts, runtime.taxonomy, runtime.settings.dashboard.cap_sender, base, runtime.clock())
    return web.Response(body=body, content_type="application/atom+xml", charset="utf-8")


async def cap_alert(request: web.Request) -> web.Response:
    reader = await api_principal(request, query_token_allowed=True)  # feed readers follow the feed's links
    runtime = request.app[RUNTIME]
    alert_id = path_id(request, "alert_id", "alert")
    try:
        async with runtime.sessions() as session:
            alerts = await cap_alerts(session, alert_id, reader.scope)
    except DATABASE_DOWN:
        return plain(503, "storage unavailable")
    if not alerts:
        return plain(404, f"no alert {alert_id}")
    body = cap_xml(alerts[0], runtime.taxonomy, runtime.settings.dashboard.cap_sender)
    return web.Response(body=body, content_type=CAP_MIME, charset="utf-8")

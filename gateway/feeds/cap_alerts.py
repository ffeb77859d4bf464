"""Alerts as the CAP documents see them (the feeds and the messages to partner gateways): each with
its commune's name and centre, its independent reports and the largest count any gave."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.dashboard.scope import EVERYWHERE, Scope
from gateway.feeds.cap import CapAlert
from gateway.outbox.reached import reached_by
from gateway.storage.models import AdminUnit, Alert, AlertReport, Report

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
    # who was reached: for one alert's document, not for every entry of the feed
    reached = await reached_by(session, [a.id for a, _ in rows]) if alert_id is not None else {}
    return [CapAlert(a.id, a.code, a.incident, a.level, a.status, a.escalation_step, a.opened_at, a.updated_at,
                     unit.pcode, unit.name, unit.lat, unit.lon, *stats.get(a.id, (0, None)),
                     tuple(reached.get(a.id, ())))
            for a, unit in rows]

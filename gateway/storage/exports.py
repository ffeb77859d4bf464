"""Reports and alerts as plain rows (CLI exports, /api): never a reporter's number or name."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import ColumnElement, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.redact import redact
from gateway.storage.models import (
    AdminUnit,
    Alert,
    AlertAction,
    AlertReport,
    CommitteeMember,
    Message,
    Report,
    Reporter,
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _within(column: ColumnElement, areas: tuple[str, ...]) -> ColumnElement:
    """Rows whose P-code lies in one of the areas (P-codes nest: an area covers what it prefixes)."""
    return or_(*(column.startswith(area, autoescape=True) for area in areas)) if areas else false()


async def report_rows(session: AsyncSession, *, since: datetime | None = None, until: datetime | None = None,
                      commune: str | None = None, region: str | None = None, incident: str | None = None,
                      status: str | None = None, limit: int | None = None,
                      within: tuple[str, ...] | None = None) -> list[dict]:
    """`within`: a reader's scope (P-codes of areas); None: everywhere."""
    # The reporter's name only to redact it from free text stored before redaction on ingest.
    query = (select(Report, Message.external_id, Reporter.name).join(Message, Message.id == Report.message_id)
             .outerjoin(Reporter, Reporter.id == Report.reporter_id).order_by(Report.received_at, Report.id))
    if since:
        query = query.where(Report.received_at >= since)
    if until:
        query = query.where(Report.received_at < until)
    if commune:
        query = query.where(Report.commune_pcode == commune)
    if region:
        query = query.where(Report.commune_pcode.startswith(region))
    if incident:
        query = query.where(Report.incident == incident)
    if status:
        query = query.where(Report.status == status)
    if within is not None:
        query = query.where(_within(Report.commune_pcode, within))
    if limit:
        query = query.limit(limit)
    return [
        {"id": r.id, "ref": r.ref, "external_id": external_id, "channel": r.channel,
         "received_at": _iso(r.received_at), "incident": r.incident, "secondary": r.secondary,
         "commune": r.commune_pcode, "village": r.village, "count": r.count, "status": r.status,
         "trust": r.trust, "reporter": r.sender_key, "lang": r.lang,
         "free_text": redact(r.free_text, name)}
        for r, external_id, name in await session.execute(query)
    ]


async def acknowledgers(session: AsyncSession, alerts: list[Alert]) -> dict[int, str]:
    """Who took each acknowledged alert in charge: the committee member's name (or role) for an
    `OK <code>` by SMS, the dashboard user's name for an acknowledgement on the dashboard; never a number."""
    acked = [a for a in alerts if a.acknowledged_at]
    names: dict[int, str] = {}
    member_ids = {a.acknowledged_by for a in acked if a.acknowledged_by}
    if member_ids:
        members = {m.id: m.name or m.role for m in (await session.execute(
            select(CommitteeMember).where(CommitteeMember.id.in_(member_ids)))).scalars()}
        names.update({a.id: members[a.acknowledged_by] for a in acked if a.acknowledged_by in members})
    on_dashboard = [a.id for a in acked if not a.acknowledged_by]
    if on_dashboard:
        for alert_id, actor in await session.execute(
                select(AlertAction.alert_id, AlertAction.actor).where(
                    AlertAction.alert_id.in_(on_dashboard), AlertAction.action == "acknowledged")
                .order_by(AlertAction.id)):
            names.setdefault(alert_id, actor)
    return names


async def alert_rows(session: AsyncSession, *, status: str | None = None, commune: str | None = None,
                     region: str | None = None, incident: str | None = None, since: datetime | None = None,
                     limit: int | None = None, within: tuple[str, ...] | None = None) -> list[dict]:
    """`within`: a reader's scope (P-codes of areas); None: everywhere. `outcome`: what the person who
    resolved it from the dashboard recorded (response category and note), or None."""
    query = select(Alert).order_by(Alert.opened_at, Alert.id)
    if within is not None:
        query = query.where(_within(Alert.commune_pcode, within))
    if status:
        query = query.where(Alert.status == status)
    if commune:
        query = query.where(Alert.commune_pcode == commune)
    if region:
        query = query.where(Alert.commune_pcode.startswith(region))
    if incident:
        query = query.where(Alert.incident == incident)
    if since:
        query = query.where(Alert.opened_at >= since)
    if limit:
        query = query.limit(limit)
    alerts = list((await session.execute(query)).scalars())
    links: dict[int, list[int]] = defaultdict(list)
    outcomes: dict[int, dict] = {}
    if alerts:
        for alert_id, report_id in await session.execute(
            select(AlertReport.alert_id, AlertReport.report_id)
            .where(AlertReport.alert_id.in_([a.id for a in alerts])).order_by(AlertReport.report_id)
        ):
            links[alert_id].append(report_id)
        for action in (await session.execute(
                select(AlertAction).where(AlertAction.alert_id.in_([a.id for a in alerts]),
                                          AlertAction.action == "resolved").order_by(AlertAction.id))).scalars():
            outcomes[action.alert_id] = {"category": action.category, "note": action.note, "by": action.actor,
                                         "at": _iso(action.at)}
    acknowledged_by = await acknowledgers(session, alerts)
    return [
        {"id": a.id, "code": a.code, "commune": a.commune_pcode, "incident": a.incident, "level": a.level,
         "status": a.status, "score": round(a.score, 3), "opened_at": _iso(a.opened_at),
         "updated_at": _iso(a.updated_at), "acknowledged_at": _iso(a.acknowledged_at),
         "acknowledged_by": acknowledged_by.get(a.id), "resolved_at": _iso(a.resolved_at), "escalation_step": a.escalation_step,
         "report_ids": links.get(a.id, []), "outcome": outcomes.get(a.id)}
        for a in alerts
    ]


async def alert_geojson(session: AsyncSession, rows: list[dict]) -> dict:
    pcodes = {row["commune"] for row in rows}
    units = {u.pcode: u for u in (await session.execute(
        select(AdminUnit).where(AdminUnit.pcode.in_(pcodes)))).scalars()} if pcodes else {}
    features = []
    for row in rows:
        unit = units.get(row["commune"])
        geometry = ({"type": "Point", "coordinates": [unit.lon, unit.lat]}
                    if unit and unit.lat is not None and unit.lon is not None else None)
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {**row, "commune_name": unit.name if unit else None}})
    return {"type": "FeatureCollection", "features": features}

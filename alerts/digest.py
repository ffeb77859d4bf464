"""The daily digest: one SMS per committee member summing up the last 24 hours in their
area (reports per incident, alerts still open). Counts only: no reporter appears."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.kernel.i18n import render
from gateway.kernel.segments import to_gsm7
from gateway.kernel.taxonomy import Taxonomy, load_taxonomy
from gateway.storage.models import Alert, CommitteeMember, Report
from gateway.storage.outbox import PRIORITY_NOTICE, OutboundSms, enqueue

DIGEST = "Daily summary {area}: {reports} report(s), {open} open alert(s).{details}"
DETAILS = " {items}."
QUIET = "Daily summary {area}: no report in 24 h."
MAX_ITEMS = 4
OPEN_STATUSES = ("open", "escalated", "acknowledged")


def digest_text(lang: str, area_name: str, by_incident: Counter, open_alerts: int, taxonomy: Taxonomy) -> str:
    area = to_gsm7(area_name)[:30]
    total = sum(by_incident.values())
    if not total and not open_alerts:
        return render(lang, QUIET, area=area)
    ranked = sorted(by_incident.items(), key=lambda item: (-item[1], item[0]))[:MAX_ITEMS]
    items = ", ".join(f"{taxonomy.by_id(incident).label(lang)} {n}" for incident, n in ranked)
    details = render(lang, DETAILS, items=items) if items else ""
    return render(lang, DIGEST, area=area, reports=total, open=open_alerts, details=details)


async def send_daily_digests(session: AsyncSession, now: datetime, area_name, *,
                             only_with_activity: bool = True, taxonomy: Taxonomy | None = None) -> int:
    """Queue today's digest for every active member (once a day: the dedup key holds the date).
    `area_name(pcode)` names an area. Returns how many were queued."""
    taxonomy = taxonomy or load_taxonomy()
    since = now - timedelta(hours=24)
    members = (await session.execute(select(CommitteeMember).where(CommitteeMember.active.is_(True)))).scalars().all()
    per_area: dict[str, tuple[Counter, int]] = {}
    messages = []
    for member in members:
        area = member.area_pcode
        if area not in per_area:
            reports = Counter({incident: n for incident, n in await session.execute(
                select(Report.incident, func.count()).where(
                    Report.commune_pcode.startswith(area), Report.received_at >= since, Report.status == "valid")
                .group_by(Report.incident))})
            open_alerts = (await session.execute(select(func.count()).select_from(Alert).where(
                Alert.commune_pcode.startswith(area), Alert.status.in_(OPEN_STATUSES)))).scalar_one()
            per_area[area] = (reports, open_alerts)
        reports, open_alerts = per_area[area]
        if only_with_activity and not reports and not open_alerts:
            continue
        messages.append(OutboundSms(
            dedup_key=f"digest:{member.id}:{now.date().isoformat()}", kind="digest", recipient=member.phone,
            body=digest_text(member.lang, area_name(area) or area, reports, open_alerts, taxonomy),
            priority=PRIORITY_NOTICE, expires_at=now + timedelta(hours=6)))
    return len(await enqueue(session, messages, now))

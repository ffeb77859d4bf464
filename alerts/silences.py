"""Silences set on the dashboard (table alert_silences): stored, audited by the gateway, and read into
the rules beside the [[silence]] tables of the rule files, so the pipeline's silence stage withholds
their notifications the same way. A silence ends at its `until` by itself, or when lifted."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.rules import RuleSet, Silence
from gateway.storage.models import AlertSilence

MAX_REASON = 200


async def standing_silences(session: AsyncSession, now: datetime) -> list[AlertSilence]:
    return list((await session.execute(
        select(AlertSilence).where(AlertSilence.until > now, AlertSilence.lifted_at.is_(None))
        .order_by(AlertSilence.until, AlertSilence.id))).scalars())


async def with_stored_silences(session: AsyncSession, rules: RuleSet, now: datetime) -> RuleSet:
    stored = await standing_silences(session, now)
    if not stored:
        return rules
    return replace(rules, silences=rules.silences + tuple(
        Silence(s.area_pcode, s.incident, s.until, s.reason) for s in stored))


async def add_silence(session: AsyncSession, *, area: str, incident: str | None, until: datetime, reason: str,
                      by: str, now: datetime, alert_id: int | None = None) -> AlertSilence:
    """A silence from now until `until` (the caller checked the area, the incident and the time)."""
    silence = AlertSilence(area_pcode=area, incident=incident, until=until, reason=reason.strip()[:MAX_REASON],
                           alert_id=alert_id, created_by=by, created_at=now)
    session.add(silence)
    await session.flush()
    return silence


async def lift_silence(session: AsyncSession, silence_id: int, by: str, now: datetime) -> AlertSilence | None:
    """Ends a standing silence now; None when there is no such silence still standing."""
    lifted = await session.execute(
        update(AlertSilence).where(AlertSilence.id == silence_id, AlertSilence.lifted_at.is_(None),
                                   AlertSilence.until > now)
        .values(lifted_at=now, lifted_by=by).execution_options(synchronize_session=False))
    if lifted.rowcount != 1:
        return None
    return await session.get(AlertSilence, silence_id)

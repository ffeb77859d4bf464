"""What a person does to an alert from the dashboard: acknowledge, add a note, resolve with an outcome
(a response category and a short note), silence. Each acts on the same alert rows and rules as the
SMS and rule-file paths (store.UNACKNOWLEDGED, lifecycle.close_alert, the pipeline's silence stage)
and leaves a row in alert_actions: the alert's timeline."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.config import DEFAULT_EXPIRY
from alerts.outcomes import AlertChange
from alerts.service import normalise_code, resolve_alert
from alerts.silences import add_silence
from alerts.texts import ack_notice_text
from gateway.storage.models import Alert, AlertAction, AlertSilence
from gateway.storage.outbox import PRIORITY_NOTICE, OutboundSms, enqueue

log = logging.getLogger(__name__)

# What was done in response: the outcome record's category (ECOWARN's "from warning to response").
RESPONSE_CATEGORIES = ("security_forces", "local_mediation", "humanitarian_aid", "evacuation", "monitoring",
                       "false_alarm", "no_response", "other")
MAX_NOTE = 500


class ActionError(ValueError):
    """An action the alert's state refuses (already closed, already acknowledged); says why in one line."""


@dataclass(frozen=True)
class ActionLine:
    at: datetime
    action: str
    actor: str
    category: str | None
    note: str | None


def _note(note: str | None) -> str | None:
    return (note or "").strip()[:MAX_NOTE] or None


async def find_alert(session: AsyncSession, code: str) -> Alert | None:
    return (await session.execute(select(Alert).where(Alert.code == normalise_code(code)))).scalar_one_or_none()


async def _act(session: AsyncSession, alert: Alert, action: str, by: str, now: datetime,
               category: str | None = None, note: str | None = None) -> None:
    session.add(AlertAction(alert_id=alert.id, at=now, action=action, actor=by, category=category, note=_note(note)))
    await session.flush()


async def acknowledge_as(session: AsyncSession, code: str, by: str, now: datetime, *,
                         alert_expiry: timedelta = DEFAULT_EXPIRY) -> Alert:
    """A dashboard user takes charge, like a member's `OK <code>`: escalation stops and the members
    who were notified are told who took charge."""
    alert = await find_alert(session, code)
    if alert is None:
        raise ActionError(f"no alert {code[:12]!r}")
    taken = await session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.status.in_(store.UNACKNOWLEDGED))
        .values(status="acknowledged", acknowledged_at=now, escalation_due_at=None, updated_at=now)
        .execution_options(synchronize_session=False))
    await session.refresh(alert)
    if taken.rowcount != 1:
        raise ActionError(f"alert {alert.code} is {alert.status}: it cannot be acknowledged")
    await enqueue(session, [
        OutboundSms(dedup_key=f"ack:{alert.id}:{m.phone}", kind="ack_notice", recipient=m.phone,
                    body=ack_notice_text(m.lang, alert.code, by), priority=PRIORITY_NOTICE,
                    alert_id=alert.id, expires_at=now + alert_expiry)
        for m in await store.notified_members(session, alert.id)
    ], now)
    await _act(session, alert, "acknowledged", by, now)
    log.info("alert %s acknowledged from the dashboard by %s", alert.code, by)
    return alert


async def add_note(session: AsyncSession, code: str, by: str, note: str, now: datetime) -> Alert:
    alert = await find_alert(session, code)
    if alert is None:
        raise ActionError(f"no alert {code[:12]!r}")
    if not _note(note):
        raise ActionError("a note cannot be empty")
    await _act(session, alert, "note", by, now, note=note)
    return alert


async def resolve_with_outcome(session: AsyncSession, code: str, by: str, category: str, note: str, now: datetime,
                               *, gazetteer: object = None, alert_expiry: timedelta = DEFAULT_EXPIRY) -> AlertChange:
    """Resolves the alert (its members are told, as for `ewg alerts resolve`) and records the outcome."""
    if category not in RESPONSE_CATEGORIES:
        raise ActionError(f"unknown response category {category[:40]!r}")
    if not _note(note):
        raise ActionError("say in a short note what was done")
    change = await resolve_alert(session, code, by, now, gazetteer=gazetteer, alert_expiry=alert_expiry)
    if change is None:
        raise ActionError(f"alert {code[:12]} is not standing: it cannot be resolved")
    alert = await session.get(Alert, change.alert_id)
    await _act(session, alert, "resolved", by, now, category=category, note=note)
    return change


async def silence_alert(session: AsyncSession, code: str, by: str, *, area: str, incident: str | None,
                        until: datetime, reason: str, now: datetime) -> AlertSilence:
    """A stored silence of the alert's area (its commune, department or region: the caller checks
    it is on the alert's path), for its incident or all; it expires by itself at `until`."""
    alert = await find_alert(session, code)
    if alert is None:
        raise ActionError(f"no alert {code[:12]!r}")
    if until <= now:
        raise ActionError("a silence must end in the future")
    if not reason.strip():
        raise ActionError("a silence needs a reason")
    silence = await add_silence(session, area=area, incident=incident, until=until, reason=reason, by=by, now=now,
                                alert_id=alert.id)
    await _act(session, alert, "silenced", by, now,
               note=f"{area} {incident or '*'} until {until:%Y-%m-%d %H:%M} UTC: {reason.strip()}")
    return silence


async def actions_of(session: AsyncSession, alert_id: int) -> list[ActionLine]:
    return [ActionLine(a.at, a.action, a.actor, a.category, a.note) for a in (await session.execute(
        select(AlertAction).where(AlertAction.alert_id == alert_id).order_by(AlertAction.at, AlertAction.id)
    )).scalars()]

"""Timed work, run by the scheduler: each a function of (session, rules, now), safe when two
replicas run it at once (every state change is a conditional UPDATE that only one can win)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.areas import as_gazetteer
from alerts.config import DEFAULT_EXPIRY, AlertConfig
from alerts.lifecycle import change_of, close_alert
from alerts.notify import notify
from alerts.outcomes import AlertChange, ChangeKind, SilentReporter
from alerts.pipeline import ALERT_STAGES, Situation, Trigger
from alerts.rules import RuleSet
from alerts.silences import with_stored_silences
from alerts.spillover import spill_over, tell_partners_closed
from alerts.spillover_inbound import warn_held_partner_alerts
from gateway.storage.models import Alert, Outbox, Report, Reporter, Spillover

log = logging.getLogger(__name__)


async def config_for(session: AsyncSession, rules: RuleSet | None, gazetteer: object,
                     alert_expiry: timedelta, now: datetime | None = None) -> AlertConfig:
    """The given gazetteer (or the gateway's place matcher), else admin_units read now. Given `now`,
    the rules gain the silences set on the dashboard that still hold (alerts.silences)."""
    places = as_gazetteer(gazetteer) if gazetteer is not None else await store.load_gazetteer(session)
    if rules is not None and now is not None:
        rules = await with_stored_silences(session, rules, now)
    return AlertConfig(rules, places, alert_expiry)


async def run_escalations(session: AsyncSession, rules: RuleSet, now: datetime, *, gazetteer: object = None,
                          alert_expiry: timedelta = DEFAULT_EXPIRY) -> list[AlertChange]:
    """Nobody acknowledged within the delay: move to the next escalation step, which routes to
    wider committees (department, then region)."""
    due = (await session.execute(
        select(Alert).where(Alert.status.in_(store.UNACKNOWLEDGED), Alert.escalation_due_at <= now)
        .order_by(Alert.escalation_due_at)
    )).scalars().all()
    if not due:
        return []
    config = await config_for(session, rules, gazetteer, alert_expiry, now)
    changes = []
    for alert in due:
        step = alert.escalation_step + 1
        rule = config.rules.rule_for(config.gazetteer.area_path(alert.commune_pcode), alert.incident)
        next_due = now + rule.escalate_after if step < config.rules.max_escalation_step else None
        won = await session.execute(
            update(Alert).where(Alert.id == alert.id, Alert.escalation_step == alert.escalation_step,
                                Alert.status.in_(store.UNACKNOWLEDGED))
            .values(escalation_step=step, status="escalated", escalation_due_at=next_due, updated_at=now)
            .execution_options(synchronize_session=False))
        if won.rowcount != 1:
            continue
        await session.refresh(alert)
        evidence = await store.alert_evidence(session, alert.id)
        outcome = await notify(session, config, alert, Trigger.ESCALATED, now,
                               corroborated=evidence.reporters >= config.rules.scoring.corroboration)
        alert.escalation_due_at = next_due  # notify() must not push the next step further away
        changes.append(change_of(alert, ChangeKind.ESCALATED, alert.level, outcome.sent, outcome.withheld))
    return changes


async def run_repeats(session: AsyncSession, rules: RuleSet, now: datetime, *, gazetteer: object = None,
                      alert_expiry: timedelta = DEFAULT_EXPIRY) -> list[AlertChange]:
    """Unacknowledged alerts are repeated once their repeat interval has passed; an alert never
    notified (silence or quiet hours at the time) is sent as soon as nothing holds it back."""
    shortest = min((r.repeat_after for r in rules.defaults.values()), default=timedelta(hours=1))
    candidates = (await session.execute(
        select(Alert).where(Alert.status.in_(store.UNACKNOWLEDGED),
                            (Alert.notified_at.is_(None)) | (Alert.notified_at <= now - shortest))
    )).scalars().all()
    if not candidates:
        return []
    config = await config_for(session, rules, gazetteer, alert_expiry, now)
    changes = []
    for alert in candidates:
        path = config.gazetteer.area_path(alert.commune_pcode)
        rule = config.rules.rule_for(path, alert.incident)
        last = store.as_utc(alert.notified_at)
        if last is not None and now - last < rule.repeat_after:
            continue
        trigger = Trigger.OPENED if last is None else Trigger.REPEAT
        situation = Situation(alert.code, alert.incident, alert.level, trigger, path, now, False, last,
                              await store.others_open(session, alert))
        if any(stage(situation, config.rules, rule) for stage in ALERT_STAGES):
            continue  # still held back; recorded when it was first withheld
        won = await session.execute(
            update(Alert).where(Alert.id == alert.id, Alert.notified_at.is_(None) if last is None
                                else Alert.notified_at == alert.notified_at)
            .values(notified_at=now).execution_options(synchronize_session=False))
        if won.rowcount != 1:
            continue
        await session.refresh(alert)
        alert.notified_at = last  # the pipeline judges the repeat against the previous notification
        evidence = await store.alert_evidence(session, alert.id)
        outcome = await notify(session, config, alert, trigger, now,
                               corroborated=evidence.reporters >= config.rules.scoring.corroboration)
        alert.notified_at = now
        changes.append(change_of(alert, ChangeKind.REPEATED, alert.level, outcome.sent, outcome.withheld))
    return changes


async def run_held_spillovers(session: AsyncSession, rules: RuleSet, now: datetime, *, gazetteer: object = None,
                              alert_expiry: timedelta = DEFAULT_EXPIRY) -> int:
    """A neighbour a silence or quiet hours kept from a warning is warned once nothing holds it
    back, while the alert is still active: as an alert's own first notification is sent late
    rather than never (run_repeats); so is a member held back from a partner gateway's warning.
    Returns the warnings queued."""
    held = (await session.execute(
        select(Alert).where(Alert.status.in_(store.ACTIVE), select(Spillover.id).where(
            Spillover.alert_id == Alert.id, Spillover.level < Alert.level).exists()).order_by(Alert.id)
    )).scalars().all()
    config = await config_for(session, rules, gazetteer, alert_expiry, now)
    sent = 0
    for alert in held:
        sent += (await spill_over(session, config, alert, now, held_only=True)).sent
    return sent + await warn_held_partner_alerts(session, config, now)


async def auto_resolve(session: AsyncSession, rules: RuleSet, now: datetime, *,
                       gazetteer: object = None, alert_expiry: timedelta = DEFAULT_EXPIRY) -> list[AlertChange]:
    """Close alerts with no new report for their quiet period (resolve_after_hours)."""
    active = (await session.execute(select(Alert).where(Alert.status.in_(store.ACTIVE)))).scalars().all()
    if not active:
        return []
    config = await config_for(session, rules, gazetteer, alert_expiry)
    changes = []
    for alert in active:
        rule = config.rules.rule_for(config.gazetteer.area_path(alert.commune_pcode), alert.incident)
        if now - store.as_utc(alert.last_report_at) < rule.resolve_after:
            continue
        hours = int(rule.resolve_after / timedelta(hours=1))
        if await close_alert(session, config, alert, now, f"auto: no report for {hours}h", tell_members=False):
            changes.append(change_of(alert, ChangeKind.RESOLVED, alert.level))
    return changes


@dataclass(frozen=True)
class ExpiryResult:
    messages: int  # queued SMS marked expired
    alerts: tuple[str, ...]  # codes of alerts none of whose SMS could be sent in time


EXPIRED_TEXT = "not sent before expiry"


async def expire_stale_outbox(session: AsyncSession, now: datetime, *,
                              alert_expiry: timedelta = DEFAULT_EXPIRY) -> ExpiryResult:
    """An SMS still waiting at its expires_at is marked expired, never sent late; so is one left
    `sending` by a sender that died (its lease ran out). An open alert whose every SMS expired is
    itself marked expired: nobody was told. The outbox sender runs this in its claim transaction
    (gateway.outbox.sender), the only place outbox expiry happens."""
    expired = (await session.execute(
        update(Outbox).where(
            Outbox.expires_at.is_not(None), Outbox.expires_at <= now,
            (Outbox.status == "queued") | ((Outbox.status == "sending") & (Outbox.claimed_until < now)))
        .values(status="expired", last_error=EXPIRED_TEXT, claimed_until=None)
        .returning(Outbox.alert_id).execution_options(synchronize_session=False)
    )).scalars().all()
    codes = await expire_alerts_left_unsent(session, {alert_id for alert_id in expired if alert_id is not None}, now,
                                            alert_expiry=alert_expiry)
    return ExpiryResult(len(expired), codes)


async def expire_alerts_left_unsent(session: AsyncSession, alert_ids: set[int], now: datetime, *,
                                    alert_expiry: timedelta = DEFAULT_EXPIRY) -> tuple[str, ...]:
    """Of these alerts (some of whose SMS just expired), mark expired the unacknowledged ones with
    no alert SMS sent or still able to go, and tell their partners; returns their codes."""
    codes = []
    for alert_id in sorted(alert_ids):
        still_counts = (await session.execute(select(func.count()).select_from(Outbox).where(
            Outbox.alert_id == alert_id, Outbox.kind == "alert", Outbox.status != "expired",
            Outbox.status != "failed"))).scalar_one()
        if still_counts:
            continue
        code = (await session.execute(
            update(Alert).where(Alert.id == alert_id, Alert.status.in_(store.UNACKNOWLEDGED))
            .values(status="expired", escalation_due_at=None, updated_at=now)
            .returning(Alert.code).execution_options(synchronize_session=False))).scalar_one_or_none()
        if code:
            codes.append(code)
            log.warning("alert %s expired: none of its SMS could be sent in time", code)
            await tell_partners_closed(session, await session.get(Alert, alert_id, populate_existing=True), now,
                                       alert_expiry)
    return tuple(codes)


async def silent_reporters(session: AsyncSession, days: int, now: datetime) -> list[SilentReporter]:
    """Approved focal points with no report for `days` days: a silence is itself a signal."""
    last_report = (select(Report.reporter_id, func.max(Report.received_at).label("last"))
                   .group_by(Report.reporter_id).subquery())
    rows = await session.execute(
        select(Reporter.id, Reporter.commune_pcode, Reporter.created_at, last_report.c.last)
        .outerjoin(last_report, last_report.c.reporter_id == Reporter.id)
        .where(Reporter.status == "approved")
        .order_by(Reporter.id)
    )
    cutoff = now - timedelta(days=days)
    silent = []
    for reporter_id, commune, created_at, last in rows:
        since = store.as_utc(last) or store.as_utc(created_at)
        if since <= cutoff:
            silent.append(SilentReporter(reporter_id, commune, store.as_utc(last), (now - since).days))
    return silent

"""The alert service on the database: score new reports, acknowledge, re-score after a retraction,
resolve, and
(re-exported from alerts.jobs and alerts.replay) the timed work and the backtest.

Functions take an AsyncSession (the caller owns the transaction and commits) and `now`.
`gazetteer` is anything with `area_path(pcode)` and `name(pcode)` (alerts.areas.Gazetteer), or the
gateway's place matcher (`unit(pcode)`); when left out it is read from admin_units."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.config import DEFAULT_EXPIRY, AlertConfig
from alerts.jobs import (
    auto_resolve,
    config_for,
    expire_stale_outbox,
    run_escalations,
    run_repeats,
    silent_reporters,
)
from alerts.lifecycle import change_of, close_alert
from alerts.notify import notify
from alerts.outcomes import AckOutcome, AckResult, AlertChange, ChangeKind
from alerts.pipeline import Trigger
from alerts.replay import replay
from alerts.rules import RuleSet
from alerts.scoring import Score, score_window
from alerts.spillover import acknowledge_vigilance
from alerts.spillover_inbound import (
    InboundOutcome,
    InboundWarning,
    acknowledge_partner_vigilance,
    receive_partner_warning,
)
from alerts.texts import ack_notice_text
from gateway.storage.models import Alert, AlertReport, CommitteeMember, Report
from gateway.storage.outbox import PRIORITY_NOTICE, OutboundSms, enqueue

__all__ = ["acknowledge", "auto_resolve", "expire_stale_outbox", "replay", "report_retracted", "resolve_alert",
           "run_escalations", "run_repeats", "score_pending_reports", "silent_reporters"]

log = logging.getLogger(__name__)


@cache
def _unscored(batch_size: int):  # built once per batch size (see alerts.store)
    return (select(Report.id, Report.commune_pcode, Report.incident, Report.received_at, Report.status)
            .where(Report.scored_at.is_(None))
            .order_by(Report.received_at, Report.id).limit(batch_size).with_for_update(skip_locked=True))


_MARK_SCORED = update(Report.__table__).where(Report.__table__.c.id.in_(bindparam("ids", expanding=True))).values(
    scored_at=bindparam("now"))


async def score_pending_reports(session: AsyncSession, rules: RuleSet, gazetteer: object, now: datetime, *,
                                alert_expiry: timedelta = DEFAULT_EXPIRY, batch_size: int = 500) -> list[AlertChange]:
    """Score reports stored with scored_at NULL: open or raise alerts, link reports, queue alert SMS.

    Reports are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite serialises writers), and
    their communes locked while scores are computed so two replicas cannot open twin alerts. The
    windows and standing alerts of every pair in the pass are read in two queries: a pair that
    reaches no level and has no alert costs no further statement."""
    await session.flush()  # read through the connection (plain rows, no ORM machinery per row): see pending changes
    claimed = (await (await session.connection()).execute(_unscored(batch_size))).all()
    if not claimed:
        return []
    await session.execute(_MARK_SCORED, {"ids": [row.id for row in claimed], "now": now})
    # ordered: the earliest report's pair first
    pairs = list(dict.fromkeys((row.commune_pcode, row.incident) for row in claimed
                               if row.commune_pcode and row.incident in rules.defaults))
    if not pairs:
        return []
    config = await config_for(session, rules, gazetteer, alert_expiry, now)
    await store.lock_communes(session, (commune for commune, _ in pairs))
    pair_rules = {(c, i): config.rules.rule_for(config.gazetteer.area_path(c), i) for c, i in pairs}
    since = {pair: now - rule.window for pair, rule in pair_rules.items()}
    windows, window_sizes = await store.windows_senders(session, since)
    alerts = await store.active_alerts(session, pairs)
    fresh: dict[tuple[str, str], list[int]] = {pair: [] for pair in pairs}  # claimed now, and counting
    for row in claimed:
        pair = (row.commune_pcode, row.incident)
        if pair in fresh and row.status != "retracted" and store.as_utc(row.received_at) > since[pair]:
            fresh[pair].append(row.id)
    scores = {pair: score_window(windows[pair], pair_rules[pair], config.rules.scoring, now) for pair in pairs}
    notified = [pair for pair in pairs if pair in alerts or scores[pair].level > 0]
    if not notified:
        return []
    reads = await store.pass_reads(session, (config.gazetteer.area_path(commune) for commune, _ in notified),
                                   alerts.values())
    changes = []
    for pair in notified:
        # a new alert links every report of its window: read them unless they are all fresh
        everything = fresh[pair] if window_sizes[pair] == len(fresh[pair]) else None
        change = await _score_pair(session, config, pair, alerts.get(pair), scores[pair], fresh[pair], everything,
                                   since[pair], now, reads)
        if change:
            changes.append(change)
    await reads.write(session)
    return changes


async def _score_pair(session: AsyncSession, config: AlertConfig, pair: tuple[str, str], alert: Alert | None,
                      score: Score, fresh: list[int], everything: list[int] | None, since: datetime, now: datetime,
                      reads: store.PassReads) -> AlertChange | None:
    """`fresh`: the reports of this pair scored in this pass that count (in its window, not
    retracted); `everything`: all that count, when known without a query. An alert being opened
    is linked to every report that counts; a standing one already is, and gains only the fresh ones."""
    commune, incident = pair
    if alert is None:
        if score.level == 0:
            return None
        alert = Alert(code=await store.new_alert_code(session), commune_pcode=commune, incident=incident,
                      level=score.level, score=score.value, status="open", opened_at=now, updated_at=now,
                      last_report_at=now, escalation_step=0)
        session.add(alert)
        await session.flush()
        reads.opened(alert)
        counted = everything if everything is not None else await store.window_report_ids(session, pair, since)
        return await _apply(session, config, alert, score, counted, Trigger.OPENED, 0, now, reads)
    previous = alert.level
    alert.score, alert.updated_at, alert.last_report_at = score.value, now, now
    newly_counted = sorted(fresh)
    if score.level > previous:
        alert.level = score.level
        return await _apply(session, config, alert, score, newly_counted, Trigger.RAISED, previous, now, reads)
    return await _apply(session, config, alert, score, newly_counted, Trigger.UPDATED, previous, now, reads)


async def _apply(session: AsyncSession, config: AlertConfig, alert: Alert, score: Score, link: Iterable[int],
                 trigger: Trigger, previous: int, now: datetime, reads: store.PassReads) -> AlertChange:
    reads.links.extend({"alert_id": alert.id, "report_id": report_id} for report_id in link)
    outcome = await notify(session, config, alert, trigger, now, corroborated=score.corroborated, reads=reads)
    kind = {Trigger.OPENED: ChangeKind.OPENED, Trigger.RAISED: ChangeKind.RAISED}.get(trigger, ChangeKind.UPDATED)
    log.info("alert %s %s %s/%s L%d score %.2f reporters %d", alert.code, kind.value, alert.commune_pcode,
             alert.incident, alert.level, score.value, score.reporters)
    return change_of(alert, kind, previous, outcome.sent, outcome.withheld)


def normalise_code(code: str) -> str:
    return code.strip().upper()


async def acknowledge(session: AsyncSession, phone: str, code: str, now: datetime, *, gazetteer: object = None,
                      alert_expiry: timedelta = DEFAULT_EXPIRY) -> AckResult:
    """`OK <code>` from `phone` (E.164). A member of the alert's commune, department or region
    committee takes charge: escalation stops and the other notified members are told who."""
    code = normalise_code(code)
    alert = (await session.execute(select(Alert).where(Alert.code == code))).scalar_one_or_none()
    if alert is None:  # perhaps a partner gateway's alert this gateway warned of
        return await acknowledge_partner_vigilance(session, phone, code, now)
    path = (await config_for(session, None, gazetteer, alert_expiry)).gazetteer.area_path(alert.commune_pcode)
    members = {m.area_pcode: m for m in (await session.execute(select(CommitteeMember).where(
        CommitteeMember.phone == phone, CommitteeMember.area_pcode.in_(path.pcodes),
        CommitteeMember.active.is_(True)))).scalars()}
    member = next((members[p] for p in reversed(path.pcodes) if p in members), None)
    if member is None:  # perhaps a neighbouring commune's committee, warned by the alert's spillover
        return await acknowledge_vigilance(session, alert, phone, now)
    if alert.status in ("resolved", "expired"):
        return AckResult(AckOutcome.CLOSED, code, member.lang)
    taken = await session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.status.in_(store.UNACKNOWLEDGED))
        .values(status="acknowledged", acknowledged_at=now, acknowledged_by=member.id, escalation_due_at=None,
                updated_at=now)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(alert)
    if taken.rowcount != 1:
        earlier = await session.get(CommitteeMember, alert.acknowledged_by) if alert.acknowledged_by else None
        return AckResult(AckOutcome.ALREADY_ACKNOWLEDGED, code, member.lang, earlier.name if earlier else None)
    others = [m for m in await store.notified_members(session, alert.id) if m.phone != phone]
    await enqueue(session, [
        OutboundSms(dedup_key=f"ack:{alert.id}:{m.phone}", kind="ack_notice", recipient=m.phone,
                    body=ack_notice_text(m.lang, code, member.name), priority=PRIORITY_NOTICE,
                    alert_id=alert.id, expires_at=now + alert_expiry)
        for m in others
    ], now)
    log.info("alert %s acknowledged by committee member %d", code, member.id)
    return AckResult(AckOutcome.ACKNOWLEDGED, code, member.lang, member.name, len(others))


async def warn_of_partner_alert(session: AsyncSession, rules: RuleSet, warning: InboundWarning, now: datetime, *,
                                gazetteer: object = None, alert_expiry: timedelta = DEFAULT_EXPIRY) -> InboundOutcome:
    """A partner gateway's CAP warning (POST /api/cap/inbound): its communes' committees warned as a
    spillover, with the silences set on the dashboard that still hold."""
    config = await config_for(session, rules, gazetteer, alert_expiry, now)
    return await receive_partner_warning(session, config, warning, now)


async def report_retracted(session: AsyncSession, rules: RuleSet, report_id: int, gazetteer: object,
                           now: datetime, *, alert_expiry: timedelta = DEFAULT_EXPIRY) -> str | None:
    """Re-score after a report was marked retracted (a reporter's `FAUX <ref>`). An alert left with no valid report behind it
    is cancelled and its recipients told (returns its code); otherwise its score is recomputed."""
    alert = (await session.execute(
        select(Alert).join(AlertReport, AlertReport.alert_id == Alert.id)
        .where(AlertReport.report_id == report_id, Alert.status.in_(store.ACTIVE))
    )).scalar_one_or_none()
    if alert is None:
        return None
    config = await config_for(session, rules, gazetteer, alert_expiry)
    if (await store.alert_evidence(session, alert.id)).reporters == 0:
        await close_alert(session, config, alert, now, "cancelled: report retracted", cancelled=True)
        return alert.code
    rule = rules.rule_for(config.gazetteer.area_path(alert.commune_pcode), alert.incident)
    score = score_window(await store.window_reports(session, alert.commune_pcode, alert.incident, now - rule.window),
                         rule, rules.scoring, now)
    alert.score, alert.updated_at = score.value, now
    return None


async def resolve_alert(session: AsyncSession, code: str, by: str, now: datetime, *, gazetteer: object = None,
                        alert_expiry: timedelta = DEFAULT_EXPIRY) -> AlertChange | None:
    """An admin closes an alert; the members who received it are told. None: no such active alert."""
    alert = (await session.execute(select(Alert).where(Alert.code == normalise_code(code)))).scalar_one_or_none()
    if alert is None or alert.status not in store.ACTIVE:
        return None
    config = await config_for(session, None, gazetteer, alert_expiry)
    if not await close_alert(session, config, alert, now, f"by {by}"):
        return None
    return change_of(alert, ChangeKind.RESOLVED, alert.level)

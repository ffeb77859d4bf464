"""Route, decide and queue the notifications of one alert, recording every decision."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.areas import AreaPath
from alerts.config import AlertConfig
from alerts.pipeline import Decision, OtherAlert, Situation, Trigger, decide
from alerts.routing import Member, Recipient, route_alert
from alerts.spillover import spill_over
from alerts.texts import AlertFacts, alert_text, local_time_of
from gateway.kernel.phones import mask_phone
from gateway.storage.models import Alert, Notification
from gateway.storage.outbox import PRIORITY_ALERT, OutboundSms

log = logging.getLogger(__name__)

# The neighbours hear of an alert when it opens and when its level rises, never of its reminders.
SPILL_TRIGGERS = (Trigger.OPENED, Trigger.RAISED)


@dataclass(frozen=True)
class NotifyOutcome:
    sent: int
    withheld: int


def alert_dedup_key(alert_id: int, level: int, phone: str, trigger: Trigger, now: datetime) -> str:
    """The same first notification is queued once whatever happens upstream; a repeat gets its own key."""
    if trigger in (Trigger.REPEAT, Trigger.UPDATED):
        return f"alert:{alert_id}:L{level}:R{int(now.timestamp()) // 60}:{phone}"
    return f"alert:{alert_id}:L{level}:{phone}"


async def notify(session: AsyncSession, config: AlertConfig, alert: Alert, trigger: Trigger, now: datetime,
                 *, corroborated: bool, reads: store.PassReads | None = None) -> NotifyOutcome:
    """`reads`: a scoring pass's members, open alerts and sent levels read for all its alerts at
    once; its decisions are then recorded with the pass's (PassReads.write)."""
    path = config.gazetteer.area_path(alert.commune_pcode)
    rule = config.rules.rule_for(path, alert.incident)
    state = await read_alert_state(session, alert, path, reads)
    recipients = route_alert(config.rules.routes, path, state.members, level=alert.level, corroborated=corroborated,
                             escalation_step=alert.escalation_step)
    situation = Situation(
        code=alert.code, incident=alert.incident, level=alert.level, trigger=trigger, path=path, now=now,
        acknowledged=alert.status == "acknowledged", last_notified_at=store.as_utc(alert.notified_at),
        others_open=state.others_open, escalation_step=alert.escalation_step,
    )
    decisions = decide(situation, config.rules, rule, recipients, state.sent_levels)
    if trigger in SPILL_TRIGGERS:  # before a commune with no committee returns: its neighbours may have one
        await spill_over(session, config, alert, now)
    if not decisions:
        await _record(session, reads, [{
            "alert_id": alert.id, "member_id": None, "level": alert.level, "decision": "withheld",
            "reason": "no recipient: no committee member routed", "outbox_id": None, "created_at": now}])
        log.warning("alert %s L%d: no committee member to notify in %s", alert.code, alert.level, path.commune)
        return NotifyOutcome(0, 1)

    messages = await _messages(session, config, alert, trigger, now, decisions, reads)
    outbox_ids = await store.enqueue_by_key(session, list(messages.values()), now)
    rows = _decision_rows(alert, trigger, now, decisions, messages, outbox_ids)
    await _record(session, reads, rows)
    sent = sum(row["decision"] == "sent" for row in rows)
    if sent:
        alert.notified_at = now
        if alert.status != "acknowledged" and alert.escalation_step < config.rules.max_escalation_step:
            alert.escalation_due_at = now + rule.escalate_after
    return NotifyOutcome(sent, len(rows) - sent)


@dataclass(frozen=True)
class AlertState:
    """What an alert's notifications are decided from: its areas' committee members, the other
    alerts standing in its commune, and the highest level each member has already been sent."""

    members: list[Member]
    others_open: tuple[OtherAlert, ...]
    sent_levels: dict[int, int]


async def read_alert_state(session: AsyncSession, alert: Alert, path: AreaPath,
                           reads: store.PassReads | None) -> AlertState:
    """From the scoring pass's reads when there are some, else three queries of this alert's own."""
    if reads:
        return AlertState(reads.members_for(path), reads.others_open(alert), reads.sent_levels(alert.id))
    return AlertState(await store.members_for(session, path), await store.others_open(session, alert),
                      await store.sent_levels(session, alert.id))


async def _messages(session: AsyncSession, config: AlertConfig, alert: Alert, trigger: Trigger, now: datetime,
                    decisions: list[tuple[Recipient, Decision]],
                    reads: store.PassReads | None) -> dict[int, OutboundSms]:
    """The SMS of each member to be sent one (by member id), one text per language."""
    if not any(decision.send for _, decision in decisions):
        return {}  # the evidence query grows with the alert's reports: only read for a text to send
    if reads:
        await reads.write_links(session)  # the evidence counts the reports linked in this pass
    evidence = await store.alert_evidence(session, alert.id)
    facts = AlertFacts(alert.code, alert.level, alert.incident, config.gazetteer.name(alert.commune_pcode),
                       evidence.reporters, evidence.max_count,
                       store.minutes_between(store.as_utc(alert.opened_at), now), store.as_utc(alert.last_report_at))
    texts: dict[str, str] = {}
    messages: dict[int, OutboundSms] = {}
    for recipient, decision in decisions:
        if decision.send:
            lang = recipient.member.lang
            if lang not in texts:
                texts[lang] = alert_text(lang, trigger, facts, config.taxonomy, local_time_of(alert.commune_pcode))
            key = alert_dedup_key(alert.id, alert.level, recipient.member.phone, trigger, now)
            messages[recipient.member.id] = OutboundSms(
                dedup_key=key, kind="alert", recipient=recipient.member.phone, body=texts[lang],
                priority=PRIORITY_ALERT, alert_id=alert.id, expires_at=now + config.alert_expiry)
    return messages


def _decision_rows(alert: Alert, trigger: Trigger, now: datetime, decisions: list[tuple[Recipient, Decision]],
                   messages: dict[int, OutboundSms], outbox_ids: dict[str, int]) -> list[dict]:
    """One notifications row per recipient, with its reason; a message already queued is withheld."""
    rows = []
    for recipient, decision in decisions:
        message = messages.get(recipient.member.id)
        outbox_id = outbox_ids.get(message.dedup_key) if message else None
        if message and outbox_id is None:
            decision_text, reason = "withheld", "duplicate: already queued"
        elif decision.send:
            decision_text, reason = "sent", f"{decision.reason}; {recipient.reason}"
        else:
            decision_text, reason = "withheld", decision.reason
        rows.append({"alert_id": alert.id, "member_id": recipient.member.id, "level": alert.level,
                     "decision": decision_text, "reason": reason[:60], "outbox_id": outbox_id, "created_at": now})
        log.info("alert %s L%d %s %s -> %s: %s", alert.code, alert.level, trigger.value,
                 mask_phone(recipient.member.phone), decision_text, reason)
    return rows


async def _record(session: AsyncSession, reads: store.PassReads | None, rows: list[dict]) -> None:
    if reads:
        reads.notifications.extend(rows)
    else:
        await session.execute(insert(Notification), rows)


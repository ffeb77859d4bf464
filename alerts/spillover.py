"""Warning the neighbours: an alert whose incident spills ([spillover.<incident>] in the rules)
sends a short vigilance SMS to the committees of the communes around its own, ring by ring,
across a border too. Here the database work around the decisions (alerts/spillover_decisions.py):
reading the neighbours, their members and what stands there, queueing the SMS, recording every
decision, and a neighbour's acknowledgement.

A neighbouring commune in a partner gateway's area ([[spillover.partners]]) is warned through that
partner: this gateway decides what is its own to decide (its silences, a graver alert at home, the
level already told), then queues one CAP message per partner naming the communes; the partner
decides for its committees. A commune outside this gateway's gazetteer and no partner's is decided
and recorded like the others, with nobody to warn."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.config import AlertConfig
from alerts.neighbours import rings_around
from alerts.outcomes import AckOutcome, AckResult
from alerts.pipeline import Decision
from alerts.routing import Member
from alerts.rules import RuleSet
from alerts.spillover_decisions import (
    PARTNER_STAGES,
    Neighbourhood,
    SpillSituation,
    VigilanceDecision,
    committee_to_warn,
    decide_neighbours,
    first_withholding,
    neighbourhood,
    nothing_holds_back,
    spill_rule,
)
from alerts.spillover_rules import SpillRule
from alerts.spillover_texts import VigilanceFacts, vigilance_text
from gateway.kernel.phones import mask_phone
from gateway.storage.models import Alert, CommitteeMember, Spillover, SpilloverNotification
from gateway.storage.outbox import PRIORITY_ALERT, OutboundSms
from gateway.storage.partner_deliveries import queue_cancellations, queue_delivery

log = logging.getLogger(__name__)

KIND = "vigilance"  # the outbox kind of a neighbour's warning


@dataclass(frozen=True)
class SpillOutcome:
    sent: int
    withheld: int


def country_of(pcode: str) -> str:
    return pcode[:2]


async def spill_over(session: AsyncSession, config: AlertConfig, alert: Alert, now: datetime, *,
                     held_only: bool = False) -> SpillOutcome:
    """Decide, queue and record the vigilance SMS of one alert's neighbours (and the CAP messages
    of its partners'). `held_only`: only the neighbours not yet warned at the alert's level whom
    nothing holds back any more (a silence or quiet hours that ended), and nothing recorded when
    there are none."""
    rule = spill_rule(config.rules, alert.incident, alert.level)
    if rule is None:
        return SpillOutcome(0, 0)
    rings = await rings_around(session, alert.commune_pcode, rule.rings, config.rules.spillover.overrides)
    if not rings:
        return SpillOutcome(0, 0)
    members = await store.members_of(session, rings)
    standing = await store.standing_in(session, {alert.commune_pcode, *rings}, besides=alert.id)
    sent_levels = dict((await session.execute(
        select(SpilloverNotification.member_id, func.max(SpilloverNotification.level)).where(
            SpilloverNotification.alert_id == alert.id, SpilloverNotification.decision == "sent",
            SpilloverNotification.member_id.is_not(None)).group_by(SpilloverNotification.member_id))).all())
    commune_levels = dict((await session.execute(
        select(Spillover.commune_pcode, Spillover.level).where(Spillover.alert_id == alert.id))).all())
    situation = SpillSituation(alert.code, alert.incident, alert.level, config.gazetteer.area_path(alert.commune_pcode),
                               now, tuple(standing.get(alert.commune_pcode, ())))
    partners = config.rules.spillover
    neighbours = [neighbourhood(config.gazetteer, commune, ring, standing, partners.partner_for(commune))
                  for commune, ring in rings.items()]
    if held_only:
        neighbours = [n for n in neighbours if _no_longer_held(n, situation, config.rules, rule, members,
                                                               commune_levels.get(n.commune, 0))]
        if not neighbours:
            return SpillOutcome(0, 0)
    decisions = decide_neighbours(situation, config.rules, rule, neighbours, members, sent_levels, commune_levels)
    facts = VigilanceFacts(alert.code, alert.level, alert.incident, config.gazetteer.name(alert.commune_pcode),
                           country_of(alert.commune_pcode))
    messages = vigilance_messages(config, facts, decisions, f"{KIND}:{alert.id}", now, alert_id=alert.id)
    outbox_ids = await store.enqueue_by_key(session, list(messages.values()), now)
    await _queue_for_partners(session, config, alert, decisions, now)
    rows = _rows(alert, now, decisions, messages, outbox_ids)
    await session.execute(insert(SpilloverNotification), rows)
    await _record_spillovers(session, alert, rings, rows, now)
    sent = sum(row["decision"] == "sent" for row in rows)
    return SpillOutcome(sent, len(rows) - sent)


def vigilance_messages(config: AlertConfig, facts: VigilanceFacts, decisions: Iterable[VigilanceDecision],
                       key_prefix: str, now: datetime, *, alert_id: int | None = None) -> dict[int, OutboundSms]:
    """Member id -> the vigilance SMS of each member a decision warns, in the member's language; its
    dedup key is `key_prefix`, the level and the number, so a level warns each number once."""
    texts: dict[str, str] = {}
    messages: dict[int, OutboundSms] = {}
    for item in decisions:
        if item.decision.send and item.member:
            lang = item.member.lang
            if lang not in texts:
                texts[lang] = vigilance_text(lang, facts, config.taxonomy)
            messages[item.member.id] = OutboundSms(
                dedup_key=f"{key_prefix}:L{facts.level}:{item.member.phone}", kind=KIND,
                recipient=item.member.phone, body=texts[lang], priority=PRIORITY_ALERT, alert_id=alert_id,
                expires_at=now + config.alert_expiry)
    return messages


def as_recorded(item: VigilanceDecision, messages: dict[int, OutboundSms],
                outbox_ids: dict[str, int]) -> tuple[Decision, int | None]:
    """The decision to record and its outbox row: a warning whose SMS was already queued is withheld."""
    message = messages.get(item.member.id) if item.member else None
    outbox_id = outbox_ids.get(message.dedup_key) if message else None
    if message and outbox_id is None:
        return Decision(False, "duplicate: already queued"), None
    return item.decision, outbox_id


def _no_longer_held(neighbour: Neighbourhood, situation: SpillSituation, rules: RuleSet, rule: SpillRule,
                    members: list[Member], warned_level: int) -> bool:
    """A neighbour not yet warned at the alert's level, with someone to warn, whom no stage holds back now."""
    if warned_level >= situation.level:
        return False
    if neighbour.partner:
        return first_withholding(PARTNER_STAGES, situation, neighbour, rules) is None
    return nothing_holds_back(neighbour, situation, rules, committee_to_warn(members, neighbour.commune, rule))


async def _queue_for_partners(session: AsyncSession, config: AlertConfig, alert: Alert,
                              decisions: list[VigilanceDecision], now: datetime) -> None:
    """One CAP message per partner, naming its communes to warn (with their rings)."""
    by_partner: dict[str, dict[str, int]] = {}
    for item in decisions:
        if item.partner and item.decision.send:
            by_partner.setdefault(item.partner, {})[item.commune] = item.ring
    for partner, communes in sorted(by_partner.items()):
        await queue_delivery(session, alert_id=alert.id, partner=partner, level=alert.level, communes=communes,
                             now=now, expires_at=now + config.alert_expiry)
        log.info("alert %s L%d: CAP to partner %s queued for %s", alert.code, alert.level, partner,
                 ", ".join(sorted(communes)))


async def tell_partners_closed(session: AsyncSession, alert: Alert, now: datetime, alert_expiry: timedelta) -> None:
    """The alert closed (resolved or expired): partners told of it get a CAP Cancel; what still
    waits for them is dropped. Every path that closes an alert calls this."""
    if await queue_cancellations(session, alert.id, alert.level, now, now + alert_expiry):
        log.info("alert %s %s: CAP Cancel queued for its partners", alert.code, alert.status)


def _rows(alert: Alert, now: datetime, decisions: list[VigilanceDecision], messages: dict[int, OutboundSms],
          outbox_ids: dict[str, int]) -> list[dict]:
    rows = []
    for item in decisions:
        recorded, outbox_id = as_recorded(item, messages, outbox_ids)
        decision, reason = ("sent" if recorded.send else "withheld"), recorded.reason
        rows.append({"alert_id": alert.id, "commune_pcode": item.commune,
                     "member_id": item.member.id if item.member else None, "level": alert.level,
                     "decision": decision, "reason": reason[:60], "outbox_id": outbox_id, "created_at": now})
        whom = mask_phone(item.member.phone) if item.member else f"partner {item.partner}" if item.partner else "(nobody)"
        log.info("alert %s L%d vigilance to %s %s -> %s: %s", alert.code, alert.level, item.commune, whom,
                 decision, reason)
    return rows


async def _record_spillovers(session: AsyncSession, alert: Alert, rings: dict[str, int], rows: list[dict],
                             now: datetime) -> None:
    """One row per neighbouring commune and alert: its ring and the highest level it was warned of."""
    warned: dict[str, int] = {}
    for row in rows:
        if row["decision"] == "sent":
            warned[row["commune_pcode"]] = max(warned.get(row["commune_pcode"], 0), row["level"])
    existing = {s.commune_pcode: s for s in (await session.execute(
        select(Spillover).where(Spillover.alert_id == alert.id))).scalars()}
    for commune, ring in rings.items():
        row = existing.get(commune)
        if row is None:
            session.add(Spillover(alert_id=alert.id, commune_pcode=commune, ring=ring, level=warned.get(commune, 0),
                                  created_at=now, updated_at=now))
        elif warned.get(commune, 0) > row.level:
            row.level, row.updated_at = warned[commune], now
    await session.flush()


# ---------------------------------------------------------------- a neighbour's acknowledgement

async def acknowledge_vigilance(session: AsyncSession, alert: Alert, phone: str, now: datetime) -> AckResult:
    """`OK <code>` from a member of a warned neighbour's committee: recorded for that commune alone;
    the alert itself stays unacknowledged. NOT_MEMBER when the number sits on no warned committee."""
    found = (await session.execute(
        select(Spillover, CommitteeMember).join(CommitteeMember, CommitteeMember.area_pcode == Spillover.commune_pcode)
        .where(Spillover.alert_id == alert.id, Spillover.level > 0, CommitteeMember.phone == phone,
               CommitteeMember.active.is_(True))
        .order_by(Spillover.ring, Spillover.id).limit(1))).first()
    if found is None:
        return AckResult(AckOutcome.NOT_MEMBER, alert.code, "fr")
    spillover, member = found
    if alert.status in ("resolved", "expired"):
        return AckResult(AckOutcome.CLOSED, alert.code, member.lang)
    await session.execute(
        update(Spillover).where(Spillover.id == spillover.id, Spillover.acknowledged_at.is_(None))
        .values(acknowledged_at=now, acknowledged_by=member.id, updated_at=now)
        .execution_options(synchronize_session=False))
    log.info("alert %s: vigilance acknowledged for %s by committee member %d", alert.code, spillover.commune_pcode,
             member.id)
    return AckResult(AckOutcome.NOTED, alert.code, member.lang, member.name)

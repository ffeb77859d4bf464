"""Warning the neighbours: an alert whose incident spills ([spillover.<incident>] in the rules)
sends a short vigilance SMS to the committees of the communes around its own, ring by ring,
across a border too. The same stages as an alert's own notifications decide for each neighbour
(silences, inhibition, quiet hours, then dedup), each withholding with a reason of its own; a
neighbour is warned once per alert, and again only when the alert's level rises.

A neighbouring commune outside this gateway's gazetteer (named by a rule file's pair) is decided
and recorded like the others, with nobody here to warn: a partner gateway's part."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.areas import AreaPath
from alerts.neighbours import rings_around
from alerts.outcomes import AckOutcome, AckResult
from alerts.pipeline import Decision, OtherAlert, withheld_by
from alerts.routing import Member
from alerts.rules import RuleSet
from alerts.spillover_rules import SpillRule
from alerts.spillover_texts import VigilanceFacts, vigilance_text
from gateway.kernel.phones import mask_phone
from gateway.storage.models import Alert, CommitteeMember, Spillover, SpilloverNotification
from gateway.storage.outbox import PRIORITY_ALERT, OutboundSms

if TYPE_CHECKING:
    from alerts.notify import AlertConfig

log = logging.getLogger(__name__)

KIND = "vigilance"  # the outbox kind of a neighbour's warning


@dataclass(frozen=True)
class SpillSituation:
    """The alert as its neighbours' decisions see it."""

    code: str
    incident: str
    level: int
    home: AreaPath
    now: datetime
    home_others_open: tuple[OtherAlert, ...] = ()  # other alerts standing in the alert's own commune


@dataclass(frozen=True)
class Neighbourhood:
    """One neighbouring commune: how far out, whether this gateway knows it, and what stands there."""

    commune: str
    ring: int
    path: AreaPath
    known: bool = True  # False: outside this gateway's gazetteer
    others_open: tuple[OtherAlert, ...] = ()


@dataclass(frozen=True)
class VigilanceDecision:
    commune: str
    ring: int
    member: Member | None  # None: nobody to warn in that commune
    decision: Decision


def spill_rule(rules: RuleSet, incident: str, level: int) -> SpillRule | None:
    """The incident's spillover rule when an alert at `level` spills, else None."""
    rule = rules.spillover.rule_for(incident)
    return rule if rule is not None and level >= rule.from_level else None


# ---------------------------------------------------------------- the stages, in order

Stage = Callable[[SpillSituation, Neighbourhood, RuleSet], Decision | None]


def home_silenced(situation: SpillSituation, _n: Neighbourhood, rules: RuleSet) -> Decision | None:
    silence = rules.silence_for(situation.home, situation.incident, situation.now)
    if silence:
        return withheld_by(silence, "home ")
    return None


def neighbour_silenced(situation: SpillSituation, neighbour: Neighbourhood, rules: RuleSet) -> Decision | None:
    silence = rules.silence_for(neighbour.path, situation.incident, situation.now)
    if silence:
        return withheld_by(silence, "neighbour ")
    return None


def _more_severe(rules: RuleSet, situation: SpillSituation, others: Iterable[OtherAlert]) -> OtherAlert | None:
    own = rules.severity.get(situation.incident, 0)
    return next((o for o in others if rules.severity.get(o.incident, 0) > own and o.level >= situation.level), None)


def inhibited_at_home(situation: SpillSituation, _n: Neighbourhood, rules: RuleSet) -> Decision | None:
    """A more severe alert standing at home spills (or not) by itself: this one adds nothing."""
    other = _more_severe(rules, situation, situation.home_others_open)
    if other:
        return Decision(False, f"inhibited at home by {other.code} ({other.incident} L{other.level})")
    return None


def inhibited_in_neighbour(situation: SpillSituation, neighbour: Neighbourhood, rules: RuleSet) -> Decision | None:
    """The neighbour's committee already has a more severe alert of its own in hand."""
    other = _more_severe(rules, situation, neighbour.others_open)
    if other:
        return Decision(False, f"inhibited by {other.code} in neighbour ({other.incident} L{other.level})")
    return None


def quiet_hours(situation: SpillSituation, _n: Neighbourhood, rules: RuleSet) -> Decision | None:
    if rules.quiet_hours and rules.quiet_hours.active(situation.now, situation.level):
        return Decision(False, f"quiet hours (level {situation.level})")
    return None


STAGES: tuple[Stage, ...] = (home_silenced, neighbour_silenced, inhibited_at_home, inhibited_in_neighbour,
                             quiet_hours)


def dedup(situation: SpillSituation, neighbour: Neighbourhood, sent_level: int | None) -> Decision:
    """Once per alert, and again when its level rises."""
    if sent_level is None:
        return Decision(True, f"vigilance L{situation.level} ring {neighbour.ring}")
    if sent_level < situation.level:
        return Decision(True, f"vigilance raised L{situation.level} ring {neighbour.ring}")
    return Decision(False, f"already warned at L{sent_level}")


def decide_neighbours(situation: SpillSituation, rules: RuleSet, rule: SpillRule,
                      neighbours: Iterable[Neighbourhood], members: Iterable[Member],
                      sent_levels: dict[int, int]) -> list[VigilanceDecision]:
    """One decision per member of each neighbour's commune committee with one of the rule's roles
    (`sent_levels`: member id -> highest level already warned of); one withheld decision for a
    neighbour with nobody to warn."""
    members = list(members)
    decisions = []
    for neighbour in sorted(neighbours, key=lambda n: (n.ring, n.commune)):
        if not neighbour.known:
            decisions.append(VigilanceDecision(neighbour.commune, neighbour.ring, None,
                                               Decision(False, "outside this gateway's gazetteer")))
            continue
        chosen = [m for m in members if m.area_pcode == neighbour.commune and m.role in rule.roles]
        if not chosen:
            decisions.append(VigilanceDecision(neighbour.commune, neighbour.ring, None,
                                               Decision(False, "no committee member to warn")))
            continue
        withheld = next((d for stage in STAGES if (d := stage(situation, neighbour, rules)) is not None), None)
        decisions += [VigilanceDecision(neighbour.commune, neighbour.ring, member,
                                        withheld or dedup(situation, neighbour, sent_levels.get(member.id)))
                      for member in sorted(chosen, key=lambda m: m.id)]
    return decisions


# ---------------------------------------------------------------- against the database

@dataclass(frozen=True)
class SpillOutcome:
    sent: int
    withheld: int


def country_of(pcode: str) -> str:
    return pcode[:2]


async def spill_over(session: AsyncSession, config: AlertConfig, alert: Alert, now: datetime) -> SpillOutcome:
    """Decide, queue and record the vigilance SMS of one alert's neighbours."""
    rule = spill_rule(config.rules, alert.incident, alert.level)
    if rule is None:
        return SpillOutcome(0, 0)
    rings = await rings_around(session, alert.commune_pcode, rule.rings, config.rules.spillover.overrides)
    if not rings:
        return SpillOutcome(0, 0)
    members = [Member(m.id, m.phone, m.name, m.area_pcode, m.role, m.lang) for m in (await session.execute(
        select(CommitteeMember).where(CommitteeMember.area_pcode.in_(sorted(rings)), CommitteeMember.active.is_(True))
        .order_by(CommitteeMember.id))).scalars()]
    standing: dict[str, list[OtherAlert]] = {}
    for commune, code, incident, level in await session.execute(
            select(Alert.commune_pcode, Alert.code, Alert.incident, Alert.level).where(
                Alert.commune_pcode.in_(sorted({alert.commune_pcode, *rings})), Alert.status.in_(store.ACTIVE),
                Alert.id != alert.id).order_by(Alert.id)):
        standing.setdefault(commune, []).append(OtherAlert(code, incident, level))
    sent_levels = dict((await session.execute(
        select(SpilloverNotification.member_id, func.max(SpilloverNotification.level)).where(
            SpilloverNotification.alert_id == alert.id, SpilloverNotification.decision == "sent",
            SpilloverNotification.member_id.is_not(None)).group_by(SpilloverNotification.member_id))).all())
    situation = SpillSituation(alert.code, alert.incident, alert.level, config.gazetteer.area_path(alert.commune_pcode),
                               now, tuple(standing.get(alert.commune_pcode, ())))
    neighbours = [Neighbourhood(commune, ring, config.gazetteer.area_path(commune),
                                config.gazetteer.name(commune) != commune, tuple(standing.get(commune, ())))
                  for commune, ring in rings.items()]
    decisions = decide_neighbours(situation, config.rules, rule, neighbours, members, sent_levels)
    facts = VigilanceFacts(alert.code, alert.level, alert.incident, config.gazetteer.name(alert.commune_pcode),
                           country_of(alert.commune_pcode))
    texts: dict[str, str] = {}
    messages: dict[int, OutboundSms] = {}
    for item in decisions:
        if item.decision.send and item.member:
            lang = item.member.lang
            if lang not in texts:
                texts[lang] = vigilance_text(lang, facts, config.taxonomy)
            messages[item.member.id] = OutboundSms(
                dedup_key=f"{KIND}:{alert.id}:L{alert.level}:{item.member.phone}", kind=KIND,
                recipient=item.member.phone, body=texts[lang], priority=PRIORITY_ALERT, alert_id=alert.id,
                expires_at=now + config.alert_expiry)
    outbox_ids = await store.enqueue_by_key(session, list(messages.values()), now)
    rows = _rows(alert, now, decisions, messages, outbox_ids)
    await session.execute(insert(SpilloverNotification), rows)
    await _record_spillovers(session, alert, rings, rows, now)
    sent = sum(row["decision"] == "sent" for row in rows)
    return SpillOutcome(sent, len(rows) - sent)


def _rows(alert: Alert, now: datetime, decisions: list[VigilanceDecision], messages: dict[int, OutboundSms],
          outbox_ids: dict[str, int]) -> list[dict]:
    rows = []
    for item in decisions:
        message = messages.get(item.member.id) if item.member else None
        outbox_id = outbox_ids.get(message.dedup_key) if message else None
        if message and outbox_id is None:
            decision, reason = "withheld", "duplicate: already queued"
        else:
            decision, reason = ("sent" if item.decision.send else "withheld"), item.decision.reason
        rows.append({"alert_id": alert.id, "commune_pcode": item.commune,
                     "member_id": item.member.id if item.member else None, "level": alert.level,
                     "decision": decision, "reason": reason[:60], "outbox_id": outbox_id, "created_at": now})
        log.info("alert %s L%d vigilance to %s %s -> %s: %s", alert.code, alert.level, item.commune,
                 mask_phone(item.member.phone) if item.member else "(nobody)", decision, reason)
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

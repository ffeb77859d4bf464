"""Warning the neighbours: an alert whose incident spills ([spillover.<incident>] in the rules)
sends a short vigilance SMS to the committees of the communes around its own, ring by ring,
across a border too. The same stages as an alert's own notifications decide for each neighbour
(silences, inhibition, quiet hours, then dedup), each withholding with a reason of its own; a
neighbour is warned once per alert, and again only when the alert's level rises.

A neighbouring commune in a partner gateway's area ([[spillover.partners]]) is warned through that
partner: this gateway decides what is its own to decide (its silences, a graver alert at home, the
level already told), then queues one CAP message per partner naming the communes; the partner
decides for its committees. A commune outside this gateway's gazetteer and no partner's is decided
and recorded like the others, with nobody to warn."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from alerts import store
from alerts.areas import AreaPath, Gazetteer
from alerts.config import AlertConfig
from alerts.neighbours import rings_around
from alerts.outcomes import AckOutcome, AckResult
from alerts.pipeline import Decision, OtherAlert, withheld_by
from alerts.routing import Member
from alerts.rules import RuleSet
from alerts.spillover_rules import PartnerArea, SpillRule
from alerts.spillover_texts import VigilanceFacts, vigilance_text
from gateway.kernel.phones import mask_phone
from gateway.storage.models import Alert, CommitteeMember, Spillover, SpilloverNotification
from gateway.storage.outbox import PRIORITY_ALERT, OutboundSms
from gateway.storage.partner_deliveries import queue_cancellations, queue_delivery

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
    partner: str | None = None  # the partner gateway whose committees it has


@dataclass(frozen=True)
class VigilanceDecision:
    commune: str
    ring: int
    member: Member | None  # None: nobody to warn here (a partner's commune, or no committee)
    decision: Decision
    partner: str | None = None  # warned through this partner gateway


def neighbourhood(gazetteer: Gazetteer, commune: str, ring: int, standing: dict[str, list[OtherAlert]],
                  partner: str | None = None) -> Neighbourhood:
    """`standing`: commune -> the alerts standing there. A commune is known when the gazetteer has
    a name for it (it answers an unknown P-code with the code itself)."""
    return Neighbourhood(commune, ring, gazetteer.area_path(commune), gazetteer.name(commune) != commune,
                         tuple(standing.get(commune, ())), partner)


def with_partners(rules: RuleSet, partners: Iterable[PartnerArea]) -> RuleSet:
    """The rules with the partner gateways of the settings (who warns which communes)."""
    return replace(rules, spillover=replace(rules.spillover, partners=tuple(partners)))


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
# A partner's commune: only the home side is this gateway's to judge; the partner applies its own
# silences, alerts and quiet hours to its committees.
PARTNER_STAGES: tuple[Stage, ...] = (home_silenced, inhibited_at_home)


def dedup(situation: SpillSituation, neighbour: Neighbourhood, sent_level: int | None, via: str = "") -> Decision:
    """Once per alert, and again when its level rises."""
    if not sent_level:
        return Decision(True, f"vigilance L{situation.level} ring {neighbour.ring}{via}")
    if sent_level < situation.level:
        return Decision(True, f"vigilance raised L{situation.level} ring {neighbour.ring}{via}")
    return Decision(False, f"already warned at L{sent_level}{via}")


def first_withholding(stages: Iterable[Stage], situation: SpillSituation, neighbour: Neighbourhood,
                      rules: RuleSet) -> Decision | None:
    return next((d for stage in stages if (d := stage(situation, neighbour, rules)) is not None), None)


def committee_to_warn(members: Iterable[Member], commune: str, rule: SpillRule) -> list[Member]:
    """The members of the commune's committee whose role the spillover rule warns."""
    return [m for m in members if m.area_pcode == commune and m.role in rule.roles]


def nothing_holds_back(neighbour: Neighbourhood, situation: SpillSituation, rules: RuleSet,
                       to_warn: list[Member]) -> bool:
    """A commune of this gateway with someone to warn, whom no stage withholds the warning from now."""
    return neighbour.known and bool(to_warn) and first_withholding(STAGES, situation, neighbour, rules) is None


def decide_neighbours(situation: SpillSituation, rules: RuleSet, rule: SpillRule,
                      neighbours: Iterable[Neighbourhood], members: Iterable[Member],
                      sent_levels: dict[int, int], partner_levels: dict[str, int] | None = None
                      ) -> list[VigilanceDecision]:
    """One decision per member of each neighbour's commune committee with one of the rule's roles
    (`sent_levels`: member id -> highest level already warned of); one withheld decision for a
    neighbour with nobody to warn; one decision for a partner's commune (`partner_levels`: commune
    -> highest level the partner was told of)."""
    members = list(members)
    decisions = []
    for neighbour in sorted(neighbours, key=lambda n: (n.ring, n.commune)):
        if neighbour.partner:
            via = f" via {neighbour.partner}"
            decision = (first_withholding(PARTNER_STAGES, situation, neighbour, rules)
                        or dedup(situation, neighbour, (partner_levels or {}).get(neighbour.commune), via))
            decisions.append(VigilanceDecision(neighbour.commune, neighbour.ring, None, decision, neighbour.partner))
            continue
        if not neighbour.known:
            decisions.append(VigilanceDecision(neighbour.commune, neighbour.ring, None,
                                               Decision(False, "outside this gateway's gazetteer")))
            continue
        chosen = committee_to_warn(members, neighbour.commune, rule)
        if not chosen:
            decisions.append(VigilanceDecision(neighbour.commune, neighbour.ring, None,
                                               Decision(False, "no committee member to warn")))
            continue
        withheld = first_withholding(STAGES, situation, neighbour, rules)
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

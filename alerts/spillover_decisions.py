"""Deciding, for an alert whose incident spills, which neighbouring communes' committee members are
warned: pure functions of the alert, its neighbours and the rules (alerts/spillover.py reads and
writes the database around them). The same stages as an alert's own notifications decide for each
neighbour (silences, inhibition, quiet hours, then dedup), each withholding with a reason of its
own; a neighbour is warned once per alert, and again only when the alert's level rises. A commune
of a partner gateway is judged only on this gateway's side; the partner decides for its committees."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from alerts.areas import AreaPath, Gazetteer
from alerts.pipeline import Decision, OtherAlert, withheld_by
from alerts.routing import Member
from alerts.rules import RuleSet
from alerts.spillover_rules import PartnerArea, SpillRule


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

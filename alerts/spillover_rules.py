"""The rule files' spillover sections: which incidents warn the neighbouring communes, and the pairs
of neighbours an admin adds or removes.

    [spillover.<incident>]    spills = true (default), from_level = 1, rings = 1,
                              roles = ["member", "chair", "authority"]
    [[neighbours.add]]        pair = ["NE006002001", "ML070104"], reason = "..."
    [[neighbours.remove]]     pair = [..., ...], reason = "..."

An incident without a [spillover.<incident>] table stays in its own commune. A pair may name one
commune outside this gateway's gazetteer (a commune a partner gateway covers), never two."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from alerts.areas import PCODE_PATTERN

MAX_RINGS = 3  # a third ring already reaches communes a day's ride away
ACTIONS = ("add", "remove")


@dataclass(frozen=True)
class SpillRule:
    incident: str
    from_level: int  # the alert level from which the neighbours are warned
    rings: int  # 1: the neighbours; 2: their neighbours too; ...
    roles: frozenset[str]  # which members of the neighbours' commune committees are warned


@dataclass(frozen=True)
class PairOverride:
    communes: tuple[str, str]  # sorted
    action: str  # add, remove
    where: str  # file:line
    reason: str


@dataclass(frozen=True)
class PartnerArea:
    """A partner gateway (settings' [[spillover.partners]]) and the P-code prefixes it covers."""

    name: str
    prefixes: tuple[str, ...]


@dataclass(frozen=True)
class SpilloverRules:
    by_incident: dict[str, SpillRule] = field(default_factory=dict)
    overrides: tuple[PairOverride, ...] = ()
    partners: tuple[PartnerArea, ...] = ()  # from the settings, joined to the rules when they load

    def rule_for(self, incident: str) -> SpillRule | None:
        return self.by_incident.get(incident)

    def partner_for(self, pcode: str) -> str | None:
        """The partner whose committees a commune has (the longest matching prefix), else None:
        this gateway's own."""
        matches = [(len(prefix), partner.name) for partner in self.partners for prefix in partner.prefixes
                   if pcode.startswith(prefix)]
        return max(matches)[1] if matches else None


class Checks(Protocol):
    """What the rules loader's per-file checker offers (alerts.rules._Checker)."""

    def error(self, path: tuple[str, ...], message: str, occurrence: int = 0) -> None: ...

    def where(self, path: tuple[str, ...], occurrence: int = 0) -> str: ...

    def unknown_keys(self, table: dict, allowed: set[str], path: tuple[str, ...], occurrence: int = 0) -> None: ...

    def number(self, table: dict, key: str, path: tuple[str, ...], *, minimum: float = 0,
               integer: bool = False, occurrence: int = 0) -> float | None: ...


class SpilloverBuilder:
    """Collects the spillover sections of every rule file; errors go through each file's checker."""

    def __init__(self, incidents: frozenset[str] | set[str], roles: frozenset[str],
                 known_areas: set[str] | frozenset[str] | None) -> None:
        self.incidents = incidents
        self.roles = roles
        self.known_areas = known_areas
        self.by_incident: dict[str, SpillRule] = {}
        self.defined_at: dict[str, str] = {}
        self.overrides: list[PairOverride] = []

    def spillover(self, checker: Checks, table: Any) -> None:
        if not isinstance(table, dict):
            checker.error(("spillover",), "'spillover' must be a table of [spillover.<incident>] tables")
            return
        for incident, body in table.items():
            path = ("spillover", incident)
            if incident not in self.incidents:
                checker.error(path, f"unknown incident '{incident}' in [spillover] "
                                    f"(known: {', '.join(sorted(self.incidents))})")
                continue
            if not isinstance(body, dict):
                checker.error(path, f"'spillover.{incident}' must be a table")
                continue
            if incident in self.defined_at:
                checker.error(path, f"[spillover.{incident}] already defined at {self.defined_at[incident]}")
                continue
            self.defined_at[incident] = checker.where(path)
            rule = self._rule(checker, incident, body, path)
            if rule:
                self.by_incident[incident] = rule

    def _rule(self, checker: Checks, incident: str, body: dict, path: tuple[str, ...]) -> SpillRule | None:
        checker.unknown_keys(body, {"spills", "from_level", "rings", "roles"}, path)
        spills = body.get("spills", True)
        if not isinstance(spills, bool):
            checker.error((*path, "spills"), f"'spillover.{incident}.spills' must be true or false, got {spills!r}")
            return None
        from_level = checker.number(body, "from_level", path, minimum=1, integer=True)
        rings = checker.number(body, "rings", path, minimum=1, integer=True)
        if rings is not None and rings > MAX_RINGS:
            checker.error((*path, "rings"), f"'spillover.{incident}.rings' must be at most {MAX_RINGS}, got {rings}")
            return None
        roles = body.get("roles", sorted(self.roles))
        if not isinstance(roles, list) or not roles or not set(roles) <= self.roles:
            checker.error((*path, "roles"), f"'spillover.{incident}.roles' must be a list of "
                                            f"{', '.join(sorted(self.roles))}, got {roles!r}")
            return None
        if not spills or ("from_level" in body and from_level is None) or ("rings" in body and rings is None):
            return None
        return SpillRule(incident, int(from_level or 1), int(rings or 1), frozenset(roles))

    def neighbours(self, checker: Checks, table: Any) -> None:
        if not isinstance(table, dict):
            checker.error(("neighbours",), "'neighbours' must hold [[neighbours.add]] or [[neighbours.remove]] tables")
            return
        checker.unknown_keys(table, set(ACTIONS), ("neighbours",))
        for action in ACTIONS:
            entries = table.get(action, [])
            path = ("neighbours", action)
            if not isinstance(entries, list):
                checker.error(path, f"write each pair as a [[neighbours.{action}]] table")
                continue
            for occurrence, entry in enumerate(entries):
                override = self._pair(checker, action, entry, path, occurrence)
                if override:
                    self.overrides.append(override)

    def _pair(self, checker: Checks, action: str, entry: Any, path: tuple[str, ...],
              occurrence: int) -> PairOverride | None:
        if not isinstance(entry, dict):
            checker.error(path, f"write each pair as a [[neighbours.{action}]] table", occurrence)
            return None
        checker.unknown_keys(entry, {"pair", "reason"}, path, occurrence)
        pair = entry.get("pair")
        if (not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(p, str) for p in pair)
                or pair[0] == pair[1]):
            checker.error((*path, "pair"), f"pair must be two different commune P-codes, such as "
                                           f"[\"NE006002001\", \"ML070104\"], got {pair!r}", occurrence)
            return None
        bad = [p for p in pair if not PCODE_PATTERN.match(p)]
        if bad:
            checker.error((*path, "pair"), f"'{bad[0]}' is not a P-code (e.g. NE006002001, ML070104)", occurrence)
            return None
        if self.known_areas is not None and not any(p in self.known_areas for p in pair):
            checker.error((*path, "pair"), f"neither {pair[0]} nor {pair[1]} is in the gazetteer", occurrence)
            return None
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            checker.error(path, f"[[neighbours.{action}]] needs a reason", occurrence)
            return None
        communes = (min(pair), max(pair))
        earlier = next((o for o in self.overrides if o.communes == communes), None)
        if earlier:
            checker.error((*path, "pair"), f"pair {communes[0]} {communes[1]} is already listed under "
                                           f"[[neighbours.{earlier.action}]] at {earlier.where}", occurrence)
            return None
        return PairOverride(communes, action, checker.where((*path, "pair"), occurrence), reason.strip())

    def build(self) -> SpilloverRules:
        return SpilloverRules(dict(self.by_incident), tuple(self.overrides))

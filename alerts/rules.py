"""Rule files: load a rules directory once, validate everything, resolve the effective rule.

Layout (every `*.toml` under the directory except the taxonomy `incidents.toml`; any file may
hold any section, a section may be defined once):

    [scoring]                 trust factors, count cap, age floor, corroboration
    [timings]                 escalation, repeat and auto-resolve defaults
    [incident.<id>]           weight, window, levels (+ optional timings) per incident
    [area.<pcode>.<id>]       overrides for a region, department or commune
    [[route]]                 which roles of which area level receive which alerts
    [[silence]]               a muted area (and incident) until a date, with a reason
    [quiet_hours]             hold low-level notifications at night (optional)
    [spillover.<id>]          warn the neighbouring communes (alerts.spillover_rules)
    [[neighbours.add]]        add or remove a pair of neighbouring communes (also .remove)
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, time, timedelta
from pathlib import Path
from typing import Any

from alerts.areas import PCODE_PATTERN, AreaLevel, AreaPath
from alerts.spillover_rules import SpilloverBuilder, SpilloverRules
from alerts.tomlpos import Locator
from gateway.kernel.taxonomy import DEFAULT_TAXONOMY, Taxonomy, load_taxonomy

TAXONOMY_FILE = "incidents.toml"
TRUST_LEVELS = ("approved", "pending", "unknown")
ROLES = frozenset({"member", "chair", "authority"})


class RulesError(Exception):
    """Rule files that cannot be used; each error reads `file:line: message`. `warnings`: what
    would not stop the rules from loading, found in the same pass."""

    def __init__(self, errors: list[str], warnings: list[str] | None = None) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors
        self.warnings = warnings or []


@dataclass(frozen=True)
class LevelCondition:
    """A level is reached when ANY of its set thresholds is met (and every lower level is)."""

    score: float | None = None
    reporters: int | None = None
    count: int | None = None

    def met(self, score: float, reporters: int, max_count: int) -> bool:
        return (
            (self.score is not None and score >= self.score)
            or (self.reporters is not None and reporters >= self.reporters)
            or (self.count is not None and max_count >= self.count)
        )


@dataclass(frozen=True)
class IncidentRule:
    incident: str
    weight: float
    window: timedelta
    levels: tuple[LevelCondition, ...]
    escalate_after: timedelta
    repeat_after: timedelta
    resolve_after: timedelta


@dataclass(frozen=True)
class ScoringParams:
    trust: dict[str, float] = field(default_factory=lambda: {"approved": 1.0, "pending": 0.5, "unknown": 0.25})
    count_cap: int = 100
    age_floor: float = 0.5
    corroboration: int = 2


@dataclass(frozen=True)
class Route:
    area: AreaLevel
    roles: frozenset[str]
    min_level: int | None  # joins at this alert level (None: only by the other triggers)
    when_corroborated: bool  # joins as soon as independent reporters corroborate
    escalation_step: int | None  # joins at this escalation step when nobody acknowledged


@dataclass(frozen=True)
class Silence:
    area: str
    incident: str | None
    until: datetime
    reason: str

    def covers(self, path: AreaPath, incident: str, now: datetime) -> bool:
        return now < self.until and self.area in path.pcodes and self.incident in (None, incident)


@dataclass(frozen=True)
class QuietHours:
    start: time
    end: time
    max_level: int
    utc_offset: timedelta

    def active(self, now: datetime, level: int) -> bool:
        if level > self.max_level:
            return False
        local = (now + self.utc_offset).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


@dataclass(frozen=True)
class RuleSet:
    scoring: ScoringParams
    defaults: dict[str, IncidentRule]
    overrides: dict[str, dict[str, dict[str, Any]]]  # area pcode -> incident -> IncidentRule fields
    routes: tuple[Route, ...]
    silences: tuple[Silence, ...]
    quiet_hours: QuietHours | None
    severity: dict[str, int]  # from the taxonomy: a higher severity inhibits a lower one
    spillover: SpilloverRules = field(default_factory=SpilloverRules)
    warnings: tuple[str, ...] = ()  # `file:line: warning: message`: loadable, but probably not meant

    def rule_for(self, path: AreaPath, incident: str) -> IncidentRule:
        """Defaults, then region, department and commune overrides, the most local last."""
        rule = self.defaults[incident]
        for pcode in path.pcodes:
            changes = self.overrides.get(pcode, {}).get(incident)
            if changes:
                rule = replace(rule, **changes)
        return rule

    def silence_for(self, path: AreaPath, incident: str, now: datetime) -> Silence | None:
        return next((s for s in self.silences if s.covers(path, incident, now)), None)

    @property
    def max_window(self) -> timedelta:
        windows = [r.window for r in self.defaults.values()]
        windows += [c["window"] for by_incident in self.overrides.values() for c in by_incident.values() if "window" in c]
        return max(windows, default=timedelta(0))

    @property
    def max_escalation_step(self) -> int:
        return max((r.escalation_step or 0 for r in self.routes), default=0)


# ---------------------------------------------------------------- loading and validation

_TIMING_KEYS = {"escalate_after_minutes": "escalate_after", "repeat_after_minutes": "repeat_after",
                "resolve_after_hours": "resolve_after"}
_INCIDENT_KEYS = {"weight", "window_hours", "levels", *_TIMING_KEYS}
_DEFAULT_TIMINGS = {"escalate_after_minutes": 30, "repeat_after_minutes": 360, "resolve_after_hours": 48}


def _duration(key: str, value: float) -> timedelta:
    return timedelta(minutes=value) if key.endswith("_minutes") else timedelta(hours=value)


class _Checker:
    """Collects `file:line: message` errors (and warnings) while converting one file's tables."""

    def __init__(self, file_label: str, text: str, errors: list[str], warnings: list[str]) -> None:
        self.file_label = file_label
        self.locator = Locator(text)
        self.errors = errors
        self.warnings = warnings

    def error(self, path: tuple[str, ...], message: str, occurrence: int = 0) -> None:
        self.errors.append(f"{self.file_label}:{self.locator.line(path, occurrence)}: {message}")

    def warn(self, path: tuple[str, ...], message: str, occurrence: int = 0) -> None:
        self.warnings.append(f"{self.file_label}:{self.locator.line(path, occurrence)}: warning: {message}")

    def where(self, path: tuple[str, ...], occurrence: int = 0) -> str:
        return f"{self.file_label}:{self.locator.line(path, occurrence)}"

    def unknown_keys(self, table: dict, allowed: set[str], path: tuple[str, ...], occurrence: int = 0) -> None:
        for key in sorted(set(table) - allowed):
            self.error((*path, key), f"unknown key '{'.'.join((*path, key))}' (allowed: {', '.join(sorted(allowed))})",
                       occurrence)

    def number(self, table: dict, key: str, path: tuple[str, ...], *, minimum: float = 0,
               integer: bool = False, occurrence: int = 0) -> float | None:
        if key not in table:
            return None
        value = table[key]
        kinds = (int,) if integer else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or value < minimum:
            kind = "an integer" if integer else "a number"
            self.error((*path, key), f"'{'.'.join((*path, key))}' must be {kind} >= {minimum}, got {value!r}",
                       occurrence)
            return None
        return value


def _rule_files(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*.toml") if p.name != TAXONOMY_FILE)


def _label(file: Path, root: Path) -> str:
    try:
        return str(file.relative_to(root.parent if root.is_dir() else file.parent))
    except ValueError:
        return str(file)


def load_rules(path: str | Path, known_areas: set[str] | frozenset[str] | None = None,
               taxonomy: Taxonomy | None = None) -> RuleSet:
    """Load and validate a rules directory (or one file). Raises RulesError listing every problem.

    `known_areas`: P-codes that exist (admin_units); when given, an override or silence naming
    another P-code is an error. The taxonomy is `<dir>/incidents.toml` when present."""
    root = Path(path)
    if not root.exists():
        raise RulesError([f"{root}: no such file or directory"])
    if taxonomy is None:
        own = root / TAXONOMY_FILE if root.is_dir() else root.parent / TAXONOMY_FILE
        taxonomy = load_taxonomy(own if own.exists() else DEFAULT_TAXONOMY)
    errors: list[str] = []
    warnings: list[str] = []
    builder = _Builder(taxonomy, known_areas, errors)
    files = _rule_files(root)
    if not files:
        raise RulesError([f"{root}: no rule files (*.toml)"])
    read = 0
    for file in files:
        label = _label(file, root)
        try:
            text = file.read_text(encoding="utf-8")
            data = tomllib.loads(text)
        except OSError as exc:
            errors.append(f"{label}:1: cannot read: {exc.strerror}")
            continue
        except UnicodeDecodeError:
            errors.append(f"{label}:1: not UTF-8 text")
            continue
        except tomllib.TOMLDecodeError as exc:
            errors.append(f"{label}:{getattr(exc, 'lineno', None) or _toml_error_line(str(exc))}: not valid TOML: {exc}")
            continue
        builder.add_file(_Checker(label, text, errors, warnings), data)
        read += 1
    rules = builder.build(str(root), len(files) == read, warnings)
    if errors:
        raise RulesError(errors, warnings)
    return rules


def _not_roles(roles: Any) -> str:
    """The values of a roles list that are not roles, as an error names them."""
    if not isinstance(roles, list):
        return f", got {roles!r}"
    wrong = [role for role in roles if role not in ROLES]
    return f", not {', '.join(repr(role) for role in wrong)}" if wrong else ", got an empty list"


def _toml_error_line(message: str) -> int:
    marker = "(at line "
    if marker in message:
        return int(message.split(marker, 1)[1].split(",", 1)[0])
    return 1


class _Builder:
    def __init__(self, taxonomy: Taxonomy, known_areas: set[str] | frozenset[str] | None,
                 errors: list[str]) -> None:
        self.taxonomy = taxonomy
        self.known_areas = known_areas
        self.errors = errors
        self.scoring = ScoringParams()
        self.timings = dict(_DEFAULT_TIMINGS)
        self.incident_tables: dict[str, tuple[_Checker, dict]] = {}
        self.overrides: dict[str, dict[str, dict[str, Any]]] = {}
        self.routes: list[Route] = []
        self.silences: list[Silence] = []
        self.quiet_hours: QuietHours | None = None
        self.defined_at: dict[tuple[str, ...], str] = {}
        self.spillover = SpilloverBuilder(taxonomy.ids, ROLES, known_areas)

    def _once(self, checker: _Checker, path: tuple[str, ...]) -> bool:
        """A section may be defined in one file only; a second definition is an error."""
        if path in self.defined_at:
            checker.error(path, f"[{'.'.join(path)}] already defined at {self.defined_at[path]}")
            return False
        self.defined_at[path] = checker.where(path)
        return True

    def add_file(self, checker: _Checker, data: dict) -> None:
        sections = {"scoring": self._scoring, "timings": self._timings, "incident": self._incidents,
                    "area": self._areas, "route": self._routes, "silence": self._silences,
                    "quiet_hours": self._quiet_hours, "spillover": self.spillover.spillover,
                    "neighbours": self.spillover.neighbours}
        checker.unknown_keys(data, set(sections), ())
        for name, handler in sections.items():
            if name in data:
                handler(checker, data[name])

    def _table(self, checker: _Checker, value: Any, path: tuple[str, ...], occurrence: int = 0) -> bool:
        if isinstance(value, dict):
            return True
        checker.error(path, f"'{'.'.join(path)}' must be a table", occurrence)
        return False

    def _scoring(self, checker: _Checker, table: Any) -> None:
        path = ("scoring",)
        if not self._table(checker, table, path) or not self._once(checker, path):
            return
        checker.unknown_keys(table, {"trust", "count_cap", "age_floor", "corroboration"}, path)
        trust = dict(self.scoring.trust)
        if "trust" in table and self._table(checker, table["trust"], (*path, "trust")):
            checker.unknown_keys(table["trust"], set(TRUST_LEVELS), (*path, "trust"))
            for level in TRUST_LEVELS:
                value = checker.number(table["trust"], level, (*path, "trust"))
                if value is not None:
                    trust[level] = float(value)
        age_floor = checker.number(table, "age_floor", path)
        if age_floor is not None and age_floor > 1:
            checker.error((*path, "age_floor"), "'scoring.age_floor' must be between 0 and 1")
            age_floor = None
        count_cap = checker.number(table, "count_cap", path, minimum=1, integer=True)
        corroboration = checker.number(table, "corroboration", path, minimum=2, integer=True)
        self.scoring = ScoringParams(
            trust=trust,
            count_cap=int(count_cap or self.scoring.count_cap),
            age_floor=float(self.scoring.age_floor if age_floor is None else age_floor),
            corroboration=int(corroboration or self.scoring.corroboration),
        )

    def _timings(self, checker: _Checker, table: Any) -> None:
        path = ("timings",)
        if not self._table(checker, table, path) or not self._once(checker, path):
            return
        checker.unknown_keys(table, set(_TIMING_KEYS), path)
        for key in _TIMING_KEYS:
            value = checker.number(table, key, path, minimum=1)
            if value is not None:
                self.timings[key] = value

    def _incidents(self, checker: _Checker, table: Any) -> None:
        if not self._table(checker, table, ("incident",)):
            return
        for incident, body in table.items():
            path = ("incident", incident)
            if incident not in self.taxonomy.ids:
                checker.error(path, f"unknown incident '{incident}' (known: {', '.join(sorted(self.taxonomy.ids))})")
                continue
            if self._table(checker, body, path) and self._once(checker, path):
                checker.unknown_keys(body, _INCIDENT_KEYS, path)
                for key in ("weight", "window_hours", "levels"):
                    if key not in body:
                        checker.error(path, f"[incident.{incident}] needs '{key}'")
                self.incident_tables[incident] = (checker, body)

    def _rule_fields(self, checker: _Checker, body: dict, path: tuple[str, ...]) -> dict[str, Any]:
        """IncidentRule fields from an [incident.X] or [area.P.X] table (only the keys present)."""
        fields: dict[str, Any] = {}
        weight = checker.number(body, "weight", path)
        if weight is not None:
            fields["weight"] = float(weight)
        window = checker.number(body, "window_hours", path, minimum=0.1)
        if window is not None:
            fields["window"] = timedelta(hours=window)
        for key, name in _TIMING_KEYS.items():
            value = checker.number(body, key, path, minimum=1)
            if value is not None:
                fields[name] = _duration(key, value)
        if "levels" in body:
            levels = self._levels(checker, body["levels"], (*path, "levels"))
            if levels is not None:
                fields["levels"] = levels
        return fields

    def _levels(self, checker: _Checker, value: Any, path: tuple[str, ...]) -> tuple[LevelCondition, ...] | None:
        name = ".".join(path)
        if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
            checker.error(path, f"'{name}' must be a list of tables such as [{{ score = 1.0 }}, {{ reporters = 2 }}]")
            return None
        levels = []
        for number, condition in enumerate(value, start=1):
            unknown = sorted(set(condition) - {"score", "reporters", "count"})
            if unknown:
                checker.error(path, f"'{name}' level {number}: unknown key '{unknown[0]}' (allowed: count, reporters, score)")
                return None
            if not condition:
                checker.error(path, f"'{name}' level {number}: needs at least one of score, reporters, count")
                return None
            score = checker.number(condition, "score", path, minimum=0)
            reporters = checker.number(condition, "reporters", path, minimum=1, integer=True)
            count = checker.number(condition, "count", path, minimum=1, integer=True)
            levels.append(LevelCondition(score, reporters, count))
        self._levels_in_order(checker, levels, path)
        return tuple(levels)

    @staticmethod
    def _levels_in_order(checker: _Checker, levels: list[LevelCondition], path: tuple[str, ...]) -> None:
        """A higher level asking for less than the one below it is reached with it: probably swapped."""
        name = ".".join(path)
        for number, (lower, higher) in enumerate(zip(levels, levels[1:], strict=False), start=1):
            for key in ("score", "reporters", "count"):
                below, above = getattr(lower, key), getattr(higher, key)
                if below is not None and above is not None and above < below:
                    checker.warn(path, f"'{name}' level {number + 1} asks for {key} = {above:g}, less than level "
                                       f"{number} ({key} = {below:g}): levels go from the lowest to the highest")

    def _check_area(self, checker: _Checker, pcode: Any, path: tuple[str, ...], occurrence: int = 0) -> bool:
        if not isinstance(pcode, str) or not PCODE_PATTERN.match(pcode):
            checker.error(path, f"'{pcode}' is not a P-code (e.g. NE004006003, ML070201)", occurrence)
            return False
        if self.known_areas is not None and pcode not in self.known_areas:
            checker.error(path, f"unknown area P-code '{pcode}'", occurrence)
            return False
        return True

    def _areas(self, checker: _Checker, table: Any) -> None:
        if not self._table(checker, table, ("area",)):
            return
        for pcode, body in table.items():
            path = ("area", pcode)
            if not self._check_area(checker, pcode, path) or not self._table(checker, body, path):
                continue
            for incident, rule_body in body.items():
                if incident == "name":  # a readable label for the admin, not used by the engine
                    continue
                rule_path = (*path, incident)
                if incident not in self.taxonomy.ids:
                    checker.error(rule_path, f"unknown incident '{incident}' in [area.{pcode}]")
                    continue
                if self._table(checker, rule_body, rule_path) and self._once(checker, rule_path):
                    checker.unknown_keys(rule_body, _INCIDENT_KEYS, rule_path)
                    self.overrides.setdefault(pcode, {})[incident] = self._rule_fields(checker, rule_body, rule_path)

    def _routes(self, checker: _Checker, entries: Any) -> None:
        if not isinstance(entries, list):
            checker.error(("route",), "'route' must be written as [[route]] tables")
            return
        for occurrence, entry in enumerate(entries):
            path = ("route",)
            if not self._table(checker, entry, path, occurrence):
                continue
            checker.unknown_keys(entry, {"area", "roles", "min_level", "when_corroborated", "escalation_step"},
                                 path, occurrence)
            area = entry.get("area")
            if area not in {level.value for level in AreaLevel}:
                checker.error((*path, "area"), f"route area must be commune, department or region, got {area!r}",
                              occurrence)
                continue
            roles = entry.get("roles", sorted(ROLES))
            if not isinstance(roles, list) or not roles or not set(roles) <= ROLES:
                checker.error((*path, "roles"), f"route roles must be a list of {', '.join(sorted(ROLES))}"
                                                f"{_not_roles(roles)}", occurrence)
                continue
            min_level = checker.number(entry, "min_level", path, minimum=1, integer=True, occurrence=occurrence)
            step = checker.number(entry, "escalation_step", path, minimum=1, integer=True, occurrence=occurrence)
            corroborated = entry.get("when_corroborated", False)
            if not isinstance(corroborated, bool):
                checker.error((*path, "when_corroborated"), "when_corroborated must be true or false", occurrence)
                continue
            if min_level is None and step is None and not corroborated:
                checker.error(path, "route never applies: set min_level, when_corroborated or escalation_step",
                              occurrence)
                continue
            self.routes.append(Route(AreaLevel(area), frozenset(roles), min_level, corroborated, step))

    def _silences(self, checker: _Checker, entries: Any) -> None:
        if not isinstance(entries, list):
            checker.error(("silence",), "'silence' must be written as [[silence]] tables")
            return
        for occurrence, entry in enumerate(entries):
            path = ("silence",)
            if not self._table(checker, entry, path, occurrence):
                continue
            checker.unknown_keys(entry, {"area", "incident", "until", "reason"}, path, occurrence)
            ok = self._check_area(checker, entry.get("area"), (*path, "area"), occurrence)
            incident = entry.get("incident")
            if incident is not None and incident not in self.taxonomy.ids:
                checker.error((*path, "incident"), f"unknown incident '{incident}'", occurrence)
                ok = False
            until = entry.get("until")
            if isinstance(until, datetime) and until.tzinfo is None:
                until = until.replace(tzinfo=UTC)
            if not isinstance(until, datetime):
                checker.error((*path, "until"), "silence needs until = a date and time, e.g. 2025-07-01T00:00:00Z",
                              occurrence)
                ok = False
            reason = entry.get("reason")
            if not isinstance(reason, str) or not reason.strip():
                checker.error(path, "silence needs a reason", occurrence)
                ok = False
            if ok:
                self.silences.append(Silence(entry["area"], incident, until, reason.strip()))

    def _quiet_hours(self, checker: _Checker, table: Any) -> None:
        path = ("quiet_hours",)
        if not self._table(checker, table, path) or not self._once(checker, path):
            return
        checker.unknown_keys(table, {"start", "end", "max_level", "utc_offset_hours"}, path)
        bounds = []
        for key in ("start", "end"):
            value = table.get(key)
            try:
                bounds.append(value if isinstance(value, time) else time.fromisoformat(str(value)))
            except ValueError:
                checker.error((*path, key), f"quiet_hours.{key} must be a time such as \"22:00\", got {value!r}")
                return
        max_level = checker.number(table, "max_level", path, minimum=1, integer=True)
        offset = table.get("utc_offset_hours", 0)
        if isinstance(offset, bool) or not isinstance(offset, int | float) or not -12 <= offset <= 14:
            checker.error((*path, "utc_offset_hours"), "quiet_hours.utc_offset_hours must be a number of hours")
            return
        self.quiet_hours = QuietHours(bounds[0], bounds[1], int(max_level or 1), timedelta(hours=offset))

    def build(self, root_label: str, whole: bool, warnings: list[str]) -> RuleSet:
        """`whole`: every file was read, so a missing incident rule or route is really missing (a file
        that could not be read is its one error)."""
        defaults: dict[str, IncidentRule] = {}
        timing_defaults = {name: _duration(key, self.timings[key]) for key, name in _TIMING_KEYS.items()}
        for incident, (checker, body) in self.incident_tables.items():
            fields = {**timing_defaults, **self._rule_fields(checker, body, ("incident", incident))}
            if {"weight", "window", "levels"} <= set(fields):
                defaults[incident] = IncidentRule(incident=incident, **fields)
        for incident in sorted(self.taxonomy.ids - set(self.incident_tables)) if whole else ():
            self.errors.append(f"{root_label}:1: no [incident.{incident}] rule: every incident needs one")
        if not self.routes and whole:
            self.errors.append(f"{root_label}:1: no [[route]]: alerts would reach nobody")
        severity = {incident.id: incident.severity for incident in self.taxonomy.incidents}
        return RuleSet(self.scoring, defaults, self.overrides, tuple(self.routes), tuple(self.silences),
                       self.quiet_hours, severity, self.spillover.build(), tuple(warnings))

"""Score of one commune and incident over a sliding window: pure, the clock is an argument."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.rules import IncidentRule, ScoringParams

FRESH_FRACTION = 0.5  # share of the window during which a report keeps its full weight


@dataclass(frozen=True)
class WindowReport:
    """What scoring needs to know about a report (no number, no name)."""

    report_id: int
    sender_key: str
    trust: str  # approved, pending, unknown
    count: int | None
    received_at: datetime
    retracted: bool = False


@dataclass(frozen=True)
class Score:
    value: float
    reporters: int  # distinct senders
    trusted_reporters: int  # distinct senders that are not unknown numbers
    corroborated: bool
    max_count: int
    level: int
    report_ids: tuple[int, ...]  # the reports given that counted (store.windows_senders gives only each best)


def contribution(report: WindowReport, rule: IncidentRule, params: ScoringParams, now: datetime) -> float:
    """weight x trust x count factor (1 + log10 of the capped count) x age factor; 0 outside the window.

    The age factor is 1 for the first half of the window (a report scored seconds or minutes after
    it arrived must weigh fully), then falls linearly to `age_floor` at the end of the window."""
    age = max(now - report.received_at, timedelta(0))  # a clock slightly ahead is "just now"
    if age >= rule.window:
        return 0.0
    count = min(max(report.count or 1, 1), params.count_cap)
    past_fresh = max(age / rule.window - FRESH_FRACTION, 0.0) / (1.0 - FRESH_FRACTION)
    age_factor = 1.0 - (1.0 - params.age_floor) * past_fresh
    return rule.weight * params.trust.get(report.trust, 0.0) * (1.0 + math.log10(count)) * age_factor


def level_reached(rule: IncidentRule, value: float, reporters: int, max_count: int, trusted_reporters: int) -> int:
    """The highest level whose condition holds along with every lower one; never above 0
    without at least one reporter who is not an unknown number."""
    if trusted_reporters == 0:
        return 0
    level = 0
    for condition in rule.levels:
        if not condition.met(value, reporters, max_count):
            break
        level += 1
    return level


def score_window(reports: Iterable[WindowReport], rule: IncidentRule, params: ScoringParams,
                 now: datetime) -> Score:
    """Each sender counts once, by its best report: one number repeating itself adds nothing."""
    best: dict[str, float] = {}
    trusted: set[str] = set()
    max_count = 0
    counted: list[int] = []
    for report in reports:
        if report.retracted or now - report.received_at >= rule.window:
            continue
        counted.append(report.report_id)
        best[report.sender_key] = max(best.get(report.sender_key, 0.0), contribution(report, rule, params, now))
        if report.trust != "unknown":
            trusted.add(report.sender_key)
        max_count = max(max_count, report.count or 0)
    value = round(sum(best.values()), 6)
    level = level_reached(rule, value, len(best), max_count, len(trusted))
    return Score(value, len(best), len(trusted), len(best) >= params.corroboration, max_count, level,
                 tuple(sorted(counted)))

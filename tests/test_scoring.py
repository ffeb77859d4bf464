"""Scoring, Alertmanager style: rules plus a table of report sequences and the expected outcome."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.areas import AreaPath
from alerts.rules import load_rules
from alerts.scoring import WindowReport, score_window

RULES = load_rules(Path(__file__).resolve().parents[1] / "rules")
GABI = AreaPath.from_pcode("NE004006003")
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def report(n: int, sender: str, trust: str = "approved", count: int | None = None, minutes: float = 0,
           retracted: bool = False) -> WindowReport:
    return WindowReport(n, sender, trust, count, T0 + timedelta(minutes=minutes), retracted)


# (label, incident, reports, minutes after T0 when scored, (level, reporters, corroborated, max_count))
CASES = [
    ("one approved attack alerts at once", "attack", [report(1, "a")], 0, (1, 1, False, 0)),
    ("one pending attack does not", "attack", [report(1, "a", "pending")], 0, (0, 1, False, 0)),
    ("unknown numbers never alert alone", "attack",
     [report(i, f"u{i}", "unknown", count=50) for i in range(1, 6)], 0, (0, 5, True, 50)),
    ("two pending reporters corroborate", "attack",
     [report(1, "a", "pending"), report(2, "b", "pending")], 0, (2, 2, True, 0)),
    ("a second independent reporter raises", "attack",
     [report(1, "a"), report(2, "b", minutes=10)], 10, (2, 2, True, 0)),
    ("an unknown number corroborates an approved one", "attack",
     [report(1, "a"), report(2, "u", "unknown", minutes=5)], 5, (2, 2, True, 0)),
    ("one number repeating itself is one reporter", "attack",
     [report(1, "a", "pending"), report(2, "a", "pending", minutes=1), report(3, "a", "pending", minutes=2)],
     2, (0, 1, False, 0)),
    ("a count of ten raises", "attack", [report(1, "a", count=12)], 0, (2, 1, False, 12)),
    ("a retracted report stops counting", "attack",
     [report(1, "a", retracted=True), report(2, "b", "pending")], 0, (0, 1, False, 0)),
    ("reports age out of the window", "attack", [report(1, "a")], 6 * 60, (0, 0, False, 0)),
    ("an approved report keeps its weight for half the window", "attack", [report(1, "a")], 3 * 60,
     (1, 1, False, 0)),
    ("an aged approved report is not enough alone", "attack", [report(1, "a")], 4 * 60 + 30, (0, 1, False, 0)),
    ("cattle theft: two reporters are not enough", "cattle_theft",
     [report(1, "a"), report(2, "b", minutes=60)], 60, (0, 2, True, 0)),
    ("cattle theft: three independent reporters in 24h", "cattle_theft",
     [report(1, "a"), report(2, "b", minutes=600), report(3, "c", "unknown", minutes=1200)], 1200,
     (1, 3, True, 0)),
    ("cattle theft: a large count", "cattle_theft", [report(1, "a", count=60)], 0, (1, 1, False, 60)),
    ("cattle theft: three reporters but only unknown numbers", "cattle_theft",
     [report(i, f"u{i}", "unknown") for i in range(1, 4)], 0, (0, 3, True, 0)),
    ("cattle theft: five reporters reach level 2", "cattle_theft",
     [report(i, f"s{i}", minutes=i * 30) for i in range(1, 6)], 200, (2, 5, True, 0)),
    ("armed men: two numbers", "armed_men", [report(1, "a"), report(2, "b", "pending")], 0, (1, 2, True, 0)),
]


@pytest.mark.parametrize("label,incident,reports,minutes,expected", CASES, ids=[c[0] for c in CASES])
def test_score_table(label, incident, reports, minutes, expected):
    score = score_window(reports, RULES.rule_for(GABI, incident), RULES.scoring, T0 + timedelta(minutes=minutes))
    assert (score.level, score.reporters, score.corroborated, score.max_count) == expected


def test_score_values_follow_the_documented_formula():
    rule, params = RULES.rule_for(GABI, "attack"), RULES.scoring
    fresh = score_window([report(1, "a", count=10)], rule, params, T0)
    assert fresh.value == 2.0  # weight 1 x approved 1 x (1 + log10 10) x fresh 1
    half_window = score_window([report(1, "a", count=10)], rule, params, T0 + timedelta(hours=3))
    assert half_window.value == 2.0  # full weight for the first half of the window
    three_quarters = score_window([report(1, "a", count=10)], rule, params, T0 + timedelta(hours=4, minutes=30))
    assert three_quarters.value == 1.5  # then falling linearly: 1 - 0.5 x 0.5
    capped = score_window([report(1, "a", count=5000)], rule, params, T0)
    assert capped.value == 3.0  # count capped at 100
    best_of_sender = score_window([report(1, "a", count=1), report(2, "a", count=100)], rule, params, T0)
    assert best_of_sender.value == 3.0 and best_of_sender.report_ids == (1, 2)
    mixed = score_window([report(1, "a"), report(2, "b", "pending"), report(3, "c", "unknown")], rule, params, T0)
    assert mixed.value == 1.75 and mixed.trusted_reporters == 2


def test_a_report_from_a_clock_slightly_ahead_counts_as_fresh():
    score = score_window([report(1, "a", minutes=1)], RULES.rule_for(GABI, "attack"), RULES.scoring, T0)
    assert score.level == 1 and score.value == 1.0

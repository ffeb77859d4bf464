"""The notification pipeline stages, each with an injected clock and an exact reason."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from alerts.areas import AreaLevel, AreaPath
from alerts.pipeline import OtherAlert, Situation, Trigger, decide
from alerts.routing import Member, Recipient
from alerts.rules import load_rules
from tests.support.rules import MINIMAL

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
GABI = AreaPath.from_pcode("NE004006003")
ALICE = Recipient(Member(1, "+22790000001", "Alice", "NE004006003", "chair", "fr"), AreaLevel.COMMUNE, "commune level 1")
BOB = Recipient(Member(2, "+22790000002", "Bob", "NE004006", "chair", "fr"), AreaLevel.DEPARTMENT, "department level 2")


@pytest.fixture
def rules(tmp_path):
    (tmp_path / "rules.toml").write_text(MINIMAL + """
[timings]
repeat_after_minutes = 120

[[silence]]
area = "NE004006"
incident = "cattle_theft"
until = 2026-03-02T00:00:00Z
reason = "transhumance"

[quiet_hours]
start = "22:00"
end = "06:00"
max_level = 1
utc_offset_hours = 1
""")
    return load_rules(tmp_path)


def situation(**changes) -> Situation:
    base = Situation(code="K7Q2", incident="attack", level=1, trigger=Trigger.OPENED, path=GABI, now=NOW,
                     acknowledged=False, last_notified_at=None)
    return replace(base, **changes)


def reasons(rules, s: Situation, sent_levels=None, recipients=(ALICE, BOB)):
    rule = rules.rule_for(s.path, s.incident)
    return [(r.member.id, d.send, d.reason) for r, d in decide(s, rules, rule, recipients, sent_levels or {})]


def test_first_notification_goes_to_everyone_routed(rules):
    assert reasons(rules, situation()) == [(1, True, "first notification L1"), (2, True, "first notification L1")]


def test_raised_level_goes_again_to_those_who_had_the_lower_one(rules):
    s = situation(level=2, trigger=Trigger.RAISED, last_notified_at=NOW - timedelta(minutes=5))
    assert reasons(rules, s, {1: 1}) == [(1, True, "level raised L2"), (2, True, "level raised L2")]


def test_same_level_does_not_renotify_within_the_repeat_interval(rules):
    s = situation(trigger=Trigger.UPDATED, last_notified_at=NOW - timedelta(minutes=119))
    assert reasons(rules, s, {1: 1}, [ALICE]) == [(1, False, "repeat interval not elapsed")]
    later = replace(s, now=NOW + timedelta(minutes=1))
    assert reasons(rules, later, {1: 1}, [ALICE]) == [(1, True, "repeat interval elapsed")]
    acknowledged = replace(later, acknowledged=True)
    assert reasons(rules, acknowledged, {1: 1}, [ALICE]) == [(1, False, "acknowledged: no repeat")]


def test_a_newly_routed_member_gets_the_first_notification_at_the_same_level(rules):
    s = situation(trigger=Trigger.UPDATED, last_notified_at=NOW - timedelta(minutes=5))
    assert reasons(rules, s, {1: 1}) == [(1, False, "repeat interval not elapsed"), (2, True, "newly routed L1")]


def test_escalation_reaches_only_those_not_yet_told(rules):
    s = situation(trigger=Trigger.ESCALATED, escalation_step=1, last_notified_at=NOW - timedelta(minutes=30))
    assert reasons(rules, s, {1: 1}) == [(1, False, "already notified at L1"), (2, True, "escalation L1")]


def test_silence_covers_the_department_and_its_communes(rules):
    s = situation(incident="cattle_theft")
    expected = "silenced until 2026-03-02 00:00: transhumance"
    assert reasons(rules, s) == [(1, False, expected), (2, False, expected)]
    assert reasons(rules, replace(s, now=datetime(2026, 3, 2, 12, tzinfo=UTC)))[0][1] is True


def test_a_more_severe_open_incident_inhibits_a_lower_level_one(rules):
    killing = OtherAlert("M3X9", "killing", 1)
    s = situation(incident="cattle_theft", now=datetime(2026, 3, 3, 12, tzinfo=UTC), others_open=(killing,))
    assert reasons(rules, s, recipients=[ALICE]) == [(1, False, "inhibited by M3X9 (killing L1)")]
    higher_level = replace(s, level=2)
    assert reasons(rules, higher_level, recipients=[ALICE]) == [(1, True, "first notification L2")]
    milder = replace(s, incident="attack", others_open=(OtherAlert("C4T7", "cattle_theft", 2),))
    assert reasons(rules, milder, recipients=[ALICE]) == [(1, True, "first notification L1")]


def test_quiet_hours_hold_low_levels_only(rules):
    night = datetime(2026, 3, 3, 23, 0, tzinfo=UTC)  # midnight in Niger
    assert reasons(rules, situation(now=night), recipients=[ALICE]) == [(1, False, "quiet hours (level 1)")]
    assert reasons(rules, situation(now=night, level=2), recipients=[ALICE]) == [(1, True, "first notification L2")]

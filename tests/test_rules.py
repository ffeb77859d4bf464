"""Rule files: shipped defaults, effective rule resolution, and `file:line: message` errors."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from alerts.areas import AreaPath, StaticGazetteer
from alerts.rules import LevelCondition, RulesError, load_rules
from tests.support.rules import MINIMAL

RULES_DIR = Path(__file__).resolve().parents[1] / "rules"


def write(tmp_path: Path, text: str, name: str = "rules.toml") -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def errors_of(path: Path, known_areas=None) -> list[str]:
    with pytest.raises(RulesError) as caught:
        load_rules(path, known_areas)
    return caught.value.errors


def test_shipped_rules_load_and_say_what_the_issue_promises():
    rules = load_rules(RULES_DIR)
    gabi = AreaPath.from_pcode("NE004006003")
    for grave in ("attack", "kidnapping", "killing", "explosive"):
        rule = rules.rule_for(gabi, grave)
        assert rule.levels == (LevelCondition(score=1.0), LevelCondition(reporters=2, count=10))
        assert rule.escalate_after == timedelta(minutes=30)
    for gradual in ("cattle_theft", "armed_men", "displacement", "arson", "communal_clash", "trafficking"):
        assert rules.rule_for(gabi, gradual).window == timedelta(hours=24)
    assert rules.rule_for(gabi, "cattle_theft").levels[0] == LevelCondition(reporters=3, count=50)
    assert rules.max_escalation_step == 2
    assert rules.silences == () and rules.quiet_hours is None


def test_pcode_prefixes_give_department_and_region():
    assert AreaPath.from_pcode("NE004006003") == AreaPath("NE004006003", "NE004006", "NE004")
    assert AreaPath.from_pcode("ML070201") == AreaPath("ML070201", "ML0702", "ML07")
    assert AreaPath.from_pcode("XX12") == AreaPath("XX12", None, None)
    places = StaticGazetteer({"NE004006003": "Gabi"}, {"NE004006003": "NE004006", "NE004006": "NE004"})
    assert places.area_path("NE004006003") == AreaPath("NE004006003", "NE004006", "NE004")
    assert places.name("NE004006003") == "Gabi" and places.name("NE004") == "NE004"


def test_commune_overrides_department_overrides_region_overrides_defaults(tmp_path):
    write(tmp_path, MINIMAL)
    write(tmp_path, """
[area.NE004.attack]
window_hours = 12
weight = 0.5
[area.NE004006.attack]
weight = 2.0
[area.NE004006003]
name = "Gabi"
[area.NE004006003.attack]
levels = [{ reporters = 2 }]
""", "areas/tillaberi.toml")
    rules = load_rules(tmp_path)
    gabi = rules.rule_for(AreaPath.from_pcode("NE004006003"), "attack")
    assert (gabi.window, gabi.weight, gabi.levels) == (timedelta(hours=12), 2.0, (LevelCondition(reporters=2),))
    neighbour = rules.rule_for(AreaPath.from_pcode("NE004006001"), "attack")
    assert (neighbour.window, neighbour.weight, neighbour.levels[0]) == (timedelta(hours=12), 2.0,
                                                                       LevelCondition(score=1.0))
    elsewhere = rules.rule_for(AreaPath.from_pcode("ML070201"), "attack")
    assert (elsewhere.window, elsewhere.weight) == (timedelta(hours=6), 1.0)


ERROR_CASES = [
    ("unknown top-level section", MINIMAL + "\n[thresholds]\nx = 1\n", None,
     "rules.toml:{line}: unknown key 'thresholds'", "[thresholds]"),
    ("unknown key in an incident", MINIMAL.replace("weight = 1.0", "weight = 1.0\nwieght = 2"), None,
     "rules.toml:{line}: unknown key 'incident.attack.wieght'", "wieght = 2"),
    ("unknown incident id", MINIMAL + "\n[incident.banditry]\nweight = 1\n", None,
     "rules.toml:{line}: unknown incident 'banditry'", "[incident.banditry]"),
    ("unknown area P-code", MINIMAL + "\n[area.NE999999999.attack]\nweight = 2\n", {"NE004006003"},
     "rules.toml:{line}: unknown area P-code 'NE999999999'", "[area.NE999999999.attack]"),
    ("malformed P-code", MINIMAL + "\n[area.Gabi.attack]\nweight = 2\n", None,
     "rules.toml:{line}: 'Gabi' is not a P-code", "[area.Gabi.attack]"),
    ("level with unknown threshold", MINIMAL.replace("{ reporters = 2, count = 10 }", "{ people = 10 }"), None,
     "rules.toml:{line}: 'incident.attack.levels' level 2: unknown key 'people'", "levels = [{ score = 1.0 }, { people"),
    ("negative weight", MINIMAL.replace("weight = 1.0", "weight = -1"), None,
     "rules.toml:{line}: 'incident.attack.weight' must be a number >= 0", "weight = -1"),
    ("route with bad area", MINIMAL + '\n[[route]]\narea = "village"\nmin_level = 1\n', None,
     "rules.toml:{line}: route area must be commune, department or region", 'area = "village"'),
    ("silence without reason", MINIMAL + '\n[[silence]]\narea = "NE004006003"\nuntil = 2030-01-01T00:00:00Z\n',
     None, "rules.toml:{line}: silence needs a reason", "[[silence]]"),
    ("silence on unknown incident", MINIMAL + '\n[[silence]]\narea = "NE004006003"\nincident = "banditry"\n'
     'until = 2030-01-01T00:00:00Z\nreason = "x"\n', None, "rules.toml:{line}: unknown incident 'banditry'",
     'incident = "banditry"'),
    ("missing incident rule", MINIMAL.replace("[incident.attack]", "[incident.attack_]"), None,
     "rules.toml:{line}: unknown incident 'attack_'", "[incident.attack_]"),
]


@pytest.mark.parametrize("label,text,known,expected,marker", ERROR_CASES, ids=[c[0] for c in ERROR_CASES])
def test_a_broken_rule_names_file_and_line(tmp_path, label, text, known, expected, marker):
    path = write(tmp_path, text)
    line = next(n for n, content in enumerate(text.splitlines(), start=1) if content.startswith(marker))
    errors = errors_of(path, known)
    assert any(e.startswith(expected.format(line=line)) for e in errors), errors


def test_every_incident_needs_a_rule_and_someone_to_route_to(tmp_path):
    text = MINIMAL.replace('[[route]]\narea = "commune"\nmin_level = 1\n', "")
    text = text[: text.index("[incident.trafficking]")]
    errors = errors_of(write(tmp_path, text))
    assert any(e.endswith("no [incident.trafficking] rule: every incident needs one") for e in errors)
    assert any(e.endswith("no [[route]]: alerts would reach nobody") for e in errors)


def test_bad_toml_names_its_line(tmp_path):
    text = MINIMAL + "\n[timings]\nescalate_after_minutes = = 3\n"
    line = len(text.splitlines())
    errors = errors_of(write(tmp_path, text))
    assert errors[0].startswith(f"rules.toml:{line}: not valid TOML")


def test_a_section_defined_in_two_files_is_refused_with_both_places(tmp_path):
    write(tmp_path, MINIMAL, "defaults.toml")
    write(tmp_path, "# again\n[incident.attack]\nweight = 1\nwindow_hours = 1\nlevels = [{ score = 1 }]\n",
          "extra.toml")
    errors = errors_of(tmp_path)
    assert errors == ["tmp/extra.toml:2: [incident.attack] already defined at tmp/defaults.toml:2".replace(
        "tmp", tmp_path.name)]


def test_silences_and_quiet_hours(tmp_path):
    text = MINIMAL + """
[[silence]]
area = "NE004006"
incident = "attack"
until = 2030-01-01T00:00:00Z
reason = "military operation"

[quiet_hours]
start = "22:00"
end = "06:00"
max_level = 1
utc_offset_hours = 1
"""
    rules = load_rules(write(tmp_path, text))
    gabi = AreaPath.from_pcode("NE004006003")
    before = datetime(2029, 12, 31, tzinfo=UTC)
    assert rules.silence_for(gabi, "attack", before).reason == "military operation"
    assert rules.silence_for(gabi, "kidnapping", before) is None
    assert rules.silence_for(gabi, "attack", datetime(2030, 1, 1, tzinfo=UTC)) is None
    assert rules.silence_for(AreaPath.from_pcode("NE004005003"), "attack", before) is None
    night = datetime(2029, 6, 1, 21, 30, tzinfo=UTC)  # 22:30 in Niger
    assert rules.quiet_hours.active(night, 1) and not rules.quiet_hours.active(night, 2)
    assert not rules.quiet_hours.active(datetime(2029, 6, 1, 5, 0, tzinfo=UTC), 1)  # 06:00 local

"""Routing as data: inline TOML routes plus a table of alert states and the expected recipients."""

from pathlib import Path

import pytest

from alerts.areas import AreaPath
from alerts.routing import Member, route_alert
from alerts.rules import load_rules
from tests.support.rules import MINIMAL

ROUTES = MINIMAL.replace('[[route]]\narea = "commune"\nmin_level = 1\n', """
[[route]]
area = "commune"
roles = ["member", "chair", "authority"]
min_level = 1

[[route]]
area = "department"
roles = ["chair", "authority"]
min_level = 2
when_corroborated = true
escalation_step = 1

[[route]]
area = "region"
roles = ["authority"]
min_level = 3
escalation_step = 2
""")

SHIPPED_RULES = Path(__file__).resolve().parents[1] / "rules"
GABI = AreaPath.from_pcode("NE004006003")
MEMBERS = [
    Member(1, "+22790000001", "Moussa", "NE004006003", "member", "ha"),
    Member(2, "+22790000002", "Aissa", "NE004006003", "chair", "fr"),
    Member(3, "+22790000003", "Prefet", "NE004006", "authority", "fr"),
    Member(4, "+22790000004", "Secretaire", "NE004006", "member", "fr"),  # department member: not routed
    Member(5, "+22790000005", "Gouverneur", "NE004", "authority", "fr"),
    Member(6, "+22790000006", "Other commune", "NE004005003", "chair", "fr"),  # never for Gabi
    Member(7, "+22790000002", "Aissa again", "NE004006", "chair", "fr"),  # same person in the department
]

# (label, level, corroborated, escalation step, expected [(member id, reason)])
CASES = [
    ("level 1: the commune committee", 1, False, 0, [(1, "commune level 1"), (2, "commune level 1")]),
    ("corroborated: the department joins", 1, True, 0,
     [(1, "commune level 1"), (2, "commune level 1"), (3, "department corroborated")]),
    ("level 2", 2, False, 0, [(1, "commune level 2"), (2, "commune level 2"), (3, "department level 2")]),
    ("escalation step 1", 1, False, 1,
     [(1, "commune level 1"), (2, "commune level 1"), (3, "department escalation step 1")]),
    ("escalation step 2 reaches the governor", 1, False, 2,
     [(1, "commune level 1"), (2, "commune level 1"), (3, "department escalation step 2"),
      (5, "region escalation step 2")]),
    ("level 3", 3, False, 0,
     [(1, "commune level 3"), (2, "commune level 3"), (3, "department level 3"), (5, "region level 3")]),
]


@pytest.mark.parametrize("label,level,corroborated,step,expected", CASES, ids=[c[0] for c in CASES])
def test_routing_table(tmp_path, label, level, corroborated, step, expected):
    (tmp_path / "rules.toml").write_text(ROUTES)
    rules = load_rules(tmp_path)
    recipients = route_alert(rules.routes, GABI, MEMBERS, level=level, corroborated=corroborated,
                             escalation_step=step)
    assert [(r.member.id, r.reason) for r in recipients] == expected


def test_nobody_when_no_committee_exists():
    rules = load_rules(SHIPPED_RULES)
    assert route_alert(rules.routes, AreaPath.from_pcode("ML070201"), MEMBERS, level=2, corroborated=True) == []

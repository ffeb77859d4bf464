"""What a user reads: the README sends nobody to a file or an issue they do not have and covers what
setting up needs; the example rule file names its areas rightly."""

from __future__ import annotations

import re

from gateway.demo.gazetteer import load_demo_batch
from tests.support.paths import REPO

README = (REPO / "README.md").read_text()


def _section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start:end if end > 0 else None]


def test_the_readme_refers_to_no_issue_and_no_file_outside_the_repository() -> None:
    assert re.findall(r"\bissues? #?\d+", README, re.IGNORECASE) == []
    assert "protocol.md" not in README and "interface.md" not in README
    outside = [line for line in README.splitlines() if "../shared" in line]
    assert [line for line in outside if "skip" not in line] == [], "only the tests may use ../shared/data"


def test_the_readme_covers_callbacks_ussd_container_gazetteer_people_and_providers() -> None:
    deploying = _section("Deploying for real")
    for path in ("/callbacks/at/sms?token=", "/callbacks/at/delivery?token=", "/callbacks/at/ussd?token=",
                 "/callbacks/at/ussd/events?token="):
        assert path in deploying, path
    assert "USSD_CODES" in deploying and "Service Codes" in deploying
    assert "`Dockerfile`" in deploying and "docker run" in deploying
    assert "adm3_pcode" in deploying and "renaloc_code" in deploying and "localite" in deploying
    configuration = _section("Configuration")
    assert "`routes`" in configuration and "`tries_before_failover`" in configuration
    people = README[README.index("### Adding people one by one"):]
    assert "ewg reporters add" in people and "ewg committees add" in people and "/dashboard/people" in people
    assert "ewg backup" in deploying and "ewg restore" in deploying


def test_the_example_area_names_are_the_gazetteer_s() -> None:
    names = {unit.pcode: unit.name for unit in load_demo_batch().units}
    text = (REPO / "rules" / "areas" / "example.toml").read_text()
    named = re.findall(r'^# \[area\.(\w+)\][^\n]*\n# name = "([^"]+)"', text, re.MULTILINE)
    assert named, "the example names an area"
    assert [(pcode, name) for pcode, name in named if names.get(pcode) != name] == []

"""`ewg rules check` on a copy of the shipped rules: one error for a file that is not TOML (not the
rules it would have held), a bad role named, levels in the wrong order a warning."""

from __future__ import annotations

import logging
import shutil

import pytest

from gateway.alerting.rules_reload import RulesHolder
from gateway.demo.gazetteer import load_demo_batch
from gateway.gazetteer.matcher import Gazetteer
from tests.support.cli import ewg
from tests.support.paths import REPO

NO_DATABASE = "sqlite+aiosqlite:////nonexistent/ewg.db"  # the demo gazetteer


@pytest.fixture
def rules_dir(tmp_path):
    copy = tmp_path / "rules"
    shutil.copytree(REPO / "rules", copy)
    return copy


def check(rules_dir):
    return ewg("rules", "check", str(rules_dir), db_url=NO_DATABASE)


def _break(path, old: str, new: str) -> int:
    """Replace the first line `old` by `new`; returns its line number."""
    lines = path.read_text().splitlines()
    number = next(n for n, line in enumerate(lines, start=1) if line.strip() == old)
    lines[number - 1] = new
    path.write_text("\n".join(lines) + "\n")
    return number


def test_a_file_that_is_not_toml_is_its_one_error(rules_dir) -> None:
    line = _break(rules_dir / "defaults.toml", "[incident.attack]", "[incident.attack")
    result = check(rules_dir)
    assert result.returncode == 1
    assert len(result.stdout.splitlines()) == 1, result.stdout
    assert result.stdout.startswith(f"rules/defaults.toml:{line}: not valid TOML")


def test_a_bad_role_is_named(rules_dir) -> None:
    line = _break(rules_dir / "routing.toml", 'roles = ["member", "chair", "authority"]',
                  'roles = ["member", "boss"]')
    result = check(rules_dir)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        f"rules/routing.toml:{line}: route roles must be a list of authority, chair, member, not 'boss'"]


def test_levels_in_the_wrong_order_are_a_warning(rules_dir) -> None:
    line = _break(rules_dir / "defaults.toml", "levels = [{ reporters = 3, count = 50 }, { reporters = 5, count = 200 }]",
                  "levels = [{ reporters = 5, count = 200 }, { reporters = 3, count = 50 }]")
    result = check(rules_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines() == [
        f"rules/defaults.toml:{line}: warning: 'incident.cattle_theft.levels' level 2 asks for reporters = 3, less than "
        "level 1 (reporters = 5): levels go from the lowest to the highest",
        f"rules/defaults.toml:{line}: warning: 'incident.cattle_theft.levels' level 2 asks for count = 50, less than "
        "level 1 (count = 200): levels go from the lowest to the highest",
        f"{rules_dir}: rules OK (2 warning(s))"]


def test_the_shipped_rules_have_no_warning() -> None:
    result = ewg("rules", "check", db_url=NO_DATABASE)
    assert result.returncode == 0, result.stdout
    assert [line for line in result.stdout.splitlines() if not line.endswith("rules OK")] == []


def test_the_running_gateway_logs_the_warnings_of_rules_it_loads(rules_dir, caplog) -> None:
    line = _break(rules_dir / "defaults.toml",
                  "levels = [{ reporters = 3, count = 50 }, { reporters = 5, count = 200 }]",
                  "levels = [{ reporters = 5, count = 50 }, { reporters = 3, count = 200 }]")
    demo = load_demo_batch()
    holder = RulesHolder(rules_dir, Gazetteer(demo.units, demo.places))
    with caplog.at_level(logging.WARNING, logger="gateway.alerting.rules_reload"):
        assert holder.load()
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        f"rules: rules/defaults.toml:{line}: warning: 'incident.cattle_theft.levels' level 2 asks for reporters = 3, "
        "less than level 1 (reporters = 5): levels go from the lowest to the highest"]

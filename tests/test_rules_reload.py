"""Rules are reloaded by a running gateway without a restart; a broken file is refused
with file:line and the last good rules stay in force."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

from gateway.runtime import RUNTIME
from tests.support.gateway import running_gateway
from tests.support.paths import REPO


def copy_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    return rules


async def test_running_gateway_keeps_last_good_rules_and_takes_a_fixed_file(settings, clock, tmp_path, caplog) -> None:
    rules_dir = copy_rules(tmp_path)
    settings = replace(settings, rules=replace(settings.rules, path=str(rules_dir), watch=False))
    async with running_gateway(settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        holder = runtime.rules_holder
        good = runtime.rules
        assert good.defaults["cattle_theft"].weight == 0.6

        defaults = rules_dir / "defaults.toml"
        text = defaults.read_text()
        defaults.write_text(text.replace("weight = 0.6", "weigth = 0.6", 1))
        assert holder.reload_if_changed() is False
        assert runtime.rules is good, "a broken file must not replace the rules in force"
        assert any("defaults.toml:" in r.getMessage() and "weigth" in r.getMessage() for r in caplog.records)
        assert (await client.get("/healthz")).status == 200

        defaults.write_text(text.replace("weight = 0.6", "weight = 0.7", 1))
        assert holder.reload_if_changed() is True
        assert runtime.rules is not good
        assert runtime.rules.defaults["cattle_theft"].weight == 0.7


def test_rules_check_names_file_and_line(tmp_path) -> None:
    rules_dir = copy_rules(tmp_path)
    defaults = rules_dir / "defaults.toml"
    lines = defaults.read_text().splitlines()
    broken_line = next(i for i, line in enumerate(lines, start=1) if line.strip() == "weight = 0.6")
    lines[broken_line - 1] = "weigth = 0.6"
    defaults.write_text("\n".join(lines) + "\n")
    env = {"PATH": "/usr/bin:/bin", "EWG_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path}/none.db"}
    result = subprocess.run([sys.executable, "-m", "gateway", "rules", "check", str(rules_dir)],
                            capture_output=True, text=True, env=env, cwd=REPO, timeout=60)
    assert result.returncode == 1
    assert f"defaults.toml:{broken_line}:" in result.stdout, result.stdout + result.stderr
    assert "weigth" in result.stdout
    ok = subprocess.run([sys.executable, "-m", "gateway", "rules", "check"], capture_output=True, text=True,
                        env=env, cwd=REPO, timeout=60)
    assert ok.returncode == 0 and "rules OK" in ok.stdout

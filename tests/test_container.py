"""The container image as deployed: compiled parser, no demo people, closed without its secrets, a
data volume, a kept HEALTHCHECK. Building and running the image needs root and podman, so CI does
that (.ci/run runs ../shared/tools/container-check); these tests hold the Dockerfile, .dockerignore
and .ci/run to those promises on every machine."""

from __future__ import annotations

import json
import re
import shlex
import shutil

import pytest

from gateway.config import load_settings
from gateway.deployment import RefusedStart, check_production
from tests.support.paths import REPO

SECRET_NAMES = ("EWG_CALLBACKS__TOKEN", "EWG_API__TOKEN", "EWG_GATEWAY__PSEUDONYM_SECRET",
                "EWG_DASHBOARD__SESSION_SECRET")


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's (INSTRUCTION, arguments), continuation lines joined, comments dropped."""
    lines = [line for line in (REPO / "Dockerfile").read_text().splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", "", "\n".join(lines))
    return [(words[0].upper(), words[1].strip() if len(words) > 1 else "")
            for words in (line.split(None, 1) for line in joined.splitlines() if line.strip())]


def arguments(keyword: str) -> list[str]:
    return [args for instruction, args in instructions() if instruction == keyword]


def image_environment() -> dict[str, str]:
    env: dict[str, str] = {}
    for args in arguments("ENV") + arguments("ARG"):
        for word in shlex.split(args):
            name, _, value = word.partition("=")
            env[name] = value
    return env


def command() -> str:
    (cmd,) = arguments("CMD")
    return " ".join(json.loads(cmd))


def test_the_image_sets_nothing_that_turns_demo_mode_on(tmp_path):
    assert not any(name.startswith("EWG_") for name in image_environment())
    assert "demo" not in command()
    shutil.copy(REPO / "settings.toml", tmp_path / "settings.toml")  # no pseudonym key file beside it
    settings = load_settings(tmp_path / "settings.toml", environ=image_environment())
    assert settings.gateway.demo is False


def test_the_image_refuses_to_serve_without_each_secret(tmp_path):
    shutil.copy(REPO / "settings.toml", tmp_path / "settings.toml")
    secrets = {name: f"{name.lower()}-test-value-0123456789" for name in SECRET_NAMES}
    check_production(load_settings(tmp_path / "settings.toml", environ={**image_environment(), **secrets}))
    for missing in SECRET_NAMES:
        given = {name: value for name, value in secrets.items() if name != missing}
        with pytest.raises(RefusedStart, match=missing):
            check_production(load_settings(tmp_path / "settings.toml", environ={**image_environment(), **given}))


def test_the_command_migrates_then_serves():
    cmd = command()
    assert re.fullmatch(r"sh -c ewg db upgrade && exec ewg serve", cmd), cmd


def test_the_data_volume_is_declared_once_its_owner_is_set():
    keywords = [instruction for instruction, _ in instructions()]
    assert arguments("VOLUME") == ["/app/var"]
    owner_set = next(index for index, (instruction, args) in enumerate(instructions())
                     if instruction == "RUN" and "chown ewg:ewg /app/var" in args)
    assert owner_set < keywords.index("VOLUME")
    assert arguments("USER") == ["ewg"]


def test_the_build_stops_unless_the_parser_is_compiled():
    (install,) = [args for args in arguments("RUN") if "pip install" in args]
    steps = [step.strip() for step in install.split("&&")]
    check = next(index for index, step in enumerate(steps) if "build_state()" in step)
    assert steps[check].startswith("python -P -c"), "checked as the `ewg` script imports, not from /app"
    assert "kind == 'compiled'" in steps[check] and "not stale" in steps[check]
    assert any("pip install" in step for step in steps[:check])
    assert any("apt-get purge" in step for step in steps[check:]), "the compiler leaves the image"


def test_the_healthcheck_asks_healthz():
    (healthcheck,) = arguments("HEALTHCHECK")
    assert "/healthz" in healthcheck and "EWG_HTTP__PORT" in healthcheck


def test_local_state_stays_out_of_the_build_context():
    patterns = {line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert {".git", ".venv", "var", "build", "**/*.so", "**/*.egg-info", "**/__pycache__",
            "**/*.db"} <= patterns


def test_ci_fails_when_the_image_does_not_build_or_serve():
    script = (REPO / ".ci" / "run").read_text()
    assert "set -euo pipefail" in script
    joined = re.sub(r"\\\n\s*", "", script)
    (line,) = [line for line in joined.splitlines() if "container-check" in line and not line.startswith("#")]
    assert "../shared/tools/container-check . --" in line
    assert "||" not in line and "; true" not in line, "a failed check must fail CI"
    for name in SECRET_NAMES:
        value = re.search(rf"{name}=(\S+)", line)
        assert value and len(value.group(1)) >= 16, name

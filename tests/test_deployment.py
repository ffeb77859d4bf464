"""Closed by default: `ewg serve` refuses to start without its secrets outside demo mode, and demo
mode is explicit, throw-away and never mixed with production (real `ewg` processes)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from gateway.config import load_settings
from gateway.deployment import RefusedStart, check_production
from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import DashboardUser, Reporter
from tests.support.gateway_process import PRODUCTION_SECRETS, REPO_ROOT, GatewayProcess, GatewayStartError
from tests.support.ports import free_port

SETTINGS = REPO_ROOT / "settings.toml"


def run_ewg(tmp_path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("EWG_")}
    clean.update({"EWG_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}", "EWG_HTTP__PORT": "0"}, **env)
    return subprocess.run([sys.executable, "-m", "gateway", *args, "--config", str(SETTINGS)], env=clean,
                          cwd=tmp_path, capture_output=True, text=True, timeout=60)


def assert_one_line_refusal(result: subprocess.CompletedProcess, names: str) -> None:
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("ewg: refusing to start: ") and names in lines[0], lines[0]


@pytest.mark.parametrize("missing", sorted(PRODUCTION_SECRETS))
def test_production_refuses_to_start_without_each_secret(tmp_path, missing):
    env = {name: value for name, value in PRODUCTION_SECRETS.items() if name != missing}
    assert_one_line_refusal(run_ewg(tmp_path, env, "serve"), missing)


@pytest.mark.parametrize("name", ["EWG_CALLBACKS__TOKEN", "EWG_API__TOKEN", "EWG_DASHBOARD__SESSION_SECRET"])
def test_production_refuses_a_secret_shorter_than_16_characters(tmp_path, name):
    result = run_ewg(tmp_path, {**PRODUCTION_SECRETS, name: "x" * 15}, "serve")
    assert_one_line_refusal(result, name)


def test_shipped_settings_are_production_without_secrets() -> None:
    settings = load_settings(SETTINGS, environ={})
    assert settings.gateway.demo is False
    with pytest.raises(RefusedStart, match="EWG_CALLBACKS__TOKEN is not set"):
        check_production(settings)


def test_secrets_new_prints_what_production_needs(tmp_path):
    result = run_ewg(tmp_path, {}, "secrets", "new")
    assert result.returncode == 0, result.stderr
    env = dict(line.split("=", 1) for line in result.stdout.split())
    assert sorted(env) == sorted(PRODUCTION_SECRETS)
    check_production(load_settings(SETTINGS, environ=env))  # raises if anything is missing or short
    assert run_ewg(tmp_path, {}, "secrets", "new").stdout != result.stdout


@pytest.mark.parametrize("how", [("serve", "--demo"), ("serve",)])
def test_demo_mode_refuses_real_provider_credentials(tmp_path, how):
    env = {"EWG_AFRICASTALKING__USERNAME": "observatory", "EWG_AFRICASTALKING__API_KEY": "atsk_live_key"}
    if how == ("serve",):
        env["EWG_GATEWAY__DEMO"] = "true"
    assert_one_line_refusal(run_ewg(tmp_path, env, *how), "EWG_AFRICASTALKING__USERNAME/API_KEY")


async def count_reporters(url: str) -> int:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return (await session.execute(select(func.count()).select_from(Reporter))).scalar_one()
    finally:
        await engine.dispose()


async def dashboard_roles(url: str) -> dict[str, str]:
    engine = create_engine(url)
    try:
        async with session_factory(engine)() as session:
            return dict((await session.execute(select(DashboardUser.name, DashboardUser.role))).all())
    finally:
        await engine.dispose()


async def post_sms(gateway: GatewayProcess, params: dict) -> int:
    form = inbound_sms_form("+22790000101", "ATTAQUE GABI 3", received_at=datetime.now(UTC))
    async with aiohttp.ClientSession() as http, http.post(
            f"{gateway.url}/callbacks/at/sms", params=params, data=form) as answer:
        return answer.status


async def test_demo_mode_makes_throw_away_secrets_and_loads_the_demo_people(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}"
    settings_file = tmp_path / "settings.toml"  # demo secrets are written beside the settings file
    settings_file.write_text(SETTINGS.read_text())
    no_secrets = {name: "" for name in PRODUCTION_SECRETS}
    gateway = GatewayProcess({"EWG_DATABASE__URL": url, "EWG_GATEWAY__DEMO": "true", **no_secrets},
                             free_port(), tmp_path, settings=settings_file, people=False)
    await gateway.start()
    try:
        secrets_file = tmp_path / "var" / "demo-secrets.json"
        assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600
        demo = json.loads(secrets_file.read_text())
        assert len(demo["callbacks_token"]) >= 16 and len(demo["api_token"]) >= 16
        assert await count_reporters(url) > 0
        assert await dashboard_roles(url) == {demo["dashboard_user"]: "admin"}
        assert await post_sms(gateway, {}) == 403
        assert await post_sms(gateway, {"token": demo["callbacks_token"]}) == 200
        login = (f"demo dashboard: http://localhost:{gateway.port}/dashboard/login "
                 f"user {demo['dashboard_user']} password {demo['dashboard_password']}")
        assert login in gateway.logs()
        async with aiohttp.ClientSession() as client, client.post(
                f"{gateway.url}/dashboard/login", allow_redirects=False,
                data={"user": demo["dashboard_user"], "password": demo["dashboard_password"]}) as answer:
            assert answer.status == 303, await answer.text()
    finally:
        await gateway.terminate()
    served = [line for line in gateway.logs().splitlines() if "database schema is current" not in line]
    assert "DEMO MODE" in served[0], served[:3]
    assert demo["callbacks_token"] not in gateway.logs()


async def test_production_with_secrets_serves_no_demo_person_and_refuses_tokenless_callbacks(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}"
    gateway = GatewayProcess({"EWG_DATABASE__URL": url}, free_port(), tmp_path, people=False)
    await gateway.start()
    try:
        assert await post_sms(gateway, {}) == 403
        assert await post_sms(gateway, {"token": "a-wrong-token-of-good-length"}) == 403
        assert await post_sms(gateway, {"token": PRODUCTION_SECRETS["EWG_CALLBACKS__TOKEN"]}) == 200
        assert await count_reporters(url) <= 1  # at most the unregistered sender just stored
    finally:
        await gateway.terminate()
    assert "DEMO" not in gateway.logs()
    assert "demo people" not in gateway.logs()


async def test_production_refuses_a_database_filled_by_demo_mode(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}"
    demo = GatewayProcess({"EWG_DATABASE__URL": url, "EWG_GATEWAY__DEMO": "true"}, free_port(), tmp_path,
                          people=False)
    await demo.start()
    await demo.terminate()
    production = GatewayProcess({"EWG_DATABASE__URL": url}, free_port(), tmp_path, people=False, migrate=False)
    with pytest.raises(GatewayStartError, match="refusing to start: this database was filled by demo mode"):
        await production.start(timeout=20)

"""The gateway-process harness, driven by a stand-in CLI until the real one answers the same contract."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import aiohttp
import pytest

from tests.support.fake_provider import FakeProviderServer
from tests.support.gateway_process import PRODUCTION_SECRETS, REPO_ROOT, GatewayProcess, GatewayStartError
from tests.support.ports import free_port

# Honours the contract the harness relies on: `db upgrade --config F`, `serve --config F`,
# EWG_HTTP__PORT, GET /healthz. FAIL_AT makes one step fail; it records the env it saw.
STAND_IN_CLI = textwrap.dedent("""
    import json, os, sys
    from aiohttp import web
    command = sys.argv[1:-2]
    assert sys.argv[-2] == "--config", sys.argv
    if os.environ.get("FAIL_AT") == " ".join(command):
        sys.exit("cannot " + " ".join(command) + ": schema is broken")
    if command == ["db", "upgrade"]:
        open("upgraded.json", "w").write(json.dumps({"config": sys.argv[-1], "url": os.environ["EWG_DATABASE__URL"]}))
        print("upgraded")
    elif command == ["serve"]:
        app = web.Application()
        app.router.add_get("/healthz", lambda request: web.json_response({"ok": True}))
        print("serving", flush=True)
        web.run_app(app, host=os.environ["EWG_HTTP__HOST"], port=int(os.environ["EWG_HTTP__PORT"]), print=None)
""")


@pytest.fixture
def stand_in(tmp_path: Path):
    script = tmp_path / "stand_in_cli.py"
    script.write_text(STAND_IN_CLI)

    def make(**env: str) -> GatewayProcess:
        return GatewayProcess({"EWG_DATABASE__URL": "sqlite+aiosqlite:///test.db", **env}, free_port(),
                              tmp_path / "work", launcher=(sys.executable, str(script)), people=False)
    return make


async def healthz(gateway: GatewayProcess) -> int:
    async with aiohttp.ClientSession() as client, client.get(f"{gateway.url}/healthz") as answer:
        return answer.status


async def test_start_migrates_then_serves_until_killed_and_restarts(stand_in):
    gateway = stand_in()
    await gateway.start()
    try:
        upgraded = json.loads((gateway.workdir / "upgraded.json").read_text())
        assert upgraded == {"config": str(REPO_ROOT / "settings.toml"), "url": "sqlite+aiosqlite:///test.db"}
        assert await healthz(gateway) == 200

        first_pid = gateway.pid
        gateway.kill9()
        assert not gateway.is_running()
        with pytest.raises(aiohttp.ClientConnectionError):
            await healthz(gateway)

        await gateway.start()
        assert gateway.pid != first_pid
        assert await healthz(gateway) == 200
    finally:
        exit_code = await gateway.terminate()
    assert exit_code == 0
    assert gateway.logs().splitlines() == ["upgraded", "serving", "upgraded", "serving"]


@pytest.mark.parametrize("step", ["db upgrade", "serve"])
async def test_a_failing_step_raises_with_the_output_tail(stand_in, step):
    gateway = stand_in(FAIL_AT=step)
    with pytest.raises(GatewayStartError, match=f"cannot {step}: schema is broken"):
        await gateway.start(timeout=10)
    assert not gateway.is_running()


def test_parent_ewg_settings_do_not_leak_into_the_child(monkeypatch, tmp_path):
    monkeypatch.setenv("EWG_API__TOKEN", "from-the-parent")
    gateway = GatewayProcess({"EWG_CALLBACKS__TOKEN": "t"}, 8123, tmp_path)
    ewg = {k: v for k, v in gateway.env.items() if k.startswith("EWG_")}
    assert ewg == {**PRODUCTION_SECRETS, "EWG_HTTP__HOST": "127.0.0.1", "EWG_HTTP__PORT": "8123",
                   "EWG_CALLBACKS__TOKEN": "t"}


@pytest.mark.skipif(not (REPO_ROOT / "gateway" / "__main__.py").exists(), reason="gateway/__main__.py not written yet")
async def test_the_real_gateway_starts_and_answers_healthz(tmp_path):
    async with FakeProviderServer() as fake:
        gateway = GatewayProcess({"EWG_DATABASE__URL": f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}",
                                  "EWG_AFRICASTALKING__BASE_URL": fake.base_url, **fake.credentials_env()},
                                 free_port(), tmp_path)
        await gateway.start(timeout=60)
        try:
            assert await healthz(gateway) == 200
        finally:
            assert await gateway.terminate() == 0

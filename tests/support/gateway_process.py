"""The real gateway as a child process, for crash, restart and end-to-end tests.

    gateway = GatewayProcess({"EWG_DATABASE__URL": url, **fake.credentials_env(),
                              "EWG_AFRICASTALKING__BASE_URL": fake.base_url}, port, tmp_path)
    await gateway.start()           # `db upgrade` (and the demo people, imported through the CLI,
                                    # the first time), then `serve`; returns once GET /healthz is 200
    ...
    gateway.kill9()                 # a crash
    await gateway.start()           # and a restart on the same database
    await gateway.terminate()       # SIGTERM, waits for a clean exit

It runs `python -m gateway db upgrade --config SETTINGS` then `python -m gateway serve --config
SETTINGS` with the given EWG_* overrides (the parent's own EWG_* variables are not passed on), in
production mode with the test secrets of PRODUCTION_SECRETS unless the overrides replace them.
Output of every run is appended to `workdir/gateway.log`, returned by `logs()`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import aiohttp

from gateway.demo.gazetteer import DEMO_DIR, DEMO_FILES
from gateway.demo.install import DEMO_PEOPLE as DEMO_PEOPLE_DIR

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_SETTINGS = REPO_ROOT / "settings.toml"
DEFAULT_LAUNCHER = (sys.executable, "-m", "gateway")
PRODUCTION_SECRETS = {
    "EWG_CALLBACKS__TOKEN": "test-callbacks-token-0123456789",
    "EWG_API__TOKEN": "test-api-token-0123456789",
    "EWG_GATEWAY__PSEUDONYM_SECRET": "test-pseudonym-secret-0123456789",
    "EWG_DASHBOARD__SESSION_SECRET": "test-session-secret-0123456789",
}
DEMO_PEOPLE = DEMO_PEOPLE_DIR
DEMO_GAZETTEER = [DEMO_DIR / name for name in DEMO_FILES]


class GatewayStartError(RuntimeError):
    """The gateway exited or never became healthy; the message carries the tail of its output."""


class GatewayProcess:
    def __init__(
        self,
        env: Mapping[str, str],
        port: int,
        workdir: Path,
        *,
        settings: Path = DEFAULT_SETTINGS,
        launcher: Sequence[str] = DEFAULT_LAUNCHER,
        migrate: bool = True,
        people: bool = True,
    ) -> None:
        self.port = port
        self.workdir = Path(workdir)
        self.settings = Path(settings)
        self.launcher = tuple(launcher)
        self.migrate = migrate
        self.people = people  # import the demo gazetteer and people (as an operator would) on first start
        self.log_path = self.workdir / "gateway.log"
        self.env = self._child_env(env)
        self._process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _child_env(self, overrides: Mapping[str, str]) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("EWG_")}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
        env["PYTHONUNBUFFERED"] = "1"
        env["EWG_HTTP__HOST"] = "127.0.0.1"
        env["EWG_HTTP__PORT"] = str(self.port)
        env.update(PRODUCTION_SECRETS)
        env.update(overrides)
        return env

    def _command(self, *args: str) -> list[str]:
        return [*self.launcher, *args, "--config", str(self.settings)]

    async def run_command(self, *args: str, timeout: float = 120) -> int:
        """Run one CLI command (e.g. `db`, `upgrade`) with this gateway's environment; output goes to the log."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            process = await asyncio.create_subprocess_exec(
                *self._command(*args), cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
            try:
                return await asyncio.wait_for(process.wait(), timeout)
            except TimeoutError:
                process.kill()
                await process.wait()
                raise

    async def start(self, timeout: float = 30) -> None:
        """Migrate (unless told not to), start `serve` and wait until GET /healthz answers 200."""
        if self.is_running():
            raise RuntimeError("gateway already running")
        if self.migrate:
            code = await self.run_command("db", "upgrade", timeout=timeout)
            if code != 0:
                raise GatewayStartError(f"`db upgrade` exited with {code}:\n{self.logs_tail()}")
        if self.people:
            await self.import_demo_people(timeout)
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._command("serve"), cwd=self.workdir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
            )
        await self._wait_healthy(timeout)

    async def import_demo_people(self, timeout: float) -> None:
        """The demo gazetteer, focal points and committees, through the operator's own commands; once."""
        self.people = False
        for command in (("gazetteer", "import", *map(str, DEMO_GAZETTEER)),
                        ("reporters", "import", str(DEMO_PEOPLE / "reporters.csv")),
                        ("committees", "import", str(DEMO_PEOPLE / "committees.csv"))):
            code = await self.run_command(*command, timeout=timeout)
            if code != 0:
                raise GatewayStartError(f"`{' '.join(command[:2])}` exited with {code}:\n{self.logs_tail()}")

    async def _wait_healthy(self, timeout: float) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last = "no answer"
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
            while True:
                if not self.is_running():
                    raise GatewayStartError(
                        f"gateway exited with {self._process.returncode} before it was healthy:\n{self.logs_tail()}"
                    )
                try:
                    async with client.get(f"{self.url}/healthz") as answer:
                        if answer.status == 200:
                            return
                        last = f"HTTP {answer.status}: {(await answer.text())[:500]}"
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if loop.time() > deadline:
                    self.kill9()
                    raise GatewayStartError(f"gateway not healthy after {timeout}s ({last}):\n{self.logs_tail()}")
                await asyncio.sleep(0.05)

    def kill9(self) -> None:
        """SIGKILL: a crash with no chance to flush or clean up."""
        if self.is_running():
            self._process.send_signal(signal.SIGKILL)
        if self._process is not None:
            self._process.wait()

    async def terminate(self, timeout: float = 15) -> int:
        """SIGTERM and wait for the exit code (the event loop keeps running, so an in-process fake
        provider can still answer a last flush); SIGKILL if it does not exit in time."""
        if self._process is None:
            raise RuntimeError("gateway was never started")
        if self.is_running():
            self._process.send_signal(signal.SIGTERM)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._process.poll() is None:
            if loop.time() > deadline:
                self.kill9()
                raise GatewayStartError(f"gateway ignored SIGTERM for {timeout}s:\n{self.logs_tail()}")
            await asyncio.sleep(0.05)
        return self._process.returncode

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def logs_tail(self, lines: int = 40) -> str:
        return "\n".join(self.logs().splitlines()[-lines:])

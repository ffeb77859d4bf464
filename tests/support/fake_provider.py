"""The fake Africa's Talking server for tests: in-process (`FakeProviderServer`) or as a child
process (`FakeProviderProcess`), both steered through the same HTTP control endpoints.

    async with FakeProviderServer() as fake:
        env = {"EWG_AFRICASTALKING__BASE_URL": fake.base_url, **fake.credentials_env()}
        ...
        assert [m["to"] for m in await fake.messages()] == ["+22790123456"]

Use the in-process server while the test awaits (the event loop serves it); use the process when
the test blocks, or to keep the fake alive across event loops.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import IO

import aiohttp
from aiohttp import web

from gateway.providers.africastalking_fake import FAKE_API_KEY, FAKE_USERNAME, create_app

from .ports import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


class _FakeControl:
    """The `/_fake/*` control calls, shared by both ways of running the fake."""

    root_url: str

    @property
    def base_url(self) -> str:
        """What EWG_AFRICASTALKING__BASE_URL should be set to."""
        return f"{self.root_url}/version1"

    @staticmethod
    def credentials_env() -> dict[str, str]:
        return {"EWG_AFRICASTALKING__USERNAME": FAKE_USERNAME, "EWG_AFRICASTALKING__API_KEY": FAKE_API_KEY}

    async def _call(self, method: str, path: str, payload: dict | None = None) -> object:
        async with aiohttp.ClientSession() as client:
            async with client.request(method, f"{self.root_url}{path}", json=payload) as answer:
                if answer.status >= 400:
                    raise AssertionError(f"fake provider {path}: HTTP {answer.status}: {await answer.text()}")
                return await answer.json()

    async def messages(self) -> list[dict]:
        """Accepted SMS, oldest first: {to, message, from, messageId, at}."""
        return await self._call("GET", "/_fake/messages")

    async def stats(self) -> dict:
        return await self._call("GET", "/_fake/stats")

    async def reset(self) -> None:
        await self._call("POST", "/_fake/reset")

    async def set_mode(self, mode: str, *, delay_ms: int = 0, reject_status: int = 405,
                       number_statuses: dict[str, int | str] | None = None) -> None:
        await self._call("POST", "/_fake/mode", {"mode": mode, "delay_ms": delay_ms,
                                                  "reject_status": reject_status,
                                                  "number_statuses": number_statuses or {}})

    async def deliver(self, message_id: str, status: str, callback_url: str, *,
                      failure_reason: str = "", retry_count: int = 0) -> dict:
        """Post a delivery report for an accepted SMS; returns {status, body, form} of the callback."""
        return await self._call("POST", "/_fake/deliver", {
            "messageId": message_id, "status": status, "callback_url": callback_url,
            "failureReason": failure_reason, "retryCount": retry_count,
        })

    async def send_inbound(self, callback_url: str, sender: str, text: str, **extra: str) -> dict:
        """Have the fake post an inbound SMS to the gateway; returns {status, body, form}."""
        return await self._call("POST", "/_fake/inbound",
                                {"callback_url": callback_url, "from": sender, "text": text, **extra})


class FakeProviderServer(_FakeControl):
    """The fake served by the test's own event loop on a free loopback port."""

    def __init__(self, **app_options) -> None:
        self._app = create_app(**app_options)
        self._runner = web.AppRunner(self._app)
        self.port = 0
        self.root_url = ""

    async def __aenter__(self) -> FakeProviderServer:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]
        self.root_url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc_info) -> None:
        await self._runner.cleanup()


class FakeProviderProcess(_FakeControl):
    """The fake as `python -m gateway.providers.africastalking_fake` in a child process."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.root_url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen | None = None
        self._stderr = tempfile.TemporaryFile()

    async def __aenter__(self) -> FakeProviderProcess:
        self._process = subprocess.Popen(
            [sys.executable, "-m", "gateway.providers.africastalking_fake", "--port", str(self.port)],
            cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=self._stderr,
        )
        await _wait_until_answering(f"{self.root_url}/_fake/stats", self._process, self._stderr, timeout=15)
        return self

    async def __aexit__(self, *exc_info) -> None:
        assert self._process is not None
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        self._stderr.close()


async def _wait_until_answering(url: str, process: subprocess.Popen, stderr: IO[bytes], timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as client:
        while True:
            if process.poll() is not None:
                stderr.seek(0)
                tail = stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"fake provider exited with {process.returncode}: {tail}")
            try:
                async with client.get(url) as answer:
                    if answer.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if asyncio.get_running_loop().time() > deadline:
                process.kill()
                raise RuntimeError(f"fake provider did not answer {url} within {timeout}s")
            await asyncio.sleep(0.05)

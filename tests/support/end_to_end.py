"""End-to-end fixtures (a pytest plugin, registered in tests/conftest.py): the fake Africa's Talking
as a process and a real `ewg serve` on the test database, with a callback poster and a poller."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TypeVar

import aiohttp
import pytest

from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import GatewayProcess
from tests.support.ports import free_port

CALLBACKS_TOKEN = "s3cret-callbacks-token"
T = TypeVar("T")


async def wait_for(predicate: Callable[[], Awaitable[T]], timeout: float = 30.0, interval: float = 0.2) -> T:
    """The predicate's first true value, or its last value once `timeout` seconds have passed."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(interval)


@pytest.fixture
async def fake_provider() -> AsyncIterator[FakeProviderProcess]:
    async with FakeProviderProcess() as fake:
        yield fake


@pytest.fixture
async def served_gateway(tmp_path: Path, db_url: str,
                         fake_provider: FakeProviderProcess) -> AsyncIterator[GatewayProcess]:
    env = {
        "EWG_DATABASE__URL": db_url,
        "EWG_AFRICASTALKING__BASE_URL": fake_provider.base_url,
        "EWG_CALLBACKS__TOKEN": CALLBACKS_TOKEN,
        "EWG_API__TOKEN": "api-token-0123456789",
        "EWG_OUTBOX__POLL_SECONDS": "0.2",
        **fake_provider.credentials_env(),
    }
    process = GatewayProcess(env, free_port(), tmp_path)
    await process.start()
    yield process
    await process.terminate()


async def post_sms(gateway: GatewayProcess, form: dict) -> tuple[int, str]:
    async with aiohttp.ClientSession() as http, http.post(
        f"{gateway.url}/callbacks/at/sms", params={"token": CALLBACKS_TOKEN}, data=form
    ) as response:
        return response.status, await response.text()

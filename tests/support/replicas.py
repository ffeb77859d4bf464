"""Gateway processes on a throw-away PostgreSQL cluster (a pytest plugin, registered in
tests/conftest.py): the cluster, started once per test module; a fresh migrated database per test;
a replica's environment; and waiting for what the fake provider accepted."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator

import aiohttp
import pytest

from gateway.storage.migrate import upgrade
from tests.support.components import missing
from tests.support.end_to_end import CALLBACKS_TOKEN
from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import GatewayProcess
from tests.support.postgres import PgCluster, PostgresUnavailable, create_database, start_cluster


@pytest.fixture(scope="module")
def pg_cluster() -> Iterator[PgCluster]:
    try:
        cluster = start_cluster()
    except PostgresUnavailable as exc:
        missing(str(exc))
    with cluster:
        yield cluster


@pytest.fixture
def pg_url(pg_cluster: PgCluster) -> str:
    """A fresh, migrated database on the module's cluster."""
    url = create_database(pg_cluster, "ewg_" + uuid.uuid4().hex[:10])
    upgrade(url)
    return url


def replica_env(url: str, fake: FakeProviderProcess, **extra: str) -> dict[str, str]:
    return {"EWG_DATABASE__URL": url, "EWG_AFRICASTALKING__BASE_URL": fake.base_url,
            "EWG_CALLBACKS__TOKEN": CALLBACKS_TOKEN, "EWG_OUTBOX__POLL_SECONDS": "0.1",
            "EWG_OUTBOX__BACKOFF_BASE_SECONDS": "0.2", "EWG_OUTBOX__BACKOFF_MAX_SECONDS": "0.5",
            "EWG_AFRICASTALKING__TIMEOUT_SECONDS": "2",
            **fake.credentials_env(), **extra}


async def post_sms(http: aiohttp.ClientSession, replica: GatewayProcess, form: dict) -> tuple[int, str]:
    url = f"{replica.url}/callbacks/at/sms"
    async with http.post(url, params={"token": CALLBACKS_TOKEN}, data=form) as response:
        return response.status, await response.text()


async def confirmations(fake: FakeProviderProcess, expected: set[str], timeout: float = 30) -> Counter:
    """SMS accepted by the fake, per recipient, once every expected number has one (or on timeout)."""
    await all_confirmed(fake, expected, timeout)
    await asyncio.sleep(1.0)  # a late duplicate would show up now
    return Counter(m["to"] for m in await fake.messages())


async def all_confirmed(fake: FakeProviderProcess, expected: set[str], timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not expected <= {m["to"] for m in await fake.messages()}:
        if asyncio.get_running_loop().time() > deadline:
            return
        await asyncio.sleep(0.1)

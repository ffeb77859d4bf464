"""Database outage (PostgreSQL): while the server is down, callbacks answer 503 (the provider
retries) and /healthz answers 503 saying why; once it is back, the same gateway process stores
and confirms again, with no restart."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import asyncpg
import pytest

from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import GatewayProcess
from tests.support.ports import free_port
from tests.support.replicas import all_confirmed, confirmations, post_sms, replica_env

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def durable_commits(url: str) -> None:
    """The throw-away cluster runs with synchronous_commit=off (fast tests), which may lose the last
    commits when the server is killed; a production server keeps the default (on)."""
    database = url.rsplit("/", 1)[1]
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    try:
        await connection.execute(f'ALTER DATABASE "{database}" SET synchronous_commit = on')
    finally:
        await connection.close()


async def healthz(http: aiohttp.ClientSession, gateway: GatewayProcess) -> tuple[int, dict]:
    async with http.get(f"{gateway.url}/healthz") as response:
        return response.status, await response.json()


@pytest.mark.parametrize("outage", ["stop", "kill"])
async def test_callbacks_answer_503_while_postgres_is_down_and_resume_after(pg_cluster, pg_url, tmp_path,
                                                                            outage) -> None:
    forms = {name: inbound_sms_form(number, "ATTAQUE GABI 3", received_at=datetime.now(UTC))
             for name, number in [("before", "+22792000001"), ("during", "+22792000002"), ("after", "+22792000003")]}
    await durable_commits(pg_url)
    async with FakeProviderProcess() as fake:
        gateway = GatewayProcess(replica_env(pg_url, fake), free_port(), tmp_path)
        await gateway.start(timeout=60)
        pid = gateway.pid
        try:
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http:
                assert await post_sms(http, gateway, forms["before"]) == (200, "stored: report")

                pg_cluster.stop() if outage == "stop" else pg_cluster.kill()
                assert await post_sms(http, gateway, forms["during"]) == (503, "storage unavailable, retry later")
                status, detail = await healthz(http, gateway)
                assert status == 503 and detail["status"] == "error", detail
                assert detail["database"].startswith("unreachable: "), detail

                pg_cluster.restart()
                back = time.monotonic()
                while (answer := await post_sms(http, gateway, forms["during"]))[0] == 503:  # the provider retries
                    assert time.monotonic() - back < 30, "the gateway did not recover"
                    await asyncio.sleep(0.2)
                recovered = time.monotonic() - back
                assert answer == (200, "stored: report")
                assert (await healthz(http, gateway))[0] == 200
                assert await post_sms(http, gateway, forms["after"]) == (200, "stored: report")
                await all_confirmed(fake, {f["from"] for f in forms.values()})
                confirmed = time.monotonic() - back
                sent = await confirmations(fake, {f["from"] for f in forms.values()})
        finally:
            running = gateway.is_running()
            await gateway.terminate()
    assert running and gateway.pid == pid, "the gateway had to be restarted"
    assert sent == Counter({f["from"]: 1 for f in forms.values()})
    print(f"\ndatabase outage ({outage}): first callback stored {recovered:.2f}s after PostgreSQL was back, "
          f"all three reporters confirmed after {confirmed:.2f}s")

"""Several replicas on one PostgreSQL: the same callback sent to two `ewg serve` processes at the
same moment is stored once and confirmed once; the outbox is claimed with FOR UPDATE SKIP LOCKED
so no SMS goes out twice; a timed job runs in one replica at a time (advisory lock)."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from gateway.alerting.jobs import job_lock as _job_lock
from gateway.config import OutboxSettings
from gateway.kernel.envelopes import SendOutcome, SendResult
from gateway.metrics import Metrics
from gateway.outbox.sender import OutboxSender
from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.storage.db import create_engine, session_factory
from gateway.storage.outbox import PRIORITY_REPLY, OutboundSms, enqueue
from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import PRODUCTION_SECRETS, GatewayProcess
from tests.support.ports import free_port
from tests.support.replicas import confirmations, post_sms, replica_env

pytestmark = pytest.mark.postgres


async def start_replicas(url: str, fake: FakeProviderProcess, tmp_path, **extra: str) -> list[GatewayProcess]:
    replicas = [GatewayProcess(replica_env(url, fake, **extra), free_port(), tmp_path / f"replica{n}")
                for n in (1, 2)]
    for replica in replicas:  # one after the other: the second `db upgrade` finds nothing to do
        await replica.start(timeout=60)
    return replicas


async def sent_by(replica: GatewayProcess, http: aiohttp.ClientSession) -> float:
    headers = {"Authorization": f"Bearer {PRODUCTION_SECRETS['EWG_API__TOKEN']}"}
    async with http.get(f"{replica.url}/metrics", headers=headers) as response:
        text = await response.text()
    return sum(float(v) for v in re.findall(r'^ewg_sms_sent_total\{kind="reply",mode="provider"\} (\S+)$', text, re.M))


@pytest.mark.slow
async def test_the_same_callback_sent_to_two_replicas_at_once_is_stored_and_confirmed_once(pg_url, tmp_path) -> None:
    async with FakeProviderProcess() as fake:
        replicas = await start_replicas(pg_url, fake, tmp_path)
        try:
            forms = [inbound_sms_form(f"+2279200{n:04d}", "ATTAQUE GABI 3", received_at=datetime.now(UTC))
                     for n in range(40)]
            async with aiohttp.ClientSession() as http:
                answers = [await asyncio.gather(*(post_sms(http, r, form) for r in replicas)) for form in forms]
                sent = await confirmations(fake, {f["from"] for f in forms})
        finally:
            for replica in replicas:
                await replica.terminate()
    for pair in answers:
        assert sorted(pair) == [(200, "duplicate: already stored"), (200, "stored: report")], pair
    assert sent == Counter({f["from"]: 1 for f in forms})


@pytest.mark.slow
async def test_two_senders_on_one_outbox_send_each_sms_once(pg_url, tmp_path) -> None:
    async with FakeProviderProcess() as fake:
        replicas = await start_replicas(pg_url, fake, tmp_path, EWG_OUTBOX__BATCH_SIZE="10")
        try:
            await fake.set_mode("error500")  # replies pile up in the outbox of both replicas
            forms = [inbound_sms_form(f"+2279300{n:04d}", "bonjour", received_at=datetime.now(UTC))
                     for n in range(300)]
            async with aiohttp.ClientSession() as http:
                for n, form in enumerate(forms):
                    assert (await post_sms(http, replicas[n % 2], form))[0] == 200
                await fake.set_mode("ok")
                sent = await confirmations(fake, {f["from"] for f in forms})
                per_replica = [await sent_by(r, http) for r in replicas]
        finally:
            for replica in replicas:
                await replica.terminate()
    assert sent == Counter({f["from"]: 1 for f in forms}), "an SMS was sent twice, or never"
    print(f"\nreplicas: SMS sent by each replica {per_replica}")
    assert sum(per_replica) == len(forms) and min(per_replica) > 0, per_replica


class SlowProvider:
    """Accepts everything after a short wait, so two senders' passes overlap."""

    mode = "provider"

    def __init__(self) -> None:
        self.delivered: list[str] = []

    async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
        await asyncio.sleep(0.01)
        self.delivered.extend(recipients)
        return [SendResult(r, SendOutcome.SENT, provider_message_id=f"ATX-{r}") for r in recipients]


async def test_concurrent_claims_never_take_the_same_row(pg_url) -> None:
    """Two senders (two engines: two replicas) drain one outbox at the same time."""
    now = datetime.now(UTC)
    settings = OutboxSettings(batch_size=25)
    engines = [create_engine(pg_url), create_engine(pg_url)]
    try:
        sessions = [session_factory(engine) for engine in engines]
        async with sessions[0]() as session, session.begin():
            await enqueue(session, [OutboundSms(f"reply:{n}", "reply", f"+2279400{n:04d}", f"Recu {n}",
                                                PRIORITY_REPLY, expires_at=now + timedelta(hours=1))
                                    for n in range(1000)], now)
        provider = SlowProvider()
        senders = [OutboxSender(s, provider, settings, Metrics(), lambda: datetime.now(UTC), "postgresql")
                   for s in sessions]

        async def drain(sender: OutboxSender) -> int:
            total = 0
            while handled := await sender.send_due():
                total += handled
            return total

        handled = await asyncio.gather(*(drain(s) for s in senders))
    finally:
        for engine in engines:
            await engine.dispose()
    duplicates = {r: n for r, n in Counter(provider.delivered).items() if n > 1}
    assert duplicates == {}, f"{len(duplicates)} SMS sent twice"
    assert len(provider.delivered) == 1000 and sum(handled) == 1000 and min(handled) > 0, handled


async def test_a_timed_job_runs_in_one_replica_at_a_time(pg_url) -> None:
    engines = [create_engine(pg_url), create_engine(pg_url)]
    try:
        first, second = (session_factory(engine)() for engine in engines)
        async with first, second:
            async with first.begin():
                assert await _job_lock(first, "escalations") is True
                async with second.begin():
                    assert await _job_lock(second, "escalations") is False, "two replicas ran the same job"
                    assert await _job_lock(second, "repeats") is True  # other jobs are not held up
            async with second.begin():  # released at the first replica's commit
                assert await _job_lock(second, "escalations") is True
    finally:
        for engine in engines:
            await engine.dispose()

"""Provider outage end to end: the fake Africa's Talking answers 500, then hangs (timeouts), for a
while; replies and alerts wait in the outbox, are retried with back-off, and are all delivered
once after recovery. (Expiry and priority are proven with an injected clock in
test_reliability_outbox.py.)"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import pytest
from sqlalchemy import func, select

from gateway.providers.africastalking_forms import inbound_sms_form
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import Outbox
from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import GatewayProcess
from tests.support.ports import free_port
from tests.support.replicas import all_confirmed, confirmations, post_sms, replica_env

FOCAL_POINT = "+22790000101"  # demo: approved, Gabi
GABI_COMMITTEE = {"+22796000201", "+22796000202"}


async def wait_for_requests(fake: FakeProviderProcess, more_than: int, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while (requests := (await fake.stats())["requests"]) <= more_than:
        assert time.monotonic() < deadline, "the gateway stopped retrying"
        await asyncio.sleep(0.1)
    return requests


@pytest.mark.slow
async def test_replies_and_alerts_survive_500s_and_timeouts_and_go_out_once(db_url, tmp_path) -> None:
    async with FakeProviderProcess() as fake:
        gateway = GatewayProcess(replica_env(db_url, fake, EWG_AFRICASTALKING__TIMEOUT_SECONDS="1"),
                                 free_port(), tmp_path)
        await gateway.start(timeout=60)
        try:
            await fake.set_mode("error500")
            forms = [inbound_sms_form(FOCAL_POINT, "ATTAQUE GABI 3", received_at=datetime.now(UTC))]
            forms += [inbound_sms_form(f"+2279500{n:04d}", "bonjour", received_at=datetime.now(UTC))
                      for n in range(20)]
            async with aiohttp.ClientSession() as http:
                for form in forms:
                    assert (await post_sms(http, gateway, form))[0] == 200
            # Several failed rounds (replies and the alert both retried), then the provider hangs.
            await wait_for_requests(fake, 30)
            await fake.set_mode("timeout")
            hung_from = (await fake.stats())["requests"]
            await wait_for_requests(fake, hung_from + 4)
            assert (await fake.stats())["accepted"] == 0
            await fake.set_mode("ok")
            recovered_at = time.monotonic()
            expected = {f["from"] for f in forms} | GABI_COMMITTEE
            await all_confirmed(fake, expected)
            recovery = time.monotonic() - recovered_at
            sent = await confirmations(fake, expected)
            failed_requests = (await fake.stats())["requests"]
        finally:
            await gateway.terminate()

    assert sent == Counter({number: 1 for number in expected}), "an SMS was lost or sent twice"
    engine = create_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            rows = (await session.execute(select(Outbox.kind, Outbox.status, func.min(Outbox.attempts),
                                                 func.count()).group_by(Outbox.kind, Outbox.status))).all()
    finally:
        await engine.dispose()
    by_kind = {(kind, status): (attempts, count) for kind, status, attempts, count in rows}
    assert set(by_kind) == {("reply", "sent"), ("alert", "sent")}, by_kind
    assert by_kind[("alert", "sent")][1] == 2 and by_kind[("reply", "sent")][1] == 21
    assert min(attempts for attempts, _ in by_kind.values()) >= 3, "not retried through the outage"
    print(f"\nprovider outage: {failed_requests} provider requests in all; everything delivered "
          f"{recovery:.2f}s after the provider recovered")

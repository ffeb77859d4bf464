"""A callback answered 200 is never lost: kill -9 a real `ewg serve` (SQLite file) while 32
clients send callbacks, restart it, re-send what was not answered plus some that were (as the
provider does), and check every message is stored exactly once and every reporter confirmed.
The confirmations queued before the crash (those the dead process left `sending` among them) go
out within CONFIRMED_WITHIN of the restart, while the re-sent callbacks pour in.
Confirmations sent twice (an SMS handed to the provider just before the crash, its result not yet
recorded) must stay under 1%; the test prints the measured figures (`pytest -s`)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter
from datetime import UTC, datetime

import aiohttp
import pytest

from gateway.providers.africastalking_forms import inbound_sms_form
from tests.support.fake_provider import FakeProviderProcess
from tests.support.gateway_process import GatewayProcess
from tests.support.ports import free_port

MESSAGES = 2000
CLIENTS = 32
KILL_AFTER = 0.4  # share of callbacks answered when the gateway is killed
RESEND_ANSWERED = 0.1  # share of answered callbacks the provider sends again anyway
CONFIRMED_WITHIN = 20.0  # seconds from the restart to the last confirmation queued before the crash
TOKEN = "s3cret-callbacks-token"


def reporter(n: int) -> str:
    return f"+2279{1000000 + n:07d}"  # distinct Nigerien mobile numbers, one per message


async def send_all(url: str, forms: list[dict], answers: dict[str, int | None],
                   stop: asyncio.Event | None = None) -> dict[str, int | None]:
    """POST every form with CLIENTS concurrent clients, writing id -> HTTP status (None: no
    answer) into `answers` as each answer arrives; after `stop`, the rest go unsent."""
    todo = iter(forms)

    async def client(http: aiohttp.ClientSession) -> None:
        for form in todo:
            if stop is not None and stop.is_set():
                answers[form["id"]] = None
                continue
            try:
                async with http.post(f"{url}/callbacks/at/sms", params={"token": TOKEN}, data=form) as response:
                    await response.read()
                    answers[form["id"]] = response.status
            except (TimeoutError, aiohttp.ClientError):
                answers[form["id"]] = None

    connector = aiohttp.TCPConnector(limit=CLIENTS)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=20)) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return answers


def stored_ids(db_path) -> list[str]:
    with sqlite3.connect(db_path) as db:
        return [row[0] for row in db.execute("SELECT external_id FROM messages")]


def left_sending(db_path) -> int:
    """Rows the dead gateway had claimed and not recorded: what a lease would hold back."""
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT count(*) FROM outbox WHERE status = 'sending'").fetchone()[0]


def seconds(value: float | None) -> str:
    return "more than 45 s" if value is None else f"{value:.1f} s"


async def all_confirmed_after(fake, numbers: set[str], started: float, limit: float) -> float | None:
    """Seconds from `started` until every number has a confirmation, or None past `limit`."""
    while time.monotonic() - started <= limit:
        if numbers <= {m["to"] for m in await fake.messages()}:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    return None


@pytest.mark.slow
async def test_kill_9_under_load_loses_nothing_and_confirms_everyone_once(tmp_path) -> None:
    db_path = tmp_path / "ewg.db"
    now = datetime.now(UTC)
    forms = [inbound_sms_form(reporter(n), "ATTAQUE GABI 3", received_at=now, message_id=f"crash-{n:05d}")
             for n in range(MESSAGES)]
    async with FakeProviderProcess() as fake:
        gateway = GatewayProcess({
            "EWG_DATABASE__URL": f"sqlite+aiosqlite:///{db_path}", "EWG_AFRICASTALKING__BASE_URL": fake.base_url,
            "EWG_CALLBACKS__TOKEN": TOKEN, "EWG_OUTBOX__POLL_SECONDS": "0.2",
            "EWG_OUTBOX__BACKOFF_BASE_SECONDS": "0.2", "EWG_OUTBOX__BACKOFF_MAX_SECONDS": "1",
            **fake.credentials_env()}, free_port(), tmp_path)
        await gateway.start(timeout=60)
        try:
            killed = asyncio.Event()

            async def killer(answers_so_far: dict) -> None:
                while sum(1 for s in answers_so_far.values() if s == 200) < MESSAGES * KILL_AFTER:
                    await asyncio.sleep(0.005)
                gateway.kill9()
                killed.set()

            first_answers: dict[str, int | None] = {}
            sending = asyncio.create_task(send_all(gateway.url, forms, first_answers, killed))
            await asyncio.wait_for(killer(first_answers), timeout=60)
            await sending
            answered = {i for i, status in first_answers.items() if status == 200}
            assert 0 < len(answered) < MESSAGES, "the crash did not happen mid-stream"

            # The promise itself: everything answered 200 is in the database file after the crash.
            lost = answered - set(stored_ids(db_path))
            assert lost == set(), f"{len(lost)} callbacks answered 200 were lost in the crash"
            in_flight = left_sending(db_path)
            queued_before_crash = {f["from"] for f in forms if f["id"] in answered}

            await gateway.start(timeout=60)
            restarted = time.monotonic()
            catching_up = asyncio.create_task(all_confirmed_after(fake, queued_before_crash, restarted, 45))
            rng = random.Random(5)
            again = [f for f in forms if f["id"] not in answered or rng.random() < RESEND_ANSWERED]
            second = await send_all(gateway.url, again, {})
            assert Counter(second.values()) == Counter({200: len(again)})
            caught_up = await catching_up

            senders = {f["from"] for f in forms}
            deadline = time.monotonic() + 45
            while True:
                confirmed = Counter(m["to"] for m in await fake.messages())
                if senders <= set(confirmed) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.25)
            drained = time.monotonic() - restarted
            await asyncio.sleep(1.0)  # let any late duplicate show up before counting
            confirmed = Counter(m["to"] for m in await fake.messages())
        finally:
            await gateway.terminate()

    ids = stored_ids(db_path)
    assert len(ids) == len(set(ids)) == MESSAGES, "a message is missing or stored twice"
    with sqlite3.connect(db_path) as db:
        replies = db.execute("SELECT count(*), count(DISTINCT dedup_key) FROM outbox WHERE kind = 'reply'").fetchone()
        statuses = dict(db.execute("SELECT status, count(*) FROM outbox GROUP BY status").fetchall())
        reports = db.execute("SELECT count(*) FROM reports").fetchone()[0]
    assert (reports, *replies) == (MESSAGES, MESSAGES, MESSAGES)
    assert statuses == {"sent": MESSAGES}
    unconfirmed = senders - set(confirmed)
    assert unconfirmed == set(), f"{len(unconfirmed)} reporters never confirmed"
    duplicates = sum(n - 1 for n in confirmed.values())
    rate = duplicates / MESSAGES
    print(f"\ncrash test: {MESSAGES} callbacks, {len(answered)} answered before kill -9, {len(again)} re-sent, "
          f"{in_flight} replies in flight at the crash; duplicate confirmations {duplicates} "
          f"({rate:.2%}); those queued before the crash confirmed {seconds(caught_up)} after restart, "
          f"all {drained:.1f}s after")
    assert caught_up is not None and caught_up <= CONFIRMED_WITHIN, (
        f"confirmations queued before the crash took {seconds(caught_up)} (limit {CONFIRMED_WITHIN}s) after the restart; "
        f"{in_flight} were left in flight")
    assert rate < 0.01
    leaked = [n for n in senders if n in gateway.logs() or n[4:] in gateway.logs()]
    assert leaked == [], "a reporter's number reached the log unmasked"


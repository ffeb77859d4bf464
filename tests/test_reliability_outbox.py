"""Provider outage at the sender level, with an injected clock and a scripted provider:
back-off with jitter, every SMS delivered once after recovery, expired alerts never sent late,
and alerts claimed before any backlog of routine replies."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from gateway.config import OutboxSettings
from gateway.kernel.envelopes import SendOutcome, SendResult
from gateway.metrics import Metrics
from gateway.outbox import sender as sender_module
from gateway.outbox.sender import EXPIRY_SWEEP, LEASE, OutboxSender, backoff_delay
from gateway.storage.db import create_engine, session_factory
from gateway.storage.models import AdminUnit, Alert, Outbox
from gateway.storage.outbox import PRIORITY_ALERT, PRIORITY_REPLY, OutboundSms, enqueue
from tests.support.providers import ScriptedProvider

SETTINGS = OutboxSettings(poll_seconds=0.01, batch_size=100, max_attempts=12, backoff_base_seconds=5,
                          backoff_max_seconds=60, alert_expiry_minutes=30, reply_expiry_minutes=1440)


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


def make_sender(sessions, provider, clock, settings: OutboxSettings = SETTINGS) -> OutboxSender:
    dialect = sessions.kw["bind"].dialect.name
    return OutboxSender(sessions, provider, settings, Metrics(), clock, dialect)


def reply(n: int, clock) -> OutboundSms:
    return OutboundSms(f"reply:{n}", "reply", f"+2279100{n:04d}", f"Recu R{n:04d}", PRIORITY_REPLY,
                       expires_at=clock() + timedelta(hours=24))


def alert(n: int, clock, minutes: int = 30) -> OutboundSms:
    return OutboundSms(f"alert:{n}", "alert", f"+2279600{n:04d}", "ALERTE attaque Gabi. OK K7Q2", PRIORITY_ALERT,
                       expires_at=clock() + timedelta(minutes=minutes))


async def queue(sessions, messages: list[OutboundSms], clock) -> None:
    async with sessions() as session, session.begin():
        await enqueue(session, messages, clock())


async def outbox_rows(sessions) -> dict[str, Outbox]:
    async with sessions() as session:
        return {row.dedup_key: row for row in (await session.execute(select(Outbox))).scalars()}


async def drain(sender: OutboxSender) -> int:
    handled = total = 1
    while handled:
        handled = await sender.send_due()
        total += handled
    return total - 1


def test_backoff_is_exponential_with_jitter_and_capped() -> None:
    settings = replace(SETTINGS, backoff_base_seconds=5, backoff_max_seconds=60)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 5), (2, 10), (3, 20), (4, 40), (5, 60), (9, 60)]:
        delays = [backoff_delay(attempt, settings, rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays), (attempt, min(delays), max(delays))
        assert max(delays) - min(delays) > ceiling / 4, "no jitter: retries of many SMS would stampede"


async def test_outage_then_recovery_delivers_everything_once(sessions, clock) -> None:
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock)
    await queue(sessions, [reply(n, clock) for n in range(20)] + [alert(n, clock) for n in range(5)], clock)

    provider.down = True
    seen_delays: list[float] = []
    for _attempt in range(4):  # four failed rounds, each after the previous back-off ran out
        assert await sender.send_due() == 25
        assert await sender.send_due() == 0, "a failed SMS was retried before its back-off"
        rows = await outbox_rows(sessions)
        assert {r.status for r in rows.values()} == {"queued"}
        wait = max(r.next_attempt_at for r in rows.values()) - clock()
        seen_delays.append(wait.total_seconds())
        clock.advance(seconds=wait.total_seconds() + 0.001)
    # Ceilings 5, 10, 20, 40 s: each round waits at least half its ceiling and at most all of it.
    assert [2.5 <= seen_delays[0] <= 5, 5 <= seen_delays[1] <= 10, 10 <= seen_delays[2] <= 20,
            20 <= seen_delays[3] <= 40] == [True] * 4, seen_delays
    assert provider.delivered == []

    provider.down = False
    assert await drain(sender) == 25
    rows = await outbox_rows(sessions)
    assert {r.status for r in rows.values()} == {"sent"}
    assert {r.attempts for r in rows.values()} == {5}
    recipients = [recipient for recipient, _ in provider.delivered]
    assert sorted(recipients) == sorted(r.recipient for r in rows.values())
    assert len(recipients) == len(set(recipients)) == 25, "an SMS was sent twice"
    clock.advance(hours=1)
    assert await drain(sender) == 0
    assert len(provider.delivered) == 25


async def test_an_alert_that_waited_past_its_expiry_is_expired_not_sent_late(sessions, clock) -> None:
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock)
    await queue(sessions, [alert(1, clock, minutes=10), alert(2, clock, minutes=120), reply(1, clock)], clock)

    provider.down = True
    assert await sender.send_due() == 3
    clock.advance(minutes=11)  # the outage outlasts the first alert's expiry
    provider.down = False
    await drain(sender)

    rows = await outbox_rows(sessions)
    assert (rows["alert:1"].status, rows["alert:1"].sent_at) == ("expired", None)
    assert rows["alert:2"].status == rows["reply:1"].status == "sent"
    assert [r for r, _ in provider.delivered if r == rows["alert:1"].recipient] == []


async def test_a_long_outage_retries_until_expiry_not_until_max_attempts(sessions, clock) -> None:
    """Twice max_attempts failed rounds: a reply (24 h expiry) keeps trying and is delivered once the
    provider is back; an SMS with no expiry gives up after max_attempts."""
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock)
    no_expiry = OutboundSms("notice:1", "reply", "+22791009999", "Recu", PRIORITY_REPLY)
    await queue(sessions, [reply(1, clock), no_expiry], clock)
    provider.down = True
    for _ in range(2 * SETTINGS.max_attempts):
        await sender.send_due()
        clock.advance(seconds=SETTINGS.backoff_max_seconds + 1)
    rows = await outbox_rows(sessions)
    assert (rows["reply:1"].status, rows["notice:1"].status) == ("queued", "failed")
    assert rows["reply:1"].attempts == 2 * SETTINGS.max_attempts
    assert rows["notice:1"].attempts == SETTINGS.max_attempts
    provider.down = False
    await drain(sender)
    assert provider.delivered == [(rows["reply:1"].recipient, "Recu R0001")]


async def test_a_claimed_alert_past_its_expiry_is_not_sent(sessions, clock) -> None:
    """A row left `sending` by a crashed replica becomes claimable when its lease runs out; by
    then the alert has expired, and it must be marked so rather than sent."""
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock)
    await queue(sessions, [alert(1, clock, minutes=1)], clock)
    claimed = await sender._claim(clock())  # claimed, then the replica "dies" before sending
    assert len(claimed) == 1
    clock.advance(minutes=5)
    await drain(sender)
    rows = await outbox_rows(sessions)
    assert rows["alert:1"].status == "expired"
    assert provider.delivered == []


async def test_a_row_expiring_between_sweeps_is_never_claimed_and_marked_at_the_next(sessions, clock) -> None:
    """The expiry sweep runs at most every EXPIRY_SWEEP; in between, a row past its expiry is
    left out of every claim rather than sent late."""
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock)
    assert await sender.send_due() == 0  # the sweep has just run
    soon = OutboundSms("alert:1", "alert", "+22796000001", "ALERTE", PRIORITY_ALERT,
                       expires_at=clock() + timedelta(seconds=2))
    await queue(sessions, [soon], clock)
    clock.advance(seconds=5)
    assert await sender.send_due() == 0
    assert (await outbox_rows(sessions))["alert:1"].status == "queued"
    clock.advance(seconds=EXPIRY_SWEEP.total_seconds())
    assert await sender.send_due() == 0
    assert (await outbox_rows(sessions))["alert:1"].status == "expired"
    assert provider.delivered == []


async def test_alerts_are_claimed_before_a_backlog_of_replies(sessions, clock) -> None:
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock, replace(SETTINGS, batch_size=10))
    await queue(sessions, [reply(n, clock) for n in range(50)], clock)  # queued first
    await queue(sessions, [alert(1, clock)], clock)  # an alert arrives behind 50 replies

    assert await sender.send_due() == 10
    first_call_recipients = provider.calls[0][1]
    assert first_call_recipients == ("+22796000001",), "the alert did not go out first"
    assert [text for text, _ in provider.calls[1:]] == [f"Recu R{n:04d}" for n in range(9)]  # then the oldest replies


async def open_alert(sessions, clock, code: str = "K7Q2") -> int:
    """An open alert in a commune of its own (the sender needs nothing else of the alert service)."""
    async with sessions() as session, session.begin():
        if await session.get(AdminUnit, "NE001001") is None:
            session.add(AdminUnit(pcode="NE001001", level=3, country="NE", name="Gabi"))
        alert = Alert(code=code, commune_pcode="NE001001", incident="attack", level=2, status="open",
                      opened_at=clock(), updated_at=clock(), last_report_at=clock(), notified_at=clock())
        session.add(alert)
        await session.flush()
        return alert.id


async def alert_status(sessions, alert_id: int) -> str:
    async with sessions() as session:
        return (await session.get(Alert, alert_id)).status


def alert_sms(alert_id: int, n: int, clock, minutes: int = 30) -> OutboundSms:
    return replace(alert(n, clock, minutes), dedup_key=f"alert:{alert_id}:{n}", alert_id=alert_id)


async def test_an_alert_none_of_whose_sms_went_out_in_time_is_marked_expired(sessions, clock) -> None:
    """The sender owns outbox expiry: when an outage outlasts an alert's SMS, the sweep that marks
    them expired marks the alert expired too (nobody was told); an alert with one SMS sent stays open."""
    provider = ScriptedProvider()
    sender = make_sender(sessions, provider, clock)
    unsent, half_sent = await open_alert(sessions, clock, "K7Q2"), await open_alert(sessions, clock, "M3P4")
    await queue(sessions, [alert_sms(half_sent, 1, clock)], clock)
    assert await sender.send_due() == 1  # one SMS of half_sent goes out
    provider.down = True
    await queue(sessions, [alert_sms(unsent, 2, clock), alert_sms(unsent, 3, clock),
                           alert_sms(half_sent, 4, clock, minutes=60)], clock)
    assert await sender.send_due() == 3
    clock.advance(minutes=61)
    await drain(sender)

    rows = await outbox_rows(sessions)
    assert {rows[f"alert:{unsent}:{n}"].status for n in (2, 3)} == {"expired"}
    assert rows[f"alert:{half_sent}:4"].status == "expired"
    assert await alert_status(sessions, unsent) == "expired"
    assert await alert_status(sessions, half_sent) == "open", "an alert that reached someone is not expired"


async def test_an_alert_sms_whose_last_try_ends_after_its_expiry_expires_with_its_alert(sessions, clock) -> None:
    """A try claimed just before the expiry that fails after it (a provider timing out) is not
    retried, and counts as expired: the alert none of whose SMS went out is expired too."""
    alert_id = await open_alert(sessions, clock)

    class TimingOut(ScriptedProvider):
        async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
            clock.advance(minutes=2)  # the timeout outlasts the SMS's expiry
            return [SendResult(r, SendOutcome.RETRY, reason="timeout") for r in recipients]

    sender = make_sender(sessions, TimingOut(), clock)
    await queue(sessions, [alert_sms(alert_id, 1, clock, minutes=1)], clock)
    assert await sender.send_due() == 1
    row = (await outbox_rows(sessions))[f"alert:{alert_id}:1"]
    assert (row.status, row.last_error) == ("expired", "not sent before expiry (timeout)")
    assert await alert_status(sessions, alert_id) == "expired"


async def test_a_dead_replicas_claim_is_free_again_after_at_most_30_seconds(sessions, clock) -> None:
    """What a replica left `sending` when it died waits for the lease (another replica cannot tell
    it from a live one's), and the lease is short: a focal point waits seconds, not minutes."""
    assert LEASE <= timedelta(seconds=30)
    provider = ScriptedProvider()
    await queue(sessions, [reply(1, clock)], clock)
    assert len(await make_sender(sessions, provider, clock)._claim(clock())) == 1  # then it dies
    survivor = make_sender(sessions, provider, clock)
    clock.advance(seconds=LEASE.total_seconds() - 1)
    assert await survivor.send_due() == 0
    clock.advance(seconds=2)
    assert await survivor.send_due() == 1
    assert provider.delivered == [("+22791000001", "Recu R0001")]


async def test_a_restarted_sqlite_gateway_sends_what_it_left_in_flight_at_once(sessions, clock) -> None:
    """SQLite is one process: what it left `sending` when killed was its own, and is sent as soon
    as it starts again, not after the lease. Replicas on PostgreSQL leave it to the lease."""
    provider = ScriptedProvider()
    await queue(sessions, [reply(n, clock) for n in range(3)], clock)
    assert len(await make_sender(sessions, provider, clock)._claim(clock())) == 3  # killed mid-send
    restarted = make_sender(sessions, provider, clock, replace(SETTINGS, poll_seconds=0.05))
    running = asyncio.create_task(restarted.run_forever())
    for _ in range(100):
        if len(provider.delivered) == 3:
            break
        await asyncio.sleep(0.02)
    restarted.request_stop()
    await running
    on_sqlite = sessions.kw["bind"].dialect.name == "sqlite"
    assert len(provider.delivered) == (3 if on_sqlite else 0)


async def test_a_pass_longer_than_the_lease_keeps_its_rows_from_other_replicas(sessions, monkeypatch) -> None:
    """A slow provider makes a pass outlast the lease: the pass renews the lease of what it has not
    recorded yet, so a second replica does not claim (and send again) an SMS still in flight."""
    monkeypatch.setattr(sender_module, "LEASE", timedelta(seconds=0.6))
    real_clock = lambda: datetime.now(UTC)  # noqa: E731 - leases are renewed in real time here
    release = asyncio.Event()

    class Slow(ScriptedProvider):
        async def send(self, text: str, recipients: Sequence[str]) -> list[SendResult]:
            await release.wait()
            return await super().send(text, recipients)

    slow, other = Slow(), ScriptedProvider()
    await queue(sessions, [reply(1, real_clock)], real_clock)
    first = asyncio.create_task(make_sender(sessions, slow, real_clock).send_due())
    await asyncio.sleep(1.5)  # two and a half leases
    assert await make_sender(sessions, other, real_clock).send_due() == 0, "claimed while still in flight"
    release.set()
    assert await first == 1
    assert (slow.delivered, other.delivered) == ([("+22791000001", "Recu R0001")], [])

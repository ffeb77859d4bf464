"""The outbox sender: claims due SMS, hands them to the provider in batches, records results.

Rows are claimed with row locks (`FOR UPDATE SKIP LOCKED` on PostgreSQL) and a lease
(`claimed_until`, renewed while a long pass still holds them), so several replicas never send
the same row, and a replica that dies mid-send leaves rows that become claimable again when the
lease runs out. A SQLite gateway is one process: at start it takes back at once what it left
`sending` when it died. Alerts (priority 0) are always claimed before routine replies. Expiry
(alerts.jobs.expire_stale_outbox) runs here, in the claim transaction, and nowhere else; so does
the monthly budget's stop of broadcast SMS (alerts, replies and notices always leave).

Routing: a reply leaves through the provider its message came in on (the row's `provider`); any
other SMS through the first provider that reaches its recipient, moving to the next after
`tries_before_failover` provider-side failures (a recipient-side failure is final wherever it
happens). Each row records the provider that last took it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.ext.asyncio import async_sessionmaker

from alerts.api import EXPIRED_TEXT, escalate_unreachable, expire_alerts_left_unsent, expire_stale_outbox
from gateway.config import CostsSettings, OutboxSettings
from gateway.kernel.envelopes import Outgoing, SendOutcome, SendResult
from gateway.kernel.phones import mask_phone, mask_phones_in
from gateway.kernel.segments import segment_count
from gateway.metrics import Metrics
from gateway.outbox.health import ProviderHealth
from gateway.providers.base import SmsProvider
from gateway.providers.registry import Providers
from gateway.storage.models import Outbox
from gateway.storage.spend import (
    STOPPED,
    STOPPED_REASON,
    SpendLine,
    add_spend,
    broadcasts_in_flight,
    charged_per_segment,
    lock_budget,
    month_budget,
    segment_cost,
    sms_spend,
)

log = logging.getLogger(__name__)
# How long a replica that died mid-send keeps others from its rows (what a focal point who texted
# during the crash may wait for a reply); a pass that takes longer renews it every third of it.
LEASE = timedelta(seconds=30)
# Rows past their expiry are never claimed; marking them `expired` can wait this long, so that
# a pass (one per batch of SMS queued) is not also a sweep of the outbox on SQLite's one writer.
EXPIRY_SWEEP = timedelta(seconds=10)


_JITTER = random.Random()


def backoff_delay(attempt: int, settings: OutboxSettings, rng: random.Random = _JITTER) -> float:
    """Exponential back-off with jitter (half to full ceiling): spreads retries of many messages after an outage."""
    ceiling = min(settings.backoff_max_seconds, settings.backoff_base_seconds * (2 ** max(attempt - 1, 0)))
    return rng.uniform(ceiling / 2, ceiling)


def worth_retrying(expires_at: datetime | None, attempts: int, at: datetime, settings: OutboxSettings) -> bool:
    """Whether a try at `at` is still worth it. An SMS with an expiry is retried until it expires,
    however long the outage (the expiry decides when it is no longer worth sending); one without
    gives up after max_attempts."""
    if expires_at is not None:
        return (expires_at if expires_at.tzinfo else expires_at.replace(tzinfo=UTC)) > at
    return attempts < settings.max_attempts


# Texts handed to the provider whose results are not committed yet: what a crash can send twice.
# Measured: with no bound, 48 of 2,000 confirmations went out twice in one kill -9 test, 2 with this
# bound; distinct texts go out at about 245/s instead of 550/s (bench_fanout.py --distinct), still far
# above what a network of focal points sends or the provider's rate limits allow.
UNRECORDED_TEXTS = 16


# A claimed row: what routing and sending it need.
Claimed = tuple[int, str, str, str, str | None, int, datetime | None]  # id, recipient, body, kind, provider, attempts, expires
Result = tuple[SendResult, str]  # the result and the provider that gave it


class OutboxSender:
    def __init__(self, sessions: async_sessionmaker, provider: SmsProvider | Providers, settings: OutboxSettings,
                 metrics: Metrics, clock: Callable[[], datetime], dialect: str, tries_before_failover: int = 3,
                 costs: CostsSettings | None = None):
        self._sessions = sessions
        self._providers = provider if isinstance(provider, Providers) else Providers.single(provider)
        self._settings = settings
        self._alert_expiry = settings.alert_expiry  # an expired alert's Cancel waits as long
        self._metrics = metrics
        self._clock = clock
        self._dialect = dialect
        self._tries = tries_before_failover  # Providers reads anything below 1 as 1
        self.health: dict[str, ProviderHealth] = {name: ProviderHealth() for name in self._providers.order}
        self._costs = costs or CostsSettings()
        self.wake = asyncio.Event()
        self._stopping = False
        self._swept_at: datetime | None = None
        self._reclaimed = False
        self._due = _DUE.limit(settings.batch_size)
        if dialect == "postgresql":
            self._due = self._due.with_for_update(skip_locked=True)

    def request_stop(self) -> None:
        """Finish the pass in progress, then return from run_forever."""
        self._stopping = True
        self.wake.set()

    async def run_forever(self) -> None:
        while not self._stopping:
            try:
                if not self._reclaimed:
                    await self.reclaim_own_sends()
                handled = await self.send_due()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the sender must outlive a database outage
                log.exception("outbox pass failed; retrying")
                handled = 0
            if handled == 0 and not self._stopping:
                try:
                    await asyncio.wait_for(self.wake.wait(), timeout=self._settings.poll_seconds)
                except TimeoutError:
                    pass
                self.wake.clear()

    async def reclaim_own_sends(self) -> int:
        """SQLite: one process owns the outbox, so rows left `sending` were this gateway's own when
        it died, and are due again now rather than when their lease runs out. (Replicas on
        PostgreSQL cannot tell a dead peer's rows from a live one's: they wait for the lease.)"""
        reclaimed = 0
        if self._dialect == "sqlite":
            async with self._sessions() as session, session.begin():
                reclaimed = (await session.execute(_RECLAIM, {"now": self._clock()})).rowcount
            if reclaimed:
                log.info("%d outbound SMS left in flight by the previous run are due again", reclaimed)
        self._reclaimed = True
        return reclaimed

    async def send_due(self) -> int:
        """One pass: expire what is too late, claim a batch, send it. Returns rows handled."""
        now = self._clock()
        rows = await self._claim(now)
        if not rows:
            return 0
        unrecorded = {row[0] for row in rows}
        pass_done = asyncio.Event()
        leases = asyncio.create_task(self._renew_leases(unrecorded, pass_done), name="outbox-leases")
        try:
            await self._send_claimed(rows, unrecorded)
        finally:
            pass_done.set()
            await leases
        return len(rows)

    async def _renew_leases(self, unrecorded: set[int], pass_done: asyncio.Event) -> None:
        """While a pass runs longer than a third of the lease (a slow or timing-out provider), push
        the lease of its rows not yet recorded further, so no replica claims them meanwhile. Never
        cancelled mid-transaction: it stops at the end of the pass."""
        while not pass_done.is_set():
            try:
                await asyncio.wait_for(pass_done.wait(), timeout=LEASE.total_seconds() / 3)
                return
            except TimeoutError:
                pass
            if not unrecorded:
                continue
            try:
                async with self._sessions() as session, session.begin():
                    await session.execute(_RENEW, {"ids": sorted(unrecorded), "until": self._clock() + LEASE})
            except Exception:  # noqa: BLE001 - the pass goes on; the next renewal may succeed
                log.warning("could not renew the outbox lease of %d SMS in flight", len(unrecorded))

    @property
    def provider_names(self) -> list[str]:
        """The providers this sender sends through, in order of preference."""
        return list(self._providers.order)

    def provider_for(self, recipient: str, kind: str, provider: str | None, attempts: int) -> str:
        """The provider of a row's next try: a reply's own, or the route's after failovers."""
        return self._providers.choose(recipient, provider if kind == "reply" else None, attempts, self._tries)

    async def _send_claimed(self, rows: list[Claimed], unrecorded: set[int]) -> None:
        by_text: dict[tuple[str, str], list[Outgoing]] = defaultdict(list)
        for row_id, recipient, body, kind, provider, attempts, expires_at in rows:
            name = self.provider_for(recipient, kind, provider, attempts)
            by_text[name, body].append(Outgoing(row_id, recipient, _aware(expires_at), attempts))
        # Alerts first: rows came ordered by priority; dicts keep insertion order.
        record = self._coalescing_recorder()
        texts_in_flight = asyncio.Semaphore(UNRECORDED_TEXTS)

        async def send_and_record(name: str, body: str, group: list[Outgoing]) -> None:
            async with texts_in_flight:
                await record(await self._send_group(name, body, group))
            unrecorded.difference_update(one.outbox_id for one in group)

        await asyncio.gather(*(send_and_record(name, body, group) for (name, body), group in by_text.items()))

    def _coalescing_recorder(self) -> Callable[[list[tuple[int, Result]]], Awaitable[None]]:
        """Results are recorded as soon as they come (an SMS handed to the provider but not yet
        recorded is sent again after a crash), and those that come while a recording transaction
        runs share the next one. Each call returns once its own results are committed."""
        pending: dict[int, Result] = {}
        one_at_a_time = asyncio.Lock()

        async def record(results: list[tuple[int, Result]]) -> None:
            pending.update(results)
            async with one_at_a_time:
                if not pending:
                    return  # committed by the transaction that ran while this call waited
                batch = dict(pending)
                pending.clear()
                await self._record(batch)

        return record

    async def _claim(self, now: datetime) -> list[Claimed]:
        sweep = self._swept_at is None or not timedelta(0) <= now - self._swept_at < EXPIRY_SWEEP
        stopped = 0
        async with self._sessions() as session, session.begin():
            if sweep:
                await expire_stale_outbox(session, now, alert_expiry=self._alert_expiry)
            while True:  # a batch the budget stopped entirely is followed by the next one at once
                due = [tuple(r) for r in await session.execute(self._due, {"now": now})]
                over = await self._over_budget(session, due, now)
                if over:
                    await session.execute(_STOP, {"ids": sorted(over), "reason": STOPPED_REASON})
                    stopped += len(over)
                rows = [r for r in due if r[0] not in over]
                if rows or not over:
                    break
            if rows:
                await session.execute(_MARK_SENDING, {"ids": [r[0] for r in rows], "until": now + LEASE})
        if sweep:
            self._swept_at = now
        if stopped:
            log.warning("%d broadcast SMS not sent: %s", stopped, STOPPED_REASON)
            self._metrics.sms_budget_stopped.inc(stopped)
        return rows

    async def _over_budget(self, session, rows: list[Claimed], now: datetime) -> set[int]:  # noqa: ANN001
        """The broadcast SMS of a batch that the monthly budget keeps from leaving (the rule broadcasts'
        approval uses): all of them once the month's spend has reached it, else those that come after
        the spend, with the batch's earlier broadcast SMS at their provider's price, reaches it."""
        broadcasts = [row for row in rows if row[3] == "broadcast"]
        if not broadcasts or self._costs.monthly_budget <= 0:
            return set()
        budget = await month_budget(session, self._costs, now, lock=True)
        charged = await charged_per_segment(session, now)

        def cost(recipient: str, kind: str, provider: str | None, attempts: int, segments: int) -> float:
            return segment_cost(self._costs, self.provider_for(recipient, kind, provider, attempts), charged) * segments

        # Another pass's claimed broadcast SMS come first: their spend is not recorded yet.
        running = sum(cost(recipient, kind, provider, attempts, segments)
                      for recipient, provider, kind, attempts, segments in await broadcasts_in_flight(session))
        over: set[int] = set()
        for row_id, recipient, body, kind, provider, attempts, _ in broadcasts:
            if budget.refusal(running):
                over.add(row_id)
            else:
                running += cost(recipient, kind, provider, attempts, segment_count(body))
        return over

    async def _send_group(self, name: str, body: str, group: list[Outgoing]) -> list[tuple[int, Result]]:
        provider = self._providers.senders[name]
        recipients = [one.recipient for one in group]
        started = time.perf_counter()
        try:
            if getattr(provider, "per_sms", False):
                results = await provider.send(body, recipients, outgoing=group)
            else:
                results = await provider.send(body, recipients)
        except Exception as exc:  # noqa: BLE001 - an unexpected client error is a retryable failure
            log.warning("provider %s send raised %s", name, type(exc).__name__)
            results = [SendResult(r, SendOutcome.RETRY, reason=type(exc).__name__) for r in recipients]
        elapsed = time.perf_counter() - started
        self._metrics.provider_latency.labels(name).observe(elapsed)
        self.health.setdefault(name, ProviderHealth()).observe(elapsed, self._clock(), bool(results) and all(
            result.outcome is SendOutcome.RETRY for result in results))
        by_recipient = {result.recipient: result for result in results}
        return [(one.outbox_id, (by_recipient.get(one.recipient)
                                 or SendResult(one.recipient, SendOutcome.RETRY, reason="no result"), name))
                for one in group]

    async def _record(self, results: dict[int, Result]) -> None:
        """Record a batch of results in one statement (Core: the hot path of every SMS sent)."""
        now = self._clock()
        async with self._sessions() as session, session.begin():
            rows = (await session.execute(_TO_RECORD, {"ids": list(results)})).all()
            if self._costs.monthly_budget > 0 and any(row.kind == "broadcast" for row in rows):
                await lock_budget(session)
            changes, counted, alerts_expired, alerts_failed = [], [], set(), set()
            spent: dict[str, SpendLine] = {}
            for row in rows:
                values, counters = self._apply(row._asdict(), *results[row.id], now)
                changes.append(values)
                counted.extend(counters)
                if values["status"] == "expired" and row.alert_id is not None:
                    alerts_expired.add(row.alert_id)
                if values["status"] == "failed" and row.alert_id is not None:
                    alerts_failed.add(row.alert_id)
                if values["status"] == "sent":  # billed: the log sends nothing
                    total = spent.get(values["provider"]) or SpendLine(now.date(), values["provider"], 0.0, 0, 0)
                    spent[values["provider"]] = SpendLine(total.day, total.provider, total.amount + values["spend"],
                                                          total.sms + 1, total.segments + row.segments)
            if changes:
                table = Outbox.__table__
                await session.execute(update(table).where(table.c.id == bindparam("row_id")).values(
                    {name: bindparam(name) for name in changes[0] if name != "row_id"}), changes)
            if alerts_expired:
                await expire_alerts_left_unsent(session, alerts_expired, now, alert_expiry=self._alert_expiry)
            if alerts_failed:
                await escalate_unreachable(session, alerts_failed, now)
            await add_spend(session, list(spent.values()))
        for counter in counted:  # counted once committed, so metrics never run ahead of the outbox
            counter.inc()

    def _apply(self, row: dict, result: SendResult, provider: str, now: datetime) -> tuple[dict, list]:
        """The new values of one row after a result from `provider`, and the metrics to count once
        they are committed."""
        values = {name: row[name] for name in _UPDATED}
        values.update(row_id=row["id"], attempts=row["attempts"] + 1, claimed_until=None, provider=provider)
        if result.outcome is SendOutcome.SENT:
            mode = self._providers.mode(provider)
            # a reason on a sent SMS is a doubt worth showing (the provider's status not understood)
            note = mask_phones_in(result.reason)[:200] if result.reason else None
            if note:
                log.warning("SMS %d %s", row["id"], note)
            values.update(status="logged" if mode == "log" else "sent", sent_at=now, last_error=note,
                          provider_message_id=result.provider_message_id, cost=result.cost,
                          spend=None if mode == "log" else sms_spend(self._costs, provider, result.cost,
                                                                     row["segments"]))
            return values, [self._metrics.sent.labels(row["kind"], mode), self._metrics.provider_sent.labels(provider)]
        reason = mask_phones_in(result.reason or "unknown")[:200]
        values["last_error"] = reason
        side = "provider" if result.outcome is SendOutcome.RETRY else "recipient"
        failed = self._metrics.provider_failed.labels(provider, side)
        retryable = result.outcome is SendOutcome.RETRY and worth_retrying(
            row["expires_at"], values["attempts"], now, self._settings)
        if retryable:
            following = self.provider_for(row["recipient"], row["kind"], row["provider"], values["attempts"])
            if following != provider:
                # the next provider has not failed yet: it is tried at once, without back-off
                log.info("SMS %d moves from %s to %s after %s", row["id"], provider, following, reason)
                delay = 0.0
            else:
                delay = backoff_delay(values["attempts"], self._settings)
            values.update(status="queued", next_attempt_at=now + timedelta(seconds=delay))
        elif result.outcome is SendOutcome.RETRY and row["expires_at"] is not None:
            # the last try of an SMS that was worth retrying ended after its expiry: it expired
            values.update(status="expired", last_error=f"{EXPIRED_TEXT} ({reason})"[:200])
        else:
            values["status"] = "failed"
            log.warning("SMS %d to %s failed for good: %s", row["id"], mask_phone(row["recipient"]), reason)
        return values, [self._metrics.send_failures.labels(_reason_label(reason), str(retryable).lower()), failed]


# What recording a result reads, and the columns it writes (all of them, so one statement fits every outcome).
_UPDATED = ("status", "sent_at", "provider_message_id", "cost", "last_error", "next_attempt_at", "provider", "spend")
_RECORDED = (Outbox.id, Outbox.kind, Outbox.recipient, Outbox.attempts, Outbox.expires_at, Outbox.alert_id,
             Outbox.segments,
             *(getattr(Outbox, name) for name in _UPDATED))


# The statements of every pass, built once (see gateway.sms.ingest).
_TABLE = Outbox.__table__
_DUE = select(_TABLE.c.id, _TABLE.c.recipient, _TABLE.c.body, _TABLE.c.kind, _TABLE.c.provider,
              _TABLE.c.attempts, _TABLE.c.expires_at).where(
    or_(and_(_TABLE.c.status == "queued", _TABLE.c.next_attempt_at <= bindparam("now")),
        and_(_TABLE.c.status == "sending", _TABLE.c.claimed_until < bindparam("now"))),
    or_(_TABLE.c.expires_at.is_(None), _TABLE.c.expires_at > bindparam("now")),
).order_by(_TABLE.c.priority, _TABLE.c.id)
_MARK_SENDING = update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True))).values(
    status="sending", claimed_until=bindparam("until"))
_STOP = update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True))).values(
    status=STOPPED, last_error=bindparam("reason"), claimed_until=None)
_RENEW = update(_TABLE).where(_TABLE.c.id.in_(bindparam("ids", expanding=True)), _TABLE.c.status == "sending").values(
    claimed_until=bindparam("until"))
_RECLAIM = update(_TABLE).where(_TABLE.c.status == "sending").values(
    status="queued", claimed_until=None, next_attempt_at=bindparam("now"))
_TO_RECORD = select(*_RECORDED).where(Outbox.id.in_(bindparam("ids", expanding=True)))


def _aware(moment: datetime | None) -> datetime | None:
    """SQLite hands times back naive; they are UTC."""
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


def _reason_label(reason: str) -> str:
    """A closed set for the metric label (reasons may carry provider text)."""
    head = reason.split(":")[0].strip().lower().replace(" ", "_")
    return head if len(head) <= 32 else "other"

"""Wires the alert service into the running gateway: the scorer loop, the timed jobs
(APScheduler), and rule reloading (file watch and SIGHUP) that keeps the last good rules."""

from __future__ import annotations

import asyncio
import logging
import signal
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

from apscheduler.events import EVENT_JOB_SUBMITTED
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import select, text

from gateway.gazetteer.places import known_area_codes
from gateway.kernel.tasks import stop_gracefully
from gateway.runtime import Runtime
from gateway.storage.models import Alert, Report

log = logging.getLogger(__name__)
# Reports per scoring transaction. Passes are small in normal traffic (what arrived within the
# scoring delay); only a flood fills them, and then a pass's fixed cost (about ten statements) over
# 500 reports instead of 50 took 11% off the CPU of each SMS callback (BENCHMARKS.md, stop 12).
SCORE_BATCH = 500


class RulesHolder:
    """The rules in force. A reload that fails validation is logged and changes nothing."""

    def __init__(self, runtime: Runtime):
        self._runtime = runtime
        self._stamp: tuple = ()

    def _files_stamp(self) -> tuple:
        root = self._runtime.settings.rules_path
        files = sorted(root.rglob("*.toml")) if root.is_dir() else [root]
        return tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.exists())

    def load(self) -> bool:
        from alerts.api import RulesError, load_rules

        stamp = self._files_stamp()
        try:
            rules = load_rules(self._runtime.settings.rules_path, known_area_codes(self._runtime.gazetteer))
        except RulesError as exc:
            self._stamp = stamp  # do not retry the same broken files every poll
            log.error("rules refused, keeping the last good rules:\n%s", "\n".join(exc.errors))
            return False
        self._stamp = stamp
        self._runtime.rules = rules
        log.info("rules loaded from %s", self._runtime.settings.rules_path)
        return True

    def reload_if_changed(self) -> bool:
        return self._files_stamp() != self._stamp and self.load()


async def _job_lock(session, name: str) -> bool:  # noqa: ANN001
    """One replica runs a timed job at a time (PostgreSQL advisory lock, released at commit)."""
    if session.bind.dialect.name != "postgresql":
        return True
    key = zlib.crc32(name.encode())
    return bool((await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})).scalar())


async def start_alerting(runtime: Runtime) -> Callable[[], Awaitable[None]]:
    from alerts import api as service

    holder = RulesHolder(runtime)
    holder.load()
    runtime.rules_holder = holder
    gazetteer = runtime.gazetteer
    alert_expiry = timedelta(minutes=runtime.settings.outbox.alert_expiry_minutes)
    ctx = runtime.ingest_ctx

    async def acknowledge(session, phone: str, code: str, now):  # noqa: ANN001, ANN202
        result = await service.acknowledge(session, phone, code, now, gazetteer=gazetteer, alert_expiry=alert_expiry)
        if result.outcome == "done":
            opened = (await session.execute(select(Alert.opened_at).where(Alert.code == result.code))).scalar_one()
            runtime.metrics.time_to_ack.observe((now - opened).total_seconds())
        return result

    ctx.acknowledge = acknowledge
    ctx.rescore = lambda session, report_id, now: service.report_retracted(session, runtime.rules, report_id,
                                                                          gazetteer, now)

    async def score_once() -> int:
        if runtime.rules is None:
            return 0
        async with runtime.sessions() as session, session.begin():
            changes = await service.score_pending_reports(session, runtime.rules, gazetteer, runtime.clock(),
                                                          alert_expiry=alert_expiry, batch_size=SCORE_BATCH)
            more = (await session.execute(select(Report.id).where(Report.scored_at.is_(None)).limit(1))).first()
        if more is not None:
            backlog.set()  # the next pass in a transaction of its own: callbacks get the (SQLite) writer in between
        for change in changes:
            runtime.metrics.alerts.labels(str(change.level), "sent").inc(change.sent)
            runtime.metrics.alerts.labels(str(change.level), "withheld").inc(change.withheld)
        if changes:
            runtime.sender.wake.set()
        return len(changes)

    stopping = asyncio.Event()
    backlog = asyncio.Event()  # the last pass left reports unscored: the next one starts at once
    in_flight: set[asyncio.Task] = set()

    async def scorer_loop() -> None:
        while not stopping.is_set():
            if not backlog.is_set():
                try:
                    await asyncio.wait_for(runtime.wake_scorer.wait(), timeout=2.0)
                except TimeoutError:
                    pass
                if runtime.wake_scorer.is_set():  # reports arriving together are scored in one pass
                    await asyncio.sleep(runtime.settings.rules.scoring_delay_seconds)
            backlog.clear()
            runtime.wake_scorer.clear()
            if stopping.is_set():
                return
            try:
                await score_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep scoring after a database hiccup
                log.exception("scoring pass failed; will retry")

    def timed(name: str, work: Callable) -> Callable[[], Awaitable[None]]:
        async def job() -> None:
            if runtime.rules is None or stopping.is_set():
                return
            task = asyncio.current_task()
            in_flight.add(task)
            outcome = "skipped"
            try:
                async with runtime.sessions() as session, session.begin():
                    if await _job_lock(session, name):
                        await work(session, runtime.rules, runtime.clock(), gazetteer=gazetteer)
                        outcome = "ok"
                runtime.sender.wake.set()
            except Exception:  # noqa: BLE001
                outcome = "failed"
                log.exception("timed job %s failed; next run will retry", name)
            finally:
                in_flight.discard(task)
                runtime.metrics.job_runs.labels(name, outcome).inc()
        return job

    scheduler = AsyncIOScheduler(timezone="UTC")
    test_interval = runtime.settings.jobs.interval_seconds

    def schedule(name: str, work: Callable, trigger: str, **when: float) -> None:
        """A timed job on its own schedule, or every jobs.interval_seconds when a test sets it."""
        if test_interval > 0:
            trigger, when = "interval", {"seconds": test_interval}
        # a run started late is still worth it within one period (a day's digest: within the hour)
        grace = timedelta(**when).total_seconds() if trigger == "interval" else 3600
        scheduler.add_job(timed(name, work), trigger, id=name, coalesce=True, max_instances=1,
                          misfire_grace_time=max(int(grace), 1), **when)

    # Outbox expiry (and the alerts it leaves unsent) belongs to the sender's claim transaction.
    schedule("escalations", service.run_escalations, "interval", seconds=15)
    schedule("repeats", service.run_repeats, "interval", seconds=60)
    schedule("auto_resolve", service.auto_resolve, "interval", seconds=300)
    if runtime.settings.gateway.retention_days > 0:
        from gateway.storage.retention import anonymise_old_messages

        days = runtime.settings.gateway.retention_days
        schedule("retention", lambda s, _r, now, **_: anonymise_old_messages(s, days, now), "interval", hours=1)
    silent_days = runtime.settings.dashboard.silent_days

    async def count_silent(session, _rules, now, **_) -> None:  # noqa: ANN001
        silent = await service.silent_reporters(session, silent_days, now)
        runtime.metrics.silent_reporters.set(len(silent))

    schedule("silent_reporters", count_silent, "interval", minutes=30)
    digest = runtime.settings.digest
    if digest.hour >= 0:
        from alerts.api import send_daily_digests
        from gateway.gazetteer.places import area_name

        schedule("digest", lambda session, _rules, now, **_: send_daily_digests(
            session, now, lambda pcode: area_name(gazetteer, pcode), only_with_activity=digest.only_with_activity),
            "cron", hour=digest.hour, minute=0)
    if runtime.settings.rules.watch:
        scheduler.add_job(holder.reload_if_changed, "interval", seconds=2, id="rules_watch", coalesce=True)
    def record_lag(event) -> None:  # noqa: ANN001
        late = (datetime.now(UTC) - min(event.scheduled_run_times)).total_seconds()  # wall clock, as APScheduler
        runtime.metrics.scheduler_lag.labels(event.job_id).set(max(late, 0.0))

    scheduler.add_listener(record_lag, EVENT_JOB_SUBMITTED)
    for job in scheduler.get_jobs():
        runtime.metrics.scheduler_lag.labels(job.id).set(0)
    scheduler.start()
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(signal.SIGHUP, holder.load)
    except (NotImplementedError, RuntimeError):
        pass
    scorer = asyncio.create_task(scorer_loop(), name="scorer")
    runtime.score_once = score_once
    runtime.scheduler = scheduler

    async def stop() -> None:
        """Let a scoring pass or a timed job in progress finish its transaction: cancelling one
        mid-transaction can leave the database driver waiting forever when the engine closes."""
        def request_stop() -> None:
            stopping.set()
            runtime.wake_scorer.set()
            scheduler.shutdown(wait=False)

        await stop_gracefully([scorer, *in_flight], request_stop)
        try:
            loop.remove_signal_handler(signal.SIGHUP)
        except (NotImplementedError, RuntimeError):
            pass

    return stop

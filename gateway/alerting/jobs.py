"""The timed jobs as a table (name, work, trigger and its timing), and how each one runs: in a
transaction of its own, by one replica at a time (a PostgreSQL advisory lock per job), counted by outcome."""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from alerts.api import (
    RuleSet,
    auto_resolve,
    run_escalations,
    run_held_spillovers,
    run_repeats,
    send_daily_digests,
    silent_reporters,
)
from gateway.config import Settings
from gateway.gazetteer.matcher import Gazetteer
from gateway.gazetteer.places import area_name
from gateway.metrics import Metrics
from gateway.runtime import Runtime
from gateway.storage.retention import anonymise_old_messages

log = logging.getLogger(__name__)

JobWork = Callable[[AsyncSession, RuleSet, datetime], Awaitable[object]]  # (session, rules in force, now)
LATE_CRON_GRACE_SECONDS = 3600  # a daily job started late is still worth it within the hour


@dataclass(frozen=True)
class TimedJob:
    name: str  # the scheduler's job id and the metrics' label
    work: JobWork
    trigger: str  # APScheduler's "interval" or "cron"
    when: dict[str, int]  # the trigger's fields: {"seconds": 15}, {"hour": 6, "minute": 0}


def timed_jobs(settings: Settings, gazetteer: Gazetteer, metrics: Metrics) -> list[TimedJob]:
    """Every timed job these settings ask for. Outbox expiry (and the alerts it leaves unsent) is
    not one of them: it belongs to the sender's claim transaction."""
    expiry = settings.outbox.alert_expiry
    jobs = [
        TimedJob("escalations", partial(run_escalations, gazetteer=gazetteer, alert_expiry=expiry), "interval",
                 {"seconds": 15}),
        TimedJob("repeats", partial(run_repeats, gazetteer=gazetteer, alert_expiry=expiry), "interval",
                 {"seconds": 60}),
        TimedJob("held_spillovers", partial(run_held_spillovers, gazetteer=gazetteer, alert_expiry=expiry),
                 "interval", {"seconds": 60}),
        TimedJob("auto_resolve", partial(auto_resolve, gazetteer=gazetteer, alert_expiry=expiry), "interval",
                 {"seconds": 300}),
    ]
    if settings.gateway.retention_days > 0:
        jobs.append(TimedJob("retention", partial(_anonymise, days=settings.gateway.retention_days),
                             "interval", {"hours": 1}))
    jobs.append(TimedJob("silent_reporters", partial(_count_silent, days=settings.dashboard.silent_days,
                                                     metrics=metrics), "interval", {"minutes": 30}))
    if settings.digest.hour >= 0:
        jobs.append(TimedJob("digest", partial(_send_digests, gazetteer=gazetteer,
                                               only_with_activity=settings.digest.only_with_activity),
                             "cron", {"hour": settings.digest.hour, "minute": 0}))
    return jobs


async def _anonymise(session: AsyncSession, _rules: RuleSet, now: datetime, *, days: int) -> None:
    await anonymise_old_messages(session, days, now)


async def _count_silent(session: AsyncSession, _rules: RuleSet, now: datetime, *, days: int,
                        metrics: Metrics) -> None:
    metrics.silent_reporters.set(len(await silent_reporters(session, days, now)))


async def _send_digests(session: AsyncSession, _rules: RuleSet, now: datetime, *, gazetteer: Gazetteer,
                        only_with_activity: bool) -> None:
    await send_daily_digests(session, now, partial(area_name, gazetteer), only_with_activity=only_with_activity)


async def job_lock(session: AsyncSession, name: str) -> bool:
    """One replica runs a timed job at a time (PostgreSQL advisory lock, released at commit)."""
    if session.bind.dialect.name != "postgresql":
        return True
    key = zlib.crc32(name.encode())
    return bool((await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key})).scalar())


class JobRunner:
    """Runs the timed jobs for the scheduler, and knows the runs in progress so that stopping can
    let them finish their transaction."""

    def __init__(self, runtime: Runtime, stopping: asyncio.Event) -> None:
        self._runtime = runtime
        self._stopping = stopping
        self.in_flight: set[asyncio.Task] = set()

    async def run(self, job: TimedJob) -> None:
        runtime = self._runtime
        if runtime.rules is None or self._stopping.is_set():
            return
        task = asyncio.current_task()
        self.in_flight.add(task)
        outcome = "skipped"
        try:
            async with runtime.sessions() as session, session.begin():
                if await job_lock(session, job.name):
                    await job.work(session, runtime.rules, runtime.clock())
                    outcome = "ok"
            runtime.sender.wake.set()
        except Exception:  # noqa: BLE001 - the job runs again at its next time
            outcome = "failed"
            log.exception("timed job %s failed; next run will retry", job.name)
        finally:
            self.in_flight.discard(task)
            runtime.metrics.job_runs.labels(job.name, outcome).inc()


def schedule(scheduler: AsyncIOScheduler, runner: JobRunner, job: TimedJob, test_interval: float) -> None:
    """A timed job on its own schedule, or every `test_interval` seconds when a test sets
    jobs.interval_seconds. A run started late is still worth it within one period."""
    trigger, when = ("interval", {"seconds": test_interval}) if test_interval > 0 else (job.trigger, job.when)
    grace = timedelta(**when).total_seconds() if trigger == "interval" else LATE_CRON_GRACE_SECONDS
    scheduler.add_job(runner.run, trigger, args=(job,), id=job.name, coalesce=True, max_instances=1,
                      misfire_grace_time=max(int(grace), 1), **when)

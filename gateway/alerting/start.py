"""The alert service in the running gateway, started and stopped as one: the scorer loop, the
scheduler of the timed jobs and the rule reloading (file watch and SIGHUP)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_SUBMITTED, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from gateway.alerting.jobs import JobRunner, schedule, timed_jobs
from gateway.alerting.rules_reload import RulesHolder, reload_on_sighup
from gateway.alerting.scorer import Scorer
from gateway.kernel.tasks import stop_gracefully
from gateway.metrics import Metrics
from gateway.runtime import Runtime

RULES_WATCH_SECONDS = 2


class Alerting:
    def __init__(self, runtime: Runtime, rules: RulesHolder) -> None:
        self._runtime = runtime
        self._rules = rules
        self._stopping = asyncio.Event()
        self.scorer = Scorer(runtime, runtime.settings.outbox.alert_expiry, self._stopping)
        self._jobs = JobRunner(runtime, self._stopping)
        self.scheduler = AsyncIOScheduler(timezone="UTC")
        self._scoring: asyncio.Task | None = None
        self._forget_sighup: Callable[[], None] = lambda: None

    def start(self) -> None:
        settings = self._runtime.settings
        for job in timed_jobs(settings, self._runtime.gazetteer, self._runtime.metrics):
            schedule(self.scheduler, self._jobs, job, settings.jobs.interval_seconds)
        if settings.rules.watch:  # reads files only: no transaction, and the tests' job interval does not apply
            self.scheduler.add_job(self._rules.reload_if_changed, "interval", seconds=RULES_WATCH_SECONDS,
                                   id="rules_watch", coalesce=True)
        record_scheduler_lag(self.scheduler, self._runtime.metrics)
        self.scheduler.start()
        self._forget_sighup = reload_on_sighup(self._rules)
        self._scoring = asyncio.create_task(self.scorer.run(), name="scorer")

    async def stop(self) -> None:
        """Let a scoring pass or a timed job in progress finish its transaction: cancelling one
        mid-transaction can leave the database driver waiting forever when the engine closes."""
        def request_stop() -> None:
            self._stopping.set()
            self._runtime.wake_scorer.set()
            self.scheduler.shutdown(wait=False)

        tasks = [self._scoring] if self._scoring else []
        await stop_gracefully([*tasks, *self._jobs.in_flight], request_stop)
        self._forget_sighup()


def record_scheduler_lag(scheduler: AsyncIOScheduler, metrics: Metrics) -> None:
    """How late each job started (0 until its first run)."""
    def record(event: JobSubmissionEvent) -> None:
        late = (datetime.now(UTC) - min(event.scheduled_run_times)).total_seconds()  # wall clock, as APScheduler
        metrics.scheduler_lag.labels(event.job_id).set(max(late, 0.0))

    scheduler.add_listener(record, EVENT_JOB_SUBMITTED)
    for job in scheduler.get_jobs():
        metrics.scheduler_lag.labels(job.id).set(0)

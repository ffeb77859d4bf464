"""The scorer loop: scores the reports ingest stored, a pass shortly after the report that wakes
it (reports arriving together are scored together), and passes back to back while a backlog lasts."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from sqlalchemy import select

from alerts.api import score_pending_reports
from gateway.runtime import Runtime
from gateway.storage.models import Report

log = logging.getLogger(__name__)

# Reports per scoring transaction. A pass's fixed cost (about ten statements) is spread over this
# many reports in a flood, while normal traffic (what arrived within the scoring delay) stays well below.
SCORE_BATCH = 500
IDLE_WAKE_SECONDS = 2.0  # a pass even when nothing woke this scorer: reports another replica stored


class Scorer:
    def __init__(self, runtime: Runtime, alert_expiry: timedelta, stopping: asyncio.Event) -> None:
        self._runtime = runtime
        self._alert_expiry = alert_expiry
        self._stopping = stopping
        self._backlog = asyncio.Event()  # the last pass left reports unscored: the next one starts at once

    async def score_once(self) -> int:
        """One pass (tests and tools call it directly); the number of alerts it changed."""
        runtime = self._runtime
        if runtime.rules is None:
            return 0
        async with runtime.sessions() as session, session.begin():
            changes = await score_pending_reports(session, runtime.rules, runtime.gazetteer, runtime.clock(),
                                                  alert_expiry=self._alert_expiry, batch_size=SCORE_BATCH)
            more = (await session.execute(select(Report.id).where(Report.scored_at.is_(None)).limit(1))).first()
        if more is not None:
            self._backlog.set()  # the next pass in a transaction of its own: callbacks get the (SQLite) writer in between
        for change in changes:
            runtime.metrics.alerts.labels(str(change.level), "sent").inc(change.sent)
            runtime.metrics.alerts.labels(str(change.level), "withheld").inc(change.withheld)
        if changes:
            runtime.sender.wake.set()
        return len(changes)

    async def run(self) -> None:
        wake = self._runtime.wake_scorer
        while not self._stopping.is_set():
            if not self._backlog.is_set():
                try:
                    await asyncio.wait_for(wake.wait(), timeout=IDLE_WAKE_SECONDS)
                except TimeoutError:
                    pass
                if wake.is_set():  # reports arriving together are scored in one pass
                    await asyncio.sleep(self._runtime.settings.rules.scoring_delay_seconds)
            self._backlog.clear()
            wake.clear()
            if self._stopping.is_set():
                return
            try:
                await self.score_once()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep scoring after a database hiccup
                log.exception("scoring pass failed; will retry")

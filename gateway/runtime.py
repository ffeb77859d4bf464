"""The running gateway's state: one typed object, opened and closed by the app factory."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from gateway.config import Settings
from gateway.kernel.taxonomy import Taxonomy
from gateway.metrics import Metrics
from gateway.storage.group_commit import GroupCommitter


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    settings: Settings
    metrics: Metrics
    clock: Callable[[], datetime] = utc_now
    engine: AsyncEngine | None = None
    sessions: async_sessionmaker | None = None
    taxonomy: Taxonomy | None = None
    gazetteer: Any = None  # gateway.gazetteer.matcher.Gazetteer
    parser: Any = None  # gateway.parser.Parser
    rules: Any = None  # alerts.rules.RuleSet (last good)
    pseudonym_secret: str = ""  # keys reporters' pseudonyms: a setting or a file, never the database
    ingest: GroupCommitter | None = None
    ussd: GroupCommitter | None = None  # USSD hops (or, sessions in memory, their actions), group-committed
    answer_hop: Any = None  # UssdHop -> HopAnswer, through the configured session store
    ussd_live: Any = None  # gateway.ussd.memory.LiveSessions when sessions are kept in memory
    ingest_ctx: Any = None  # gateway.sms.ingest.IngestContext
    sender: Any = None  # gateway.outbox.sender.OutboxSender
    provider: Any = None  # injected SMS provider (tests); None: from settings
    ussd_search: Any = None  # (typed text, home) -> [(pcode, commune name, village)]
    rules_holder: Any = None  # gateway.alerting.RulesHolder
    scheduler: Any = None  # APScheduler running the timed jobs
    score_once: Any = None  # one scoring pass (tests and tools call it directly)
    wake_scorer: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name if self.engine else "sqlite"

    def after_commit(self, reports_stored: bool, sms_queued: bool) -> None:
        """Wake the scorer (new reports) and the sender (new outbox rows) without waiting; each
        wake of the sender is a transaction on SQLite's one writer, so only when there is work."""
        if reports_stored:
            self.wake_scorer.set()
        if sms_queued and self.sender is not None:
            self.sender.wake.set()


RUNTIME = web.AppKey("runtime", Runtime)

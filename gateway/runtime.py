"""The running gateway's state: one typed object, opened and closed by the app factory."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from aiohttp import web
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from alerts.api import RuleSet
from gateway.alerting.rules_reload import RulesHolder
from gateway.config import Settings
from gateway.gazetteer.matcher import Gazetteer
from gateway.kernel.envelopes import UssdHop
from gateway.kernel.taxonomy import Taxonomy
from gateway.metrics import Metrics
from gateway.outbox.redelivery import Redelivery
from gateway.outbox.sender import OutboxSender
from gateway.parser import Parser
from gateway.providers.base import SmsProvider
from gateway.providers.registry import Providers
from gateway.sms.ingest import IngestContext
from gateway.storage.group_commit import GroupCommitter
from gateway.ussd.flow import HopAnswer
from gateway.ussd.memory import LiveSessions

PlaceSearch = Callable[[str, str | None], list[tuple[str, str, str | None]]]  # (typed text, home) -> places


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
    gazetteer: Gazetteer | None = None
    parser: Parser | None = None
    rules_holder: RulesHolder | None = None  # the rules in force, reloaded while the gateway runs
    pseudonym_secret: str = ""  # keys reporters' pseudonyms: a setting or a file, never the database
    ingest: GroupCommitter | None = None
    ussd: GroupCommitter | None = None  # USSD hops (or, sessions in memory, their actions), group-committed
    answer_hop: Callable[[UssdHop], Awaitable[HopAnswer]] | None = None  # through the configured session store
    ussd_live: LiveSessions | None = None  # when USSD sessions are kept in memory
    ingest_ctx: IngestContext | None = None
    sender: OutboxSender | None = None
    redelivery: Redelivery | None = None  # acts on delivery reports of failed SMS
    provider: SmsProvider | Providers | None = None  # injected SMS provider(s) (tests); None: from settings
    ussd_search: PlaceSearch | None = None
    scheduler: AsyncIOScheduler | None = None  # runs the timed jobs
    score_once: Callable[[], Awaitable[int]] | None = None  # one scoring pass (tests and tools call it directly)
    wake_scorer: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def rules(self) -> RuleSet | None:
        """The last good rules."""
        return self.rules_holder.rules if self.rules_holder else None

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

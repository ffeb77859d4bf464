"""The gateway in this process: settings on the test database, an injectable clock, the HTTP server
on loopback, and settle() to finish its background work now."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import Select, func, select

from gateway.app import create_app
from gateway.config import Settings, load_settings
from gateway.runtime import RUNTIME
from gateway.storage.models import Outbox, Report
from tests.support.paths import REPO


class FakeClock:
    """An injectable clock: time moves only when a test says so."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


TEST_SECRETS = {"gateway": {"demo": True, "pseudonym_secret": "test-pseudonym-secret"},
                "dashboard": {"session_secret": "test-session-secret-0123456789"}}


def make_settings(db_url: str, **sections: dict) -> Settings:
    """settings.toml's defaults with the test database, the demo people (an empty database gets the
    demo gazetteer, focal points and committees), test secrets, and per-section overrides."""
    settings = load_settings(REPO / "settings.toml", environ={})
    settings = replace(settings, database=replace(settings.database, url=db_url))
    for section, values in TEST_SECRETS.items():
        settings = replace(settings, **{section: replace(getattr(settings, section), **values)})
    for section, values in sections.items():
        settings = replace(settings, **{section: replace(getattr(settings, section), **values)})
    return settings


class running_gateway:  # noqa: N801 - used like a function: `async with running_gateway(...)`
    def __init__(self, settings: Settings, clock: Callable[[], datetime] | None = None,
                 provider: object = None):
        self._app = create_app(settings, clock=clock or (lambda: datetime.now(UTC)), provider=provider)
        self.client: TestClient | None = None

    async def __aenter__(self) -> TestClient:
        self.client = TestClient(TestServer(self._app))
        await self.client.start_server()
        return self.client

    async def __aexit__(self, *exc_info) -> None:
        await self.client.close()


async def settle(client: TestClient) -> None:
    """Score what was stored, send what was queued and write the USSD sessions kept in memory,
    now, racing the background loops."""
    runtime = client.app[RUNTIME]
    if runtime.ussd_live is not None:
        await runtime.ussd_live.flush()
    # Scoring runs in passes of a few dozen reports, and the gateway's own scorer may hold some
    # (SKIP LOCKED on PostgreSQL): pass until every report is scored.
    for _ in range(200):
        await runtime.score_once()
        if not await count(client, select(func.count()).select_from(Report).where(Report.scored_at.is_(None))):
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("reports left unscored")
    # The gateway's own sender may hold rows it claimed ("sending"): wait for its pass to end too. On
    # PostgreSQL a claim not yet committed still shows its rows queued and due, and SKIP LOCKED hides them
    # from this pass: wait for those as well.
    for _ in range(200):
        while await runtime.sender.send_due():
            pass
        now = runtime.clock()
        left = select(func.count()).select_from(Outbox).where(
            (Outbox.status == "sending") | ((Outbox.status == "queued") & (Outbox.next_attempt_at <= now)
                                            & (Outbox.expires_at.is_(None) | (Outbox.expires_at > now))))
        if not await count(client, left):
            return
        await asyncio.sleep(0.05)
    raise AssertionError("outbox rows left in 'sending' or due")


async def count(client: TestClient, statement: Select) -> int:
    """The one number a SELECT COUNT(...) statement gives, read on the gateway's database."""
    async with client.app[RUNTIME].sessions() as session:
        return int((await session.execute(statement)).scalar_one())

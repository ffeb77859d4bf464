"""USSD sessions kept in the gateway's memory between hops (one gateway process).

A hop that only moves through the menu is answered from memory, so it never waits for the
database's writer. A hop that stores something (a report, a registration, a language, an
acknowledgement) is committed with its session row before it is answered, exactly as with the
database store. Menu positions reach the database in the background every `ussd.flush_seconds`
(analysts' view of abandoned sessions; sessions that outlive a restart): a crash forgets at most
that much menu progress, never a stored report, and the next hop of such a session is a session
that starts mid-way. A session not in memory is read from its row, with the caller's reporter
record and committee membership, once per session.

Several replicas must share sessions through the database (`session_store = "database"`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import Insert, bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.kernel.envelopes import UssdHop
from gateway.storage.dialects import conflict_insert
from gateway.storage.errors import database_unavailable
from gateway.storage.group_commit import GroupCommitter
from gateway.storage.models import UssdSession
from gateway.ussd.session import HopResult, StoredSession

log = logging.getLogger(__name__)
FLUSH_ROWS = 32  # rows per write-behind transaction: short holds of the single SQLite writer
MAX_LIVE = 20_000  # sessions held in memory (a few KB each); the provider keeps far fewer open


@dataclass(frozen=True)
class Caller:
    """What the menu needs to know about the phone; read when the session is loaded."""

    lang: str | None
    status: str | None
    home_pcode: str | None
    is_member: bool


@dataclass(eq=False)
class LiveSession:
    session_id: str
    phone: str
    service_code: str
    started_at: datetime
    updated_at: datetime
    stored: StoredSession | None = None
    hops: int = 0
    ended_at: datetime | None = None
    end_reason: str | None = None
    report_id: int | None = None
    caller: Caller | None = None
    loaded: bool = False
    dirty: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def changes(self, result: HopResult, now: datetime, report_id: int | None = None) -> dict:
        """The fields a hop's result changes (none for a repeated hop that stored nothing)."""
        changes: dict = {}
        if not result.duplicate:
            changes.update(stored=result.stored, hops=self.hops + 1, updated_at=now)
            if result.screen.final and self.end_reason is None:
                changes["end_reason"] = "completed"
        if report_id is not None:
            changes["report_id"] = report_id
        return changes

    def row_after(self, result: HopResult, now: datetime, report_id: int | None = None) -> dict:
        """The session's row once `result` is applied (for the transaction that stores its action)."""
        return replace(self, **self.changes(result, now, report_id)).row()

    def apply(self, result: HopResult, now: datetime, report_id: int | None = None) -> None:
        changes = self.changes(result, now, report_id)
        for name, value in changes.items():
            setattr(self, name, value)
        self.dirty = self.dirty or bool(changes)

    def row(self) -> dict:
        saved = self.stored.to_row() if self.stored else {"last_text": "", "state": {}, "last_screen": ""}
        return {"session_id": self.session_id, "phone": self.phone, "service_code": self.service_code,
                "started_at": self.started_at, "updated_at": self.updated_at, "hops": self.hops,
                "ended_at": self.ended_at, "end_reason": self.end_reason, "report_id": self.report_id, **saved}


SESSIONS_BY_ID = select(UssdSession).where(UssdSession.session_id.in_(bindparam("ids", expanding=True)))


@cache
def _upsert_sessions(dialect: str) -> Insert:
    """Built once per dialect (it costs more to build than to run). A row never goes back to fewer
    hops (a flush of an older snapshot committed after a newer one), and never loses its report or
    its end."""
    table = UssdSession.__table__
    statement = conflict_insert(dialect, table)
    excluded = statement.excluded
    keep = {"report_id", "ended_at", "end_reason"}
    updates = {column.name: excluded[column.name] for column in table.columns
               if column.name != "session_id" and column.name not in keep}
    updates.update({name: func.coalesce(excluded[name], table.c[name]) for name in keep})
    return statement.on_conflict_do_update(index_elements=["session_id"], set_=updates,
                                           where=excluded.hops >= table.c.hops)


async def save_session_rows(session: AsyncSession, rows: list[dict]) -> None:
    """Upsert session rows in one statement."""
    await session.execute(_upsert_sessions(session.bind.dialect.name), rows)


def _encodes(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class LiveSessions:
    """The sessions of this process, written behind to the database."""

    def __init__(self, sessions: async_sessionmaker, read_sessions: async_sessionmaker,
                 load_callers: Callable[[AsyncSession, set[str]], Awaitable[dict[str, Caller]]], flush_seconds: float,
                 idle: timedelta, clock: Callable[[], datetime]) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions
        self._load_callers = load_callers
        self._loader = GroupCommitter(self._load_batch)
        self._flush_seconds = flush_seconds
        self._idle = idle
        self._clock = clock
        self._live: dict[str, LiveSession] = {}
        self._flushing = asyncio.Lock()

    def entry(self, hop: UssdHop, now: datetime) -> LiveSession:
        """The session of this hop, created (not yet loaded) on first sight."""
        live = self._live.get(hop.session_id)
        if live is None:
            live = LiveSession(hop.session_id, hop.phone, hop.service_code, started_at=now, updated_at=now)
            self._live[hop.session_id] = live
        return live

    def ended(self, session_id: str, ended_at: datetime, end_reason: str | None) -> None:
        """The provider ended the session (recorded in its row): later hops see it ended."""
        live = self._live.get(session_id)
        if live is not None:
            live.ended_at, live.end_reason = ended_at, end_reason

    async def load(self, live: LiveSession) -> None:
        """Its stored row, if it has one (a restart, an evicted session), and the caller's facts;
        sessions dialled together are read together."""
        await self._loader.submit(live)
        live.loaded = True

    async def _load_batch(self, batch: list[LiveSession]) -> list[None]:
        async with self._read_sessions() as session:
            rows = {row.session_id: row for row in (await session.execute(
                SESSIONS_BY_ID, {"ids": list({live.session_id for live in batch})})).scalars()}
            for live in batch:
                row = rows.get(live.session_id)
                if row is not None:
                    live.phone, live.service_code, live.started_at = row.phone, row.service_code, row.started_at
                    live.updated_at, live.hops, live.ended_at = row.updated_at, row.hops or 0, row.ended_at
                    live.end_reason, live.report_id = row.end_reason, row.report_id
                    live.stored = StoredSession.from_row(row.last_text, row.state, row.last_screen)
            callers = await self._load_callers(session, {live.phone for live in batch})
        for live in batch:
            live.caller = callers[live.phone]
        return [None] * len(batch)

    async def flush(self) -> int:
        """Write every changed session, in transactions of FLUSH_ROWS rows so that a hop waiting
        for the writer never waits long. When the database is unavailable the sessions stay to be
        written. A row the database refuses is left out, so that one session cannot stop every
        other from being written (and then evicted)."""
        async with self._flushing:
            changed = [live for live in self._live.values() if live.dirty and live.loaded]
            for start in range(0, len(changed), FLUSH_ROWS):
                chunk = changed[start:start + FLUSH_ROWS]
                for live in chunk:
                    live.dirty = False
                rows = [live.row() for live in chunk]  # before any await: a hop may change a session meanwhile
                try:
                    await self._write(rows)
                except BaseException as exc:
                    if not isinstance(exc, Exception) or database_unavailable(exc):
                        for live in changed[start:]:
                            live.dirty = True
                        raise
                    await self._write_one_by_one(chunk, rows, later=changed[start + FLUSH_ROWS:])
            return len(changed)

    async def _write(self, rows: list[dict]) -> None:
        async with self._sessions() as session, session.begin():
            await save_session_rows(session, rows)

    async def _write_one_by_one(self, chunk: list[LiveSession], rows: list[dict], later: list[LiveSession]) -> None:
        """A chunk the database refused: each row alone, to find and leave out the bad ones."""
        for index, (live, row) in enumerate(zip(chunk, rows, strict=True)):
            try:
                await self._write([row])
            except BaseException as exc:
                if not isinstance(exc, Exception) or database_unavailable(exc):
                    for unwritten in chunk[index:] + later:
                        unwritten.dirty = True
                    raise
                # Field names only: a value may be the caller's number, and the error may quote it.
                unusable = sorted(name for name, value in row.items() if isinstance(value, str) and not _encodes(value))
                log.warning("writing USSD sessions failed for session %s: the database refused its row (%s%s); "
                            "it is left out, the others are written", ascii(live.session_id[:40]),
                            type(exc).__name__, f"; not valid UTF-8: {', '.join(unusable)}" if unusable else "")

    def evict_idle(self) -> int:
        """Forget sessions idle longer than `idle` once written (their rows stay), and the least
        recently used beyond MAX_LIVE (a burst of sessions must not grow memory without bound)."""
        cutoff = self._clock() - self._idle
        idle = [live for live in self._live.values() if not live.dirty and not live.lock.locked()]
        gone = [live for live in idle if live.updated_at < cutoff]
        excess = len(self._live) - len(gone) - MAX_LIVE
        if excess > 0:
            gone += sorted((live for live in idle if live.updated_at >= cutoff), key=lambda live: live.updated_at)[:excess]
        for live in gone:
            del self._live[live.session_id]
        return len(gone)

    async def run_forever(self, stopping: asyncio.Event) -> None:
        """Load sessions, and write them behind, until `stopping`; then write what is left."""
        self._loader.start()
        try:
            await self._write_behind(stopping)
        finally:
            await self._loader.stop()

    async def _write_behind(self, stopping: asyncio.Event) -> None:
        while not stopping.is_set():
            try:
                await asyncio.wait_for(stopping.wait(), timeout=self._flush_seconds)
            except TimeoutError:
                pass
            try:
                await self.flush()
                self.evict_idle()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - a database hiccup: the sessions are written next time
                log.warning("writing USSD sessions failed; will retry", exc_info=True)
        try:
            await self.flush()
        except Exception:  # noqa: BLE001 - stopping: the menu positions are lost, never a report
            log.warning("USSD sessions not written at stop", exc_info=True)

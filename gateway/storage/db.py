"""Engine creation: SQLite (WAL, busy timeout) or PostgreSQL (asyncpg)."""

from __future__ import annotations

import sqlite3
from functools import partial
from pathlib import Path

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from gateway.storage import sqlite_driver


class UnsupportedDatabase(RuntimeError):
    """The database library lacks something the gateway's statements need; the message says what."""


def check_sqlite_library() -> None:
    """Ingest writes with RETURNING (SQLite 3.35) and scoring reads its windows with json_each (the
    JSON functions, built in since 3.38 and in most builds before): refuse to start without them
    rather than fail on the first callback."""
    version = sqlite3.sqlite_version_info
    if version < (3, 35):
        raise UnsupportedDatabase(f"SQLite {sqlite3.sqlite_version} is too old: the gateway needs 3.35 or newer")
    probe = sqlite3.connect(":memory:")
    try:
        probe.execute("SELECT value FROM json_each('[1]')").fetchall()
    except sqlite3.OperationalError:
        raise UnsupportedDatabase(f"SQLite {sqlite3.sqlite_version} is built without its JSON functions "
                                  "(json_each): use 3.38 or newer, or a build with JSON1") from None
    finally:
        probe.close()


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def is_sqlite_in_memory(url: str) -> bool:
    path = make_url(url).database
    return is_sqlite(url) and (not path or path == ":memory:" or path.startswith("file::memory:"))


def create_engine(url: str, echo: bool = False, read_only: bool = False) -> AsyncEngine:
    """`read_only`: a SQLite connection of its own for reads that must not queue behind the
    writer (WAL lets it read while the writer writes); PostgreSQL pools many connections anyway.
    Statement parameters (numbers, message texts) never appear in a database error or echo."""
    if is_sqlite(url):
        path = make_url(url).database
        in_memory = is_sqlite_in_memory(url)
        if not in_memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # A file: one connection. SQLite has a single writer, and writers queued on the pool wait in
        # asyncio (first come, first served) instead of sleeping in SQLite's busy handler, whose
        # back-off makes the tail latency of callbacks. In memory
        # SQLAlchemy already shares one connection (StaticPool).
        one_writer = {} if in_memory else {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
        engine = create_async_engine(url, echo=echo, hide_parameters=True, async_creator=partial(
            sqlite_driver.connect, path or ":memory:", timeout=30, uri=bool(path and path.startswith("file:"))),
            **one_writer)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record):
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable under WAL against process crashes (kill -9); FULL adds
            # power-loss durability at a large cost per commit.
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            if read_only:
                cursor.execute("PRAGMA query_only=1")
            cursor.close()

        return engine
    return create_async_engine(url, echo=echo, hide_parameters=True, pool_size=10, max_overflow=10,
                               pool_pre_ping=True)


def session_factory(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(engine, expire_on_commit=False)

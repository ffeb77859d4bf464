"""aiosqlite with one thread hand-off per statement instead of four.

SQLAlchemy's aiosqlite adapter opens a cursor, executes, fetches and closes it, and
aiosqlite sends each of those calls to its SQLite thread and waits for the answer through
the event loop. While the loop is busy with other callbacks, each wait costs up to a loop
iteration and a GIL switch, so a USSD hop of four statements paid for sixteen hand-offs
(measured in BENCHMARKS.md). Here a statement's cursor, execution, rows and close happen
in one call on the SQLite thread; the rows are handed back with it. A commit or rollback
outside a transaction (SQLAlchemy's reset of a connection returned to the pool, the end of
a read-only transaction) is a no-op in SQLite and is skipped without a hand-off.

Everything else (the thread, the queue, connect and close) is aiosqlite's own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import Any, TypeVar

import aiosqlite

Result = TypeVar("Result")


class _Outcome:
    __slots__ = ("description", "rowcount", "lastrowid", "rows", "in_transaction")

    def __init__(self, cursor: sqlite3.Cursor, rows: list, in_transaction: bool) -> None:
        self.description = cursor.description
        self.rowcount = cursor.rowcount
        self.lastrowid = cursor.lastrowid
        self.rows = rows
        self.in_transaction = in_transaction


def _run(connection: sqlite3.Connection, many: bool, operation: str, parameters: Any) -> _Outcome:
    """On the SQLite thread: the whole life of one cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return _Outcome(cursor, rows, connection.in_transaction)
    finally:
        cursor.close()


class StatementCursor:
    """The part of aiosqlite's cursor that SQLAlchemy uses, rows fetched with the execution."""

    arraysize = 1

    def __init__(self, connection: OneHandOffConnection) -> None:
        self._connection = connection
        self._rows: list = []
        self.description: Sequence | None = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    async def __aenter__(self) -> StatementCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def execute(self, operation: str, parameters: Any = ()) -> StatementCursor:
        return await self._send(False, operation, parameters)

    async def executemany(self, operation: str, seq_of_parameters: Iterable[Any]) -> StatementCursor:
        return await self._send(True, operation, list(seq_of_parameters))

    async def _send(self, many: bool, operation: str, parameters: Any) -> StatementCursor:
        outcome = await self._connection.run_statement(many, operation, parameters)
        self.description, self.rowcount, self.lastrowid = outcome.description, outcome.rowcount, outcome.lastrowid
        self._rows = outcome.rows
        return self

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list:
        size = size or self.arraysize
        taken, self._rows = self._rows[:size], self._rows[size:]
        return taken

    async def fetchall(self) -> list:
        rows, self._rows = self._rows, []
        return rows

    async def close(self) -> None:
        self._rows = []

    def __aiter__(self) -> StatementCursor:
        return self

    async def __anext__(self) -> Any:
        if not self._rows:
            raise StopAsyncIteration
        return self._rows.pop(0)


class OneHandOffConnection(aiosqlite.Connection):
    """An aiosqlite connection whose cursors cost one hand-off per statement."""

    _in_transaction = False

    def cursor(self) -> StatementCursor:  # type: ignore[override]
        return StatementCursor(self)

    async def run_statement(self, many: bool, operation: str, parameters: Any) -> _Outcome:
        try:
            outcome = await self._execute(partial(_run, self._conn, many, operation, parameters))
        except BaseException:
            self._in_transaction = True  # unknown after a failure: let commit/rollback reach SQLite
            raise
        self._in_transaction = outcome.in_transaction
        return outcome

    async def run_in_transaction(self, work: Callable[[sqlite3.Connection], Result]) -> Result:
        """`work(connection)` on the SQLite thread, inside the transaction SQLAlchemy has open: several
        statements that need none of SQLAlchemy's processing (the SMS batch's) for one hand-off."""
        def run() -> tuple[Result, bool]:
            return work(self._conn), self._conn.in_transaction

        try:
            result, self._in_transaction = await self._execute(run)
        except BaseException:
            self._in_transaction = True
            raise
        return result

    async def commit(self) -> None:
        if self._in_transaction:
            await self._execute(self._conn.commit)
            self._in_transaction = False

    async def rollback(self) -> None:
        if self._in_transaction:
            await self._execute(self._conn.rollback)
            self._in_transaction = False


def connect(database: str, **kwargs: Any) -> OneHandOffConnection:
    """Like `aiosqlite.connect`: an awaitable connection, its thread a daemon as SQLAlchemy makes it."""
    connection = OneHandOffConnection(partial(sqlite3.connect, database, **kwargs), iter_chunk_size=64)
    connection._thread.daemon = True
    return connection

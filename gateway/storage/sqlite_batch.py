"""The SMS batch's statements on SQLite: all of them on the SQLite thread in two hand-offs.

Through SQLAlchemy each of a batch's six statements costs the event loop more per message than
SQLite itself spends (parameter processing row by row, insertmanyvalues, a greenlet switch and a
hand-off each; BENCHMARKS.md). Here they run in two calls on the
connection SQLAlchemy has open, inside its transaction: one stores the messages and reads what
understanding them needs, one writes what they produced. The writes are compiled once from the
portable path's own SQLAlchemy statements; the two reads take their phones as one JSON list. Other
databases, and SQLite under any other driver, keep the portable path (gateway.sms.ingest); a test
compares what the two store, column by column.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache

from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import ClauseElement

from gateway.storage.models import sqlite_time
from gateway.storage.sqlite_driver import OneHandOffConnection, Result

_NAMED = sqlite.dialect(paramstyle="named")
_TIMES = frozenset({"received_at", "stored_at", "next_attempt_at", "expires_at", "created_at", "at"})
_JSON = frozenset({"parse", "o_parse", "secondary"})

REPORTERS_SQL = ("SELECT id, phone, name, commune_pcode, lang, status FROM reporters "
                 "WHERE phone IN (SELECT value FROM json_each(:phones))")
# the reply limit's count and the newest question still open to an answer, as
# gateway.sms.ingest._REPLIES_SINCE reads them (ix_outbox_recipient_created): the same rows, so a
# number with no question pending costs nothing more
REPLY_COUNTS_SQL = ("SELECT recipient, count(CASE WHEN created_at >= :since THEN 1 END), "
                    "max(CASE WHEN dedup_key LIKE 'ask:%' AND created_at >= :asked_since THEN dedup_key END) "
                    "FROM outbox WHERE recipient IN (SELECT value FROM json_each(:phones)) "
                    "AND kind = 'reply' AND created_at >= min(:since, :asked_since) GROUP BY recipient")
TOUCH_REPORTERS_SQL = "UPDATE reporters SET last_report_at = :at WHERE id = :id"


async def driver_of(session: AsyncSession) -> OneHandOffConnection | None:
    """The session's SQLite connection when it runs through the gateway's driver, else None."""
    if session.bind is None or session.bind.dialect.name != "sqlite":
        return None
    raw = await (await session.connection()).get_raw_connection()
    driver = raw.driver_connection
    return driver if isinstance(driver, OneHandOffConnection) else None


@cache
def compiled_sql(statement: ClauseElement, keys: tuple[str, ...]) -> str:
    """`statement` as SQLite text with :named parameters for exactly `keys` (a column the rows do
    not carry would otherwise be filled with its Python default behind our back)."""
    compiled = statement.compile(dialect=_NAMED, column_keys=list(keys))
    unexpected = set(compiled.params) - set(keys)
    if unexpected:
        raise ValueError(f"rows lack {sorted(unexpected)} for {str(compiled)[:40]}...")
    return str(compiled)


class Bound:
    """Rows' values as SQLite keeps them: times as UtcDateTime's text (each distinct time converted
    once: a batch's rows share most of theirs, and strftime was a tenth of this thread's work), JSON
    as SQLAlchemy's JSON type keeps it."""

    def __init__(self) -> None:
        self._times: dict[datetime, str] = {}

    def _time(self, value: datetime) -> str:
        text = self._times.get(value)
        if text is None:
            text = self._times[value] = sqlite_time(value)
        return text

    def row(self, row: dict) -> dict:
        return {key: (self._time(value) if key in _TIMES and isinstance(value, datetime)
                      else json.dumps(value) if key in _JSON else value) for key, value in row.items()}

    def rows(self, rows: Sequence[dict]) -> list[dict]:
        return [self.row(row) for row in rows]


def _each_returning(cursor: sqlite3.Cursor, sql: str, rows: Sequence[dict]) -> list[tuple | None]:
    """One execution per row (sqlite3's executemany drops RETURNING rows): a prepared statement
    from the connection's cache, so this is a loop in C but for the binding."""
    found = []
    for row in rows:
        cursor.execute(sql, row)
        found.append(cursor.fetchone())
    return found


async def _in_transaction(driver: OneHandOffConnection, work: Callable[[sqlite3.Connection], Result],
                          what: str) -> Result:
    """`work` on the SQLite thread; its errors raised as SQLAlchemy raises the same ones, so callers
    treat them alike (a locked or full database: the callback is answered 503 and retried)."""
    try:
        return await driver.run_in_transaction(work)
    except sqlite3.Error as exc:
        raise DBAPIError.instance(what, None, exc, sqlite3.Error) from exc


async def store_and_look_up(driver: OneHandOffConnection, insert_messages: ClauseElement, messages: list[dict],
                            phones: list[str], since: datetime, asked_since: datetime
                            ) -> tuple[list[int | None], list[tuple], list[tuple]]:
    """The messages inserted (None for a provider id already stored, or twice in the batch), the
    stored reporters of `phones` (id, phone, name, commune, lang, status), and the replies queued
    to each since `since` with the key of the newest question asked since `asked_since`
    (recipient, count, key or None)."""
    sql = compiled_sql(insert_messages, tuple(messages[0]))

    def work(connection: sqlite3.Connection) -> tuple[list[int | None], list[tuple], list[tuple]]:
        cursor = connection.cursor()
        try:
            ids = [row[0] if row else None for row in _each_returning(cursor, sql, Bound().rows(messages))]
            if not phones:
                return ids, [], []
            asked = {"phones": json.dumps(phones), "since": sqlite_time(since), "asked_since": sqlite_time(asked_since)}
            return ids, cursor.execute(REPORTERS_SQL, asked).fetchall(), cursor.execute(REPLY_COUNTS_SQL, asked).fetchall()
        finally:
            cursor.close()

    return await _in_transaction(driver, work, sql)


async def write_batch(driver: OneHandOffConnection, statements: dict[str, ClauseElement], reports: list[dict],
                      replies: list[dict], outcomes: list[dict], touched: list[dict]) -> list[tuple[int, int]]:
    """The batch's reports (their (id, message id) back), replies, message outcomes and the
    reporters' last report times, in one hand-off. `statements`: the portable path's, by table."""
    sql = {name: compiled_sql(statements[name], tuple(rows[0]))
           for name, rows in (("reports", reports), ("replies", replies), ("outcomes", outcomes)) if rows}

    def work(connection: sqlite3.Connection) -> list[tuple[int, int]]:
        cursor = connection.cursor()
        bound = Bound()
        try:
            inserted = _each_returning(cursor, sql["reports"], bound.rows(reports)) if reports else []
            if replies:
                cursor.executemany(sql["replies"], bound.rows(replies))
            if outcomes:
                cursor.executemany(sql["outcomes"], bound.rows(outcomes))
            if touched:
                cursor.executemany(TOUCH_REPORTERS_SQL, bound.rows(touched))
            return [tuple(row) for row in inserted if row]
        finally:
            cursor.close()

    return await _in_transaction(driver, work, "; ".join(sql.values()))

"""A consistent copy of the database while the gateway serves, and putting one back.

SQLite: the online backup API copies every page under one read snapshot (WAL lets the gateway keep
writing meanwhile), so the copy holds every transaction committed before it began. PostgreSQL has
its own tools (pg_dump, pg_restore); for it this module only writes their command line."""

from __future__ import annotations

import os
import shlex
import sqlite3
from contextlib import closing
from pathlib import Path

from sqlalchemy import URL, make_url

from gateway.storage.db import is_sqlite, is_sqlite_in_memory


class BackupError(Exception):
    """A backup or restore refused; the message names the file and the reason."""


def sqlite_path(url: str) -> Path:
    if not is_sqlite(url) or is_sqlite_in_memory(url):
        raise BackupError("the database is not a SQLite file")
    return Path(make_url(url).database)


def backup_sqlite(source: Path, destination: Path) -> int:
    """Copy `source` to `destination` (which must not exist); returns the copy's size in bytes.
    The copy is written beside the destination and renamed, so a failed copy never looks complete."""
    if not source.is_file():
        raise BackupError(f"{source}: no such database file")
    if destination.exists():
        raise BackupError(f"{destination}: already exists (a backup never overwrites a file)")
    partial_copy = destination.with_name(destination.name + ".partial")
    try:
        destination.parent.mkdir(parents=True, exist_ok=True)
        partial_copy.unlink(missing_ok=True)
        partial_copy.touch(mode=0o600)  # it holds every phone number: readable by its owner alone
        with closing(sqlite3.connect(source, timeout=30)) as live, \
                closing(sqlite3.connect(partial_copy)) as copy:
            live.backup(copy)  # all pages in one step: one read snapshot
            # One self-contained file: no -wal beside it to lose in a copy.
            copy.execute("PRAGMA journal_mode=DELETE")
        _check(partial_copy)
        os.replace(partial_copy, destination)
    except (sqlite3.Error, OSError, BackupError) as exc:
        partial_copy.unlink(missing_ok=True)
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"backup of {source} failed: {exc}") from None
    return destination.stat().st_size


def restore_sqlite(backup: Path, target: Path, replace: bool) -> None:
    """Put a backup's content into `target`. Refuses a target that holds a database unless
    `replace` (the gateway must be stopped first: its open connection would keep the old pages)."""
    if not backup.is_file():
        raise BackupError(f"{backup}: no such file")
    _check(backup)
    if target.exists() and target.stat().st_size > 0 and not replace:
        raise BackupError(f"{target}: a database is already there (stop the gateway and add --replace "
                          "to overwrite it)")
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with closing(_read_only(backup)) as source, \
                closing(sqlite3.connect(target, timeout=30)) as live:
            source.backup(live)
    except sqlite3.Error as exc:
        raise BackupError(f"restore into {target} failed: {exc}") from None


def _check(path: Path) -> None:
    """A copy is a SQLite database that passes its integrity check and was made by the gateway."""
    try:
        with closing(_read_only(path)) as connection:
            verdict = connection.execute("PRAGMA quick_check").fetchone()[0]
            has_schema = connection.execute(
                "SELECT count(*) FROM sqlite_master WHERE name = 'alembic_version'").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path}: not a SQLite database ({exc})") from None
    if verdict != "ok":
        raise BackupError(f"{path}: integrity check failed: {verdict[:200]}")
    if not has_schema:
        raise BackupError(f"{path}: not a gateway database (no alembic_version table)")


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True)


def _libpq_url(url: str) -> str:
    """The URL pg_dump understands, without the password (PGPASSWORD or ~/.pgpass carries it)."""
    parsed = make_url(url)
    return URL.create("postgresql", parsed.username, None, parsed.host, parsed.port, parsed.database,
                      parsed.query).render_as_string(hide_password=False)


def pg_dump_command(url: str, path: str) -> str:
    return f"pg_dump --format=custom --file {shlex.quote(path)} {shlex.quote(_libpq_url(url))}"


def pg_restore_command(url: str, path: str) -> str:
    return (f"pg_restore --clean --if-exists --no-owner --dbname {shlex.quote(_libpq_url(url))} "
            f"{shlex.quote(path)}")

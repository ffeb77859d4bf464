"""`ewg serve` refuses, in one line, an SQLite library that lacks what the statements need."""

from __future__ import annotations

import sqlite3

import pytest

from gateway.cli.main import main
from gateway.storage import db
from gateway.storage.db import UnsupportedDatabase, check_sqlite_library
from tests.support.gateway_process import PRODUCTION_SECRETS


def test_this_library_has_what_the_gateway_needs() -> None:
    check_sqlite_library()


def test_a_library_older_than_returning_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 34, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.34.1")
    with pytest.raises(UnsupportedDatabase, match=r"SQLite 3\.34\.1 is too old: the gateway needs 3\.35"):
        check_sqlite_library()


class _NoJson:
    """A connection of a build without the JSON functions."""

    def execute(self, sql: str):
        raise sqlite3.OperationalError("no such table: json_each")

    def close(self) -> None:
        pass


def test_a_library_without_json_functions_is_refused(monkeypatch) -> None:
    monkeypatch.setattr(db.sqlite3, "connect", lambda _path: _NoJson())
    with pytest.raises(UnsupportedDatabase, match=r"built without its JSON functions \(json_each\)"):
        check_sqlite_library()


def test_serve_says_so_in_one_line_without_a_traceback(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("EWG_DATABASE__URL", f"sqlite+aiosqlite:///{tmp_path / 'ewg.db'}")
    for name, value in PRODUCTION_SECRETS.items():  # a start that gets as far as the database
        monkeypatch.setenv(name, value)
    try:
        import uvloop
    except ImportError:
        pass
    else:
        monkeypatch.setattr(uvloop, "install", lambda: None)  # serve's loop policy would outlive this test
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 31, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.31.1")
    assert main(["serve", "--port", "0"]) == 1
    err = capsys.readouterr().err
    assert "ewg: SQLite 3.31.1 is too old" in err and "Traceback" not in err

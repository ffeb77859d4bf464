"""What several commands share: an engine on a current schema, printing rows."""

from __future__ import annotations

import asyncio
import csv
import json
import sys
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.cli.errors import CliError, add_config
from gateway.config import Settings
from gateway.storage.db import create_engine, session_factory
from gateway.storage.migrate import schema_is_current

T = TypeVar("T")


def run_db(settings: Settings, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(sessions)` on a database at the current schema."""

    async def runner() -> T:
        engine = create_engine(settings.database_url)
        try:
            current, detail = await schema_is_current(engine)
            if not current:
                raise CliError(detail)
            return await work(session_factory(engine))
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def in_transaction(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def with_session(sessions) -> T:
        async with sessions() as session, session.begin():
            return await work(session)

    return run_db(settings, with_session)


def existing_file(path: str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise CliError(f"{path}: no such file")
    return file


def write_rows(rows: Iterable[dict], fmt: str, columns: list[str]) -> None:
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (json.dumps(v) if isinstance(v, list | dict) else v) for k, v in row.items()})
    elif fmt == "json":
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, default=str))
    else:
        table = [[_cell(row.get(c)) for c in columns] for row in rows]
        if not table:
            return
        widths = [max(len(c), *(len(line[i]) for line in table)) for i, c in enumerate(columns)]
        for line in [columns, *table]:
            print("  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip())


def _cell(value: Any) -> str:
    """A value as a table shows it: "-" for nothing, a list as comma-separated items."""
    if value is None or value == []:
        return "-"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, ensure_ascii=False, default=str)
    return str(value)


def add_format_flags(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--json", dest="fmt", action="store_const", const="json", help="JSON lines")
    group.add_argument("--csv", dest="fmt", action="store_const", const="csv", help="CSV with a header row")
    parser.set_defaults(fmt="table")


__all__ = ["add_config", "run_db", "in_transaction", "existing_file", "write_rows", "add_format_flags", "CliError"]

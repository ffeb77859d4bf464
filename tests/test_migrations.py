"""Migrations build exactly the models' schema, and the indexes statements rely on are used."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects import sqlite

from gateway.storage.db import create_engine
from gateway.storage.models import Base
from gateway.storage.retention import erase_senders_before


async def test_the_migrated_schema_is_the_models(db_url) -> None:  # noqa: ANN001
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    finally:
        await engine.dispose()
    assert differences == []


def test_retention_reads_only_the_messages_still_carrying_a_number(_sqlite_template, tmp_path) -> None:  # noqa: ANN001
    """The hourly erase is a range of the partial index, not a scan of every message."""
    path = tmp_path / "ewg.db"
    shutil.copy(_sqlite_template, path)
    statement = erase_senders_before(datetime(2026, 1, 1, tzinfo=UTC)).compile(dialect=sqlite.dialect())
    connection = sqlite3.connect(path)
    try:
        plan = connection.execute(f"EXPLAIN QUERY PLAN {statement}",
                                  ["2026-01-01 00:00:00.000000"] * len(statement.positiontup)).fetchall()
    finally:
        connection.close()
    assert [row[-1] for row in plan] == ["SEARCH messages USING INDEX ix_messages_unerased (received_at<?)"]

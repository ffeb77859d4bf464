"""Migrations build exactly the models' schema, and the indexes statements rely on are used."""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects import sqlite

from gateway.storage.db import create_engine
from gateway.storage.models import Base
from gateway.storage.retention import (
    erase_reply_recipients_before,
    erase_reports_before,
    erase_senders_before,
)


async def test_the_migrated_schema_is_the_models(db_url) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), Base.metadata))
    finally:
        await engine.dispose()
    assert differences == []


@pytest.mark.parametrize(("erase", "plan"), [
    # by when the gateway stored the message, not the provider's date
    (erase_senders_before, ["SEARCH messages USING INDEX ix_messages_unerased (stored_at<?)"]),
    (erase_reports_before, ["SEARCH reports USING INDEX sqlite_autoindex_reports_1 (message_id=?)", "LIST SUBQUERY 1",
                            "SEARCH messages USING INDEX ix_messages_unerased (stored_at<?)"]),
    (erase_reply_recipients_before, ["SEARCH outbox USING INDEX ix_outbox_replies_unerased (created_at<?)"]),
])
def test_retention_reads_only_what_still_carries_a_number(_sqlite_template, tmp_path, erase, plan) -> None:
    """The hourly erase is a range of a partial index, not a scan of every row ever stored."""
    path = tmp_path / "ewg.db"
    shutil.copy(_sqlite_template, path)
    statement = erase(datetime(2026, 1, 1, tzinfo=UTC)).compile(dialect=sqlite.dialect(),
                                                                compile_kwargs={"render_postcompile": True})
    connection = sqlite3.connect(path)
    try:
        found = connection.execute(f"EXPLAIN QUERY PLAN {statement}",
                                   ["2026-01-01 00:00:00.000000"] * len(statement.positiontup)).fetchall()
    finally:
        connection.close()
    assert [row[-1] for row in found] == plan

"""The two databases the gateway runs on: which one a session talks to, and an INSERT of that
database's own dialect (SQLAlchemy's portable INSERT cannot say ON CONFLICT)."""

from __future__ import annotations

from sqlalchemy import Insert, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """"postgresql" or "sqlite"."""
    return session.bind.dialect.name if session.bind else "sqlite"


def conflict_insert(dialect: str, table: type | Table) -> Insert:
    """An INSERT into `table` (a model or a table) that can take on_conflict_do_nothing or _do_update."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)

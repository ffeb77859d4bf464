"""Schema migrations (Alembic), driven from `ewg db upgrade` and checked by `ewg serve`."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

from gateway import PROJECT_ROOT

MIGRATIONS_DIR = PROJECT_ROOT / "migrations"


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url)
    return config


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config("")).get_current_head()


def upgrade(url: str, pseudonym_secret_file: Path | None = None) -> None:
    """Apply every pending migration. Runs its own event loop (called from the CLI).
    `pseudonym_secret_file`: where migration 0006 moves a pseudonym key kept in the database
    (default: where the settings in effect say, gateway.storage.secrets.pseudonym_secret_file)."""
    config = alembic_config(url)
    if pseudonym_secret_file is not None:
        config.attributes["pseudonym_secret_file"] = str(pseudonym_secret_file)
    command.upgrade(config, "head")


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as connection:
        return await connection.run_sync(
            lambda sync_conn: MigrationContext.configure(sync_conn).get_current_revision()
        )


async def schema_is_current(engine: AsyncEngine) -> tuple[bool, str]:
    """(ok, detail) — detail names the command that fixes a stale schema."""
    current = await current_revision(engine)
    head = head_revision()
    if current == head:
        return True, f"schema at {head}"
    return False, f"database schema is at {current or 'nothing'}, code expects {head}: run `ewg db upgrade`"

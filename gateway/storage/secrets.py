"""Per-deployment secrets.

The key of reporters' pseudonyms lives outside the database (a setting, or a file only the gateway
reads): with it, a copy of the database would re-identify every reporter by trying the country's
numbers. Values that are not secret from the database itself may still be generated once and kept
there, so replicas agree (`deployment_secret`)."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from sqlalchemy import make_url, select
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.config import ConfigError, Settings
from gateway.storage.dialects import conflict_insert, dialect_of
from gateway.storage.models import DeploymentSecret

SECRET_FILE_NAME = "pseudonym.secret"


def default_secret_file(database_url: str, base_dir: Path) -> Path:
    """Where the pseudonym secret is looked for when no file is configured: next to an SQLite
    database (so it lives and is backed up with the data, also in a container's volume), else in
    var/ of the settings' folder."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).parent / SECRET_FILE_NAME
    return base_dir / "var" / SECRET_FILE_NAME


def pseudonym_secret_file(settings: Settings) -> Path:
    configured = settings.gateway.pseudonym_secret_file
    if configured:
        path = Path(configured)
        return path if path.is_absolute() else settings.base_dir / path
    return default_secret_file(settings.database_url, settings.base_dir)


def load_pseudonym_secret(settings: Settings) -> str | None:
    """gateway.pseudonym_secret, else the secret file's content; None when neither exists (then
    `ewg serve` refuses to start outside demo mode). A configured file that cannot be read, or is
    empty, is a ConfigError naming the setting."""
    if settings.gateway.pseudonym_secret:
        return settings.gateway.pseudonym_secret
    path = pseudonym_secret_file(settings)
    try:
        value = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        if settings.gateway.pseudonym_secret_file:
            raise ConfigError(f"gateway.pseudonym_secret_file: {path} does not exist") from None
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"gateway.pseudonym_secret_file: cannot read {path}: {exc}") from None
    if not value:
        raise ConfigError(f"gateway.pseudonym_secret_file: {path} is empty")
    return value


def write_secret_file(path: Path, value: str) -> None:
    """`value` in a new file readable by its owner only; an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")


async def deployment_secret(session: AsyncSession, name: str) -> str:
    """The value called `name`, created at random the first time (first writer wins)."""
    await session.execute(conflict_insert(dialect_of(session), DeploymentSecret).values(name=name, value=secrets.token_hex(32))
                          .on_conflict_do_nothing(index_elements=["name"]))
    return (await session.execute(select(DeploymentSecret.value).where(DeploymentSecret.name == name))).scalar_one()

"""Per-deployment secrets, generated once and kept in the database so replicas agree."""

from __future__ import annotations

import secrets

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.storage.models import DeploymentSecret

PSEUDONYM_KEY = "pseudonym_key"


async def deployment_secret(session: AsyncSession, name: str) -> str:
    """The secret called `name`, created at random the first time (first writer wins)."""
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    await session.execute(insert(DeploymentSecret).values(name=name, value=secrets.token_hex(32))
                          .on_conflict_do_nothing(index_elements=["name"]))
    return (await session.execute(select(DeploymentSecret.value).where(DeploymentSecret.name == name))).scalar_one()

"""Reference data at start-up: in demo mode, the demo gazetteer and people on an empty database;
then the in-memory gazetteer and the parser built from what is stored."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from gateway.config import Settings
from gateway.demo.install import install_demo_data
from gateway.deployment import DEMO_MARK, RefusedStart
from gateway.parser import load_parser
from gateway.runtime import utc_now
from gateway.storage.gazetteer import is_empty, load_gazetteer
from gateway.storage.models import DeploymentSecret

log = logging.getLogger(__name__)


async def install_demo_data_if_empty(sessions: async_sessionmaker, settings: Settings) -> bool:
    """Demo people on an empty database, which is marked so a production start refuses it."""
    async with sessions() as session, session.begin():
        if not await is_empty(session):
            return False
        await install_demo_data(session, settings)
        session.add(DeploymentSecret(name=DEMO_MARK, value=utc_now().isoformat()))
    log.info("empty database: demo gazetteer and demo people loaded")
    return True


async def holds_demo_people(session: AsyncSession) -> bool:
    found = await session.execute(select(DeploymentSecret.name).where(DeploymentSecret.name == DEMO_MARK))
    return found.first() is not None


async def load_reference_data(sessions: async_sessionmaker, settings: Settings):
    if settings.gateway.demo:
        await install_demo_data_if_empty(sessions, settings)
    async with sessions() as session:
        if not settings.gateway.demo and await holds_demo_people(session):
            raise RefusedStart("this database was filled by demo mode, and its demo people would receive real "
                               "alerts: give production a fresh database (ewg db upgrade on a new file or URL)")
        gazetteer = await load_gazetteer(session)
    if not gazetteer.communes():
        log.warning("the gazetteer is empty: no report can name a place until `ewg gazetteer import` loads one")
    return gazetteer, load_parser(gazetteer, overlay=lexicon_overlay(settings))


def lexicon_overlay(settings: Settings) -> Path:
    """The folder of the words operators accepted (<dir>/<lang>/keywords.local.toml)."""
    path = Path(settings.dashboard.lexicon_overlay_dir)
    return path if path.is_absolute() else settings.base_dir / path

"""Reference data at start-up: the demo gazetteer on an empty database, then the
in-memory gazetteer and the parser built from what is stored."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import async_sessionmaker

from gateway.config import Settings

log = logging.getLogger(__name__)


async def install_demo_data_if_empty(sessions: async_sessionmaker, settings: Settings) -> bool:
    from gateway.demo import install_demo_data
    from gateway.storage.gazetteer import is_empty

    async with sessions() as session, session.begin():
        if not await is_empty(session):
            return False
        await install_demo_data(session, settings)
    log.info("empty database: demo gazetteer and demo people loaded")
    return True


async def load_reference_data(sessions: async_sessionmaker, settings: Settings):  # noqa: ANN201
    from gateway.parser import load_parser
    from gateway.storage.gazetteer import load_gazetteer

    if settings.gateway.demo_data:
        await install_demo_data_if_empty(sessions, settings)
    async with sessions() as session:
        gazetteer = await load_gazetteer(session)
    return gazetteer, load_parser(gazetteer)

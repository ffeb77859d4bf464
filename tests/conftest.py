"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL when
EWG_TEST_POSTGRES_URL is set), settings pointing at it, a fake clock, and a real
gateway HTTP server (aiohttp's TestServer on a loopback port). The helpers live in tests/support/;
its end-to-end and PostgreSQL-replica fixtures are the plugins below."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import asyncpg
import pytest

from gateway.config import Settings
from gateway.storage.migrate import upgrade

# Before tests.support is first imported, so that a failed assert in a helper shows its values as in a test.
pytest.register_assert_rewrite("tests.support")

from tests.support.gateway import FakeClock, make_settings, running_gateway  # noqa: E402 - once pytest rewrites tests.support

pytest_plugins = ["tests.support.end_to_end", "tests.support.replicas"]
POSTGRES_ADMIN_URL = os.environ.get("EWG_TEST_POSTGRES_URL")  # postgresql+asyncpg://.../postgres


def pytest_collection_modifyitems(config, items):
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_configure(config):
    config.addinivalue_line("markers", "db: uses the database (run again on PostgreSQL in CI)")
    config.addinivalue_line("markers", "component_missing(reason): a component CI must have is missing")


def pytest_runtest_setup(item):
    marker = item.get_closest_marker("component_missing")
    if marker is not None:
        pytest.fail(f"CI needs this component: {marker.kwargs['reason']}", pytrace=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- databases -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def _postgres_template() -> str | None:
    if not POSTGRES_ADMIN_URL:
        return None
    name = "ewg_template_" + uuid.uuid4().hex[:8]
    _pg_admin(f'CREATE DATABASE "{name}"')
    upgrade(_pg_url(name))
    return name


def _pg_url(database: str) -> str:
    base, _, _ = POSTGRES_ADMIN_URL.rpartition("/")
    return f"{base}/{database}"


def _pg_admin(statement: str) -> None:
    async def run() -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL.replace("postgresql+asyncpg", "postgresql"))
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    # In a thread of its own: this may be called while a test's event loop runs.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, run()).result()


@pytest.fixture
def db_url(tmp_path, _sqlite_template, _postgres_template) -> str:
    """A freshly migrated, empty database for one test."""
    if _postgres_template:
        name = "ewg_t_" + uuid.uuid4().hex[:10]
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"')
        return _pg_url(name)
    path = tmp_path / "ewg.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def settings(db_url) -> Settings:
    return make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"})


@pytest.fixture
async def gateway(settings, clock):
    """A real gateway HTTP server on loopback, with the fake clock, outbound SMS to the log."""
    async with running_gateway(settings, clock) as client:
        yield client

"""Shared fixtures: a migrated database (SQLite file, or PostgreSQL when
EWG_TEST_POSTGRES_URL is set), settings pointing at it, a fake clock, and a real
gateway HTTP server (aiohttp's TestServer on a loopback port)."""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from gateway.app import create_app
from gateway.config import Settings, load_settings
from gateway.storage.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
POSTGRES_ADMIN_URL = os.environ.get("EWG_TEST_POSTGRES_URL")  # postgresql+asyncpg://.../postgres


def pytest_collection_modifyitems(config, items):  # noqa: ANN001
    for item in items:
        if "db_url" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.db)


def pytest_configure(config):  # noqa: ANN001
    config.addinivalue_line("markers", "db: uses the database (run again on PostgreSQL in CI)")
    config.addinivalue_line("markers", "component_missing(reason): a component CI must have is missing")


def pytest_runtest_setup(item):  # noqa: ANN001
    marker = item.get_closest_marker("component_missing")
    if marker is not None:
        pytest.fail(f"CI needs this component: {marker.kwargs['reason']}", pytrace=False)


needs_shared = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"reference data not found at {SHARED_DATA} (a user's clone has no ../shared)"
)


class FakeClock:
    """An injectable clock: time moves only when a test says so."""

    def __init__(self, start: datetime | None = None):
        self.now = start or datetime(2026, 11, 24, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


# --- databases -----------------------------------------------------------------------

@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:  # noqa: ANN001
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
    import asyncpg

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
def db_url(tmp_path, _sqlite_template, _postgres_template) -> str:  # noqa: ANN001
    """A freshly migrated, empty database for one test."""
    if _postgres_template:
        name = "ewg_t_" + uuid.uuid4().hex[:10]
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{_postgres_template}"')
        return _pg_url(name)
    path = tmp_path / "ewg.db"
    shutil.copy(_sqlite_template, path)
    return f"sqlite+aiosqlite:///{path}"


TEST_SECRETS = {"gateway": {"demo": True, "pseudonym_secret": "test-pseudonym-secret"},
                "dashboard": {"session_secret": "test-session-secret-0123456789"}}


def make_settings(db_url: str, **sections: dict) -> Settings:
    """settings.toml's defaults with the test database, the demo people (an empty database gets the
    demo gazetteer, focal points and committees), test secrets, and per-section overrides."""
    settings = load_settings(REPO / "settings.toml", environ={})
    settings = replace(settings, database=replace(settings.database, url=db_url))
    for section, values in TEST_SECRETS.items():
        settings = replace(settings, **{section: replace(getattr(settings, section), **values)})
    for section, values in sections.items():
        settings = replace(settings, **{section: replace(getattr(settings, section), **values)})
    return settings


@pytest.fixture
def settings(db_url) -> Settings:  # noqa: ANN001
    return make_settings(db_url, callbacks={"token": "s3cret"}, api={"token": "api-token"})


@pytest.fixture
async def gateway(settings, clock):  # noqa: ANN001
    """A real gateway HTTP server on loopback, with the fake clock, outbound SMS to the log."""
    async with running_gateway(settings, clock) as client:
        yield client


class running_gateway:  # noqa: N801 - used like a function: `async with running_gateway(...)`
    def __init__(self, settings: Settings, clock=None, provider=None):  # noqa: ANN001
        self._app = create_app(settings, clock=clock or (lambda: datetime.now(UTC)), provider=provider)
        self.client: TestClient | None = None

    async def __aenter__(self) -> TestClient:
        self.client = TestClient(TestServer(self._app))
        await self.client.start_server()
        return self.client

    async def __aexit__(self, *exc_info) -> None:  # noqa: ANN002
        await self.client.close()

"""The throw-away PostgreSQL helpers: the Python one and the CI script."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import asyncpg
import pytest

from tests.support.components import require
from tests.support.postgres import PostgresUnavailable, create_database, find_bin_dir, start_cluster

REPO_ROOT = Path(__file__).resolve().parents[1]

try:
    find_bin_dir()
    NO_POSTGRES = ""
except PostgresUnavailable as exc:
    NO_POSTGRES = str(exc)

pytestmark = [pytest.mark.postgres, require(not NO_POSTGRES, NO_POSTGRES)]


def plain_dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def fetch_names(url: str) -> list[str]:
    connection = await asyncpg.connect(plain_dsn(url))
    try:
        return [row["name"] for row in await connection.fetch("SELECT name FROM communes ORDER BY name")]
    finally:
        await connection.close()


async def test_cluster_keeps_data_across_stop_restart_and_kill():
    with start_cluster() as cluster:
        url = create_database(cluster, "ewg_support_test")
        assert url == f"postgresql+asyncpg://postgres@127.0.0.1:{cluster.port}/ewg_support_test"
        connection = await asyncpg.connect(plain_dsn(url))
        await connection.execute("CREATE TABLE communes (name text PRIMARY KEY)")
        await connection.execute("INSERT INTO communes VALUES ('Ouallam'), ('Ayorou')")
        await connection.close()

        cluster.stop()
        assert not cluster.is_running()
        with pytest.raises(OSError):
            await asyncpg.connect(plain_dsn(url), timeout=5)

        cluster.restart()
        assert await fetch_names(url) == ["Ayorou", "Ouallam"]

        cluster.kill()
        assert not cluster.is_running()
        cluster.restart()
        assert await fetch_names(url) == ["Ayorou", "Ouallam"]
        root = cluster.root
    assert not root.exists()


async def test_ci_script_prints_a_usable_url_and_stops_the_cluster():
    script = REPO_ROOT / ".ci" / "start-postgres"
    started = subprocess.run([script], capture_output=True, text=True, timeout=120, check=True)
    exports = dict(
        shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in started.stdout.splitlines()
    )
    assert sorted(exports) == ["EWG_TEST_POSTGRES_DIR", "EWG_TEST_POSTGRES_URL"]
    try:
        assert exports["EWG_TEST_POSTGRES_URL"].startswith("postgresql+asyncpg://postgres@127.0.0.1:")
        connection = await asyncpg.connect(plain_dsn(exports["EWG_TEST_POSTGRES_URL"]))
        assert await connection.fetchval("SELECT 40 + 2") == 42
        await connection.close()
    finally:
        subprocess.run([script, "stop", exports["EWG_TEST_POSTGRES_DIR"]], capture_output=True, timeout=60,
                       check=True)
    assert not os.path.exists(exports["EWG_TEST_POSTGRES_DIR"])

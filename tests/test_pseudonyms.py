"""Reporters' pseudonyms are keyed by a secret kept outside the database (gateway.pseudonym_secret, or
a file): stable across restarts and replicas that share it, and a copy of the database alone cannot
match a candidate number to its pseudonym. Migration 0006 moves the key older gateways kept in the
database out to a file, and says where."""

from __future__ import annotations

import sqlite3
import stat
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import MetaData, select

from gateway.config import ConfigError
from gateway.kernel.phones import sender_key
from gateway.runtime import RUNTIME
from gateway.storage.migrate import alembic_config, upgrade
from gateway.storage.models import Report
from gateway.storage.secrets import load_pseudonym_secret
from tests.support.callbacks import send
from tests.support.cli import ewg
from tests.support.gateway import make_settings, running_gateway

REPORTERS = ("+22790000101", "+22791234567")  # a demo focal point, an unknown number


def with_secret(settings, secret: str = "", secret_file: Path | str = ""):
    return replace(settings, gateway=replace(settings.gateway, pseudonym_secret=secret,
                                             pseudonym_secret_file=str(secret_file)))


async def every_stored_value(runtime) -> list[str]:
    """Every value of every row of every table, as text: what a copy of the database holds."""
    metadata = MetaData()
    async with runtime.engine.connect() as connection:
        await connection.run_sync(metadata.reflect)
        values = []
        for table in metadata.sorted_tables:
            for row in await connection.execute(select(table)):
                values += [str(value) for value in row if value is not None]
    return values


@pytest.mark.parametrize("configured", ["file", "nothing"])
async def test_the_database_alone_cannot_match_a_number_to_its_pseudonym(settings, clock, tmp_path,
                                                                         configured) -> None:
    secret_file = tmp_path / "keys" / "pseudonym.secret"
    if configured == "file":
        secret_file.parent.mkdir()
        secret_file.write_text("0f" * 32 + "\n")
        settings = with_secret(settings, secret_file=secret_file)
    else:  # demo mode's throw-away key, which older gateways generated into the database instead
        settings = with_secret(settings)
    async with running_gateway(settings, clock) as client:
        runtime = client.server.app[RUNTIME]
        for phone in REPORTERS:
            await send(client, phone, "ATTAQUE GABI 2")
        secret = runtime.pseudonym_secret
        values = await every_stored_value(runtime)
        async with runtime.sessions() as session:
            stored_keys = set((await session.execute(select(Report.sender_key))).scalars())
    if configured == "file":
        assert secret == "0f" * 32
    assert len(stored_keys) == 2 and {sender_key(phone, secret) for phone in REPORTERS} == stored_keys
    assert len(values) > 100 and all(phone in values for phone in REPORTERS)  # the copy holds the numbers
    assert [value for value in values if secret in value] == [], "a row carries the pseudonym key"
    for candidate in {*values, ""}:
        for phone in REPORTERS:
            assert sender_key(phone, candidate) not in stored_keys, "a value in the database keys the pseudonyms"


async def test_the_same_key_file_keeps_pseudonyms_across_restarts_and_replicas(settings, clock, tmp_path) -> None:
    secret_file = tmp_path / "pseudonym.key"
    secret_file.write_text("shared-by-every-replica\n")
    settings = with_secret(settings, secret_file=secret_file)
    async with running_gateway(settings, clock) as first:
        assert first.server.app[RUNTIME].pseudonym_secret == "shared-by-every-replica"
        await send(first, "+22790000101", "ATTAQUE GABI 2")
    async with running_gateway(settings, clock) as second:  # a restart, or another replica
        await send(second, "+22790000101", "ATTAQUE GABI 3")
        async with second.server.app[RUNTIME].sessions() as session:
            keys = list((await session.execute(select(Report.sender_key))).scalars())
    assert keys == [sender_key("+22790000101", "shared-by-every-replica")] * 2


async def test_a_configured_secret_wins(settings, clock, tmp_path) -> None:
    secret_file = tmp_path / "pseudonym.key"
    secret_file.write_text("from-the-file")
    settings = with_secret(settings, "chosen", secret_file)
    async with running_gateway(settings, clock) as client:
        assert client.server.app[RUNTIME].pseudonym_secret == "chosen"


def test_the_secret_is_the_setting_else_the_file_else_none(tmp_path) -> None:
    settings = with_secret(make_settings(f"sqlite+aiosqlite:///{tmp_path}/ewg.db"))
    assert load_pseudonym_secret(settings) is None  # `ewg serve` refuses to start outside demo mode
    (tmp_path / "pseudonym.secret").write_text("next-to-the-database\n")  # where migration 0006 writes it
    assert load_pseudonym_secret(settings) == "next-to-the-database"
    assert load_pseudonym_secret(with_secret(settings, "set")) == "set"
    with pytest.raises(ConfigError, match="gateway.pseudonym_secret_file: .*missing.secret does not exist"):
        load_pseudonym_secret(with_secret(settings, secret_file=tmp_path / "missing.secret"))
    (tmp_path / "empty.secret").write_text("\n")
    with pytest.raises(ConfigError, match="gateway.pseudonym_secret_file: .* is empty"):
        load_pseudonym_secret(with_secret(settings, secret_file=tmp_path / "empty.secret"))


# --- migration 0006 ----------------------------------------------------------------------

def database_at_0005(path: Path, key: str) -> str:
    """An SQLite database as an older gateway left it: its pseudonym key in deployment_secrets."""
    url = f"sqlite+aiosqlite:///{path}"
    command.upgrade(alembic_config(url), "0005")
    with sqlite3.connect(path) as connection:
        connection.execute("INSERT INTO deployment_secrets (name, value) VALUES ('pseudonym_key', ?)", [key])
    return url


def stored_key(path: Path) -> list[str]:
    with sqlite3.connect(path) as connection:
        return [value for (value,) in connection.execute(
            "SELECT value FROM deployment_secrets WHERE name = 'pseudonym_key'")]


@pytest.fixture
def plain_environment(monkeypatch) -> None:
    for name in ("EWG_CONFIG", "EWG_GATEWAY__PSEUDONYM_SECRET_FILE", "EWG_GATEWAY__PSEUDONYM_SECRET"):
        monkeypatch.delenv(name, raising=False)


def test_migration_moves_the_key_out_of_the_database_and_says_where(tmp_path, capsys, plain_environment) -> None:
    key = "ab" * 32
    url = database_at_0005(tmp_path / "ewg.db", key)
    upgrade(url)
    secret_file = tmp_path / "pseudonym.secret"
    assert secret_file.read_text().strip() == key
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    assert stored_key(tmp_path / "ewg.db") == []
    said = capsys.readouterr().out
    assert str(secret_file) in said and "EWG_GATEWAY__PSEUDONYM_SECRET_FILE" in said and key not in said
    # The gateway finds it there by itself, so pseudonyms stay what they were.
    assert load_pseudonym_secret(with_secret(make_settings(url))) == key

    command.downgrade(alembic_config(url), "0005")  # a downgrade puts it back
    assert stored_key(tmp_path / "ewg.db") == [key]


def test_migration_writes_the_key_where_it_is_told(tmp_path, plain_environment) -> None:
    url = database_at_0005(tmp_path / "ewg.db", "cd" * 32)
    upgrade(url, pseudonym_secret_file=tmp_path / "secrets" / "pseudonym")
    assert (tmp_path / "secrets" / "pseudonym").read_text().strip() == "cd" * 32
    assert not (tmp_path / "pseudonym.secret").exists()
    assert stored_key(tmp_path / "ewg.db") == []


def test_migration_never_overwrites_another_secret(tmp_path, plain_environment) -> None:
    url = database_at_0005(tmp_path / "ewg.db", "ef" * 32)
    (tmp_path / "pseudonym.secret").write_text("another deployment's key\n")
    with pytest.raises(RuntimeError, match="holds another secret"):
        upgrade(url)
    assert (tmp_path / "pseudonym.secret").read_text() == "another deployment's key\n"
    assert stored_key(tmp_path / "ewg.db") == ["ef" * 32], "the key stays in the database until it is moved"


def test_ewg_db_upgrade_moves_the_key_where_its_settings_say(tmp_path) -> None:
    database_at_0005(tmp_path / "ewg.db", "01" * 32)
    config = tmp_path / "settings.toml"
    config.write_text('[database]\nurl = "sqlite+aiosqlite:///ewg.db"\n\n'
                      '[gateway]\npseudonym_secret_file = "keys/pseudonym"\n')
    result = ewg("db", "upgrade", "--config", str(config))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "keys" / "pseudonym").read_text().strip() == "01" * 32
    assert str(tmp_path / "keys" / "pseudonym") in result.stdout + result.stderr
    assert stored_key(tmp_path / "ewg.db") == []

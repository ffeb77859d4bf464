"""`ewg backup` under load and `ewg restore` on a copy: every report answered before the backup began
is in the restored database, which passes `ewg db upgrade`; the backup is in the audit trail."""

from __future__ import annotations

import asyncio
import itertools
import json
import shutil
import sqlite3
import stat
import subprocess
from contextlib import closing

from tests.support.callbacks import FORM, TOKEN, sms
from tests.support.cli import ewg
from tests.support.gateway import make_settings, running_gateway

SENDERS = ("+22790000101", "+22790000102", "+22790000103")


def test_a_backup_under_load_restores_every_answered_report(tmp_path, _sqlite_template) -> None:
    live = tmp_path / "live.db"
    shutil.copy(_sqlite_template, live)
    live_url = f"sqlite+aiosqlite:///{live}"
    copy = tmp_path / "backups" / "ewg-backup.db"  # its folder is made
    answered: list[str] = []

    async def callbacks(client, stop: asyncio.Event, lane: int) -> None:
        for n in itertools.count():
            if stop.is_set():
                return
            message_id = f"ATXid_b{lane}_{n}"
            response = await client.post("/callbacks/at/sms" + TOKEN, headers=FORM, data=sms(**{
                "from": SENDERS[lane], "text": f"ATTAQUE GABI {n % 40 + 1}", "id": message_id}))
            if response.status == 200:
                answered.append(message_id)

    async def under_load() -> tuple[set[str], subprocess.CompletedProcess]:
        async with running_gateway(make_settings(live_url, callbacks={"token": "s3cret"})) as client:
            stop = asyncio.Event()
            lanes = [asyncio.create_task(callbacks(client, stop, lane)) for lane in range(len(SENDERS))]
            while len(answered) < 30:
                await asyncio.sleep(0.02)
            before = set(answered)  # answered before the backup began
            result = await asyncio.to_thread(ewg, "backup", str(copy), db_url=live_url)
            await asyncio.sleep(0.2)  # still serving after the copy
            stop.set()
            await asyncio.gather(*lanes)
            return before, result

    before, backup = asyncio.run(under_load())
    assert backup.returncode == 0, backup.stderr
    assert f"backup written to {copy}" in backup.stdout
    assert len(answered) > len(before), "callbacks went on being answered while the backup ran"

    restored_url = f"sqlite+aiosqlite:///{tmp_path / 'restored' / 'ewg.db'}"
    restore = ewg("restore", str(copy), db_url=restored_url)
    assert restore.returncode == 0, restore.stderr
    upgrade = ewg("db", "upgrade", db_url=restored_url)
    assert upgrade.returncode == 0, upgrade.stderr
    exported = ewg("reports", "--json", db_url=restored_url)
    assert exported.returncode == 0, exported.stderr
    restored_ids = {json.loads(line)["external_id"] for line in exported.stdout.splitlines()}
    assert before <= restored_ids, f"missing after restore: {sorted(before - restored_ids)[:5]}"
    with sqlite3.connect(live) as connection:
        audit = connection.execute("SELECT actor, action, target, address FROM audit_log").fetchall()
    assert [(actor.startswith("cli"), action, target, address) for actor, action, target, address in audit] == [
        (True, "backup", str(copy), "local")]


def test_a_backup_holds_what_is_still_in_the_write_ahead_log(tmp_path, _sqlite_template) -> None:
    live = tmp_path / "live.db"
    shutil.copy(_sqlite_template, live)
    writer = sqlite3.connect(live)
    try:
        writer.execute("PRAGMA journal_mode=WAL")
        writer.execute("PRAGMA wal_autocheckpoint=0")  # as a busy gateway between checkpoints
        with writer:
            writer.execute("INSERT INTO audit_log (at, actor, action, target) "
                           "VALUES ('2026-11-24 12:00:00', 'someone', 'note', 'only in the WAL')")
        copy = tmp_path / "copy.db"
        result = ewg("backup", str(copy), db_url=f"sqlite+aiosqlite:///{live}")
        assert result.returncode == 0, result.stderr
    finally:
        writer.close()
    with closing(sqlite3.connect(copy)) as connection:
        assert connection.execute("SELECT target FROM audit_log WHERE actor = 'someone'").fetchall() == [
            ("only in the WAL",)]
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600, "a backup holds every phone number"


def test_backup_and_restore_refuse_to_overwrite(tmp_path, _sqlite_template) -> None:
    live = tmp_path / "live.db"
    shutil.copy(_sqlite_template, live)
    live_url = f"sqlite+aiosqlite:///{live}"
    copy = tmp_path / "copy.db"
    copy.write_text("precious")
    refused = ewg("backup", str(copy), db_url=live_url)
    assert refused.returncode == 1 and "already exists" in refused.stderr and copy.read_text() == "precious"
    copy.unlink()
    assert ewg("backup", str(copy), db_url=live_url).returncode == 0
    kept = ewg("restore", str(copy), db_url=live_url)
    assert kept.returncode == 1 and "a database is already there" in kept.stderr and "--replace" in kept.stderr
    assert ewg("restore", "--replace", str(copy), db_url=live_url).returncode == 0
    junk = tmp_path / "junk.db"
    junk.write_text("not a database at all, but long enough to look like a file " * 20)
    bad = ewg("restore", str(junk), db_url=f"sqlite+aiosqlite:///{tmp_path / 'new.db'}")
    assert bad.returncode == 1 and f"{junk}: not a SQLite database" in bad.stderr and "Traceback" not in bad.stderr


def test_on_postgresql_backup_prints_the_pg_dump_command_without_the_password() -> None:
    url = "postgresql+asyncpg://ewg:hunter2@db.example:5432/ewg"
    result = ewg("backup", "/var/backups/ewg.dump", db_url=url)
    assert result.returncode == 1 and "pg_dump command above" in result.stderr
    assert result.stdout.strip() == ("pg_dump --format=custom --file /var/backups/ewg.dump "
                                     "postgresql://ewg@db.example:5432/ewg")
    restore = ewg("restore", "/var/backups/ewg.dump", db_url=url)
    assert restore.stdout.strip() == ("pg_restore --clean --if-exists --no-owner "
                                      "--dbname postgresql://ewg@db.example:5432/ewg /var/backups/ewg.dump")
    assert "hunter2" not in result.stdout + result.stderr + restore.stdout + restore.stderr

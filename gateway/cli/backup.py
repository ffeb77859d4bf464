"""`ewg backup PATH` and `ewg restore PATH`: a consistent copy while the gateway serves, and back."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.cli.common import add_config
from gateway.cli.errors import CliError
from gateway.cli.tokens import actor
from gateway.dashboard.audit import record
from gateway.runtime import utc_now
from gateway.storage.backup import (
    BackupError,
    backup_sqlite,
    pg_dump_command,
    pg_restore_command,
    restore_sqlite,
    sqlite_path,
)
from gateway.storage.db import create_engine, is_sqlite, session_factory
from gateway.storage.migrate import schema_is_current


def register(sub) -> None:  # noqa: ANN001
    backup = sub.add_parser("backup", help="copy the database while the gateway serves (SQLite; on "
                                           "PostgreSQL prints the pg_dump command)")
    add_config(backup)
    backup.add_argument("path", help="the copy to write (a new file; never overwritten)")
    backup.set_defaults(handler=run_backup)
    restore = sub.add_parser("restore", help="put a backup into the configured database (then `ewg db upgrade`)")
    add_config(restore)
    restore.add_argument("path", help="a file written by `ewg backup`")
    restore.add_argument("--replace", action="store_true",
                         help="overwrite a database already there (stop the gateway first)")
    restore.set_defaults(handler=run_restore)


def run_backup(args, settings) -> int:  # noqa: ANN001
    url = settings.database_url
    if not is_sqlite(url):
        print(pg_dump_command(url, args.path))
        raise CliError("backup copies SQLite databases; on PostgreSQL run the pg_dump command above "
                       "(the password from PGPASSWORD or ~/.pgpass)")
    try:
        size = backup_sqlite(sqlite_path(url), Path(args.path))
    except BackupError as exc:
        raise CliError(str(exc)) from None
    audited = asyncio.run(_audit(url, args.path, f"{size} bytes"))
    print(f"backup written to {args.path} ({size} bytes)" + ("" if audited else
          "; no audit row: the schema is not current (run `ewg db upgrade`)"))
    return 0


def run_restore(args, settings) -> int:  # noqa: ANN001
    url = settings.database_url
    if not is_sqlite(url):
        print(pg_restore_command(url, args.path))
        raise CliError("restore writes SQLite databases; on PostgreSQL run the pg_restore command above")
    try:
        target = sqlite_path(url)
        restore_sqlite(Path(args.path), target, args.replace)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(f"restored {args.path} into {target}; now run `ewg db upgrade`")
    return 0


async def _audit(url: str, path: str, detail: str) -> bool:
    """The backup as a row of the live database's audit trail, made by the person at the terminal."""
    engine = create_engine(url)
    try:
        if not (await schema_is_current(engine))[0]:
            return False
        async with session_factory(engine)() as session, session.begin():
            await record(session, utc_now(), actor(), "backup", path, detail, "local")
        return True
    finally:
        await engine.dispose()

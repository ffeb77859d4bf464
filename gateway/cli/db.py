"""`ewg db upgrade`: apply migrations."""

from pathlib import Path

from gateway.cli.common import add_config
from gateway.storage.db import is_sqlite
from gateway.storage.migrate import upgrade
from gateway.storage.secrets import pseudonym_secret_file


def register(sub) -> None:
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True)
    up = db_sub.add_parser("upgrade", help="apply migrations (Alembic)")
    add_config(up)
    up.set_defaults(handler=run_upgrade)


def run_upgrade(args, settings) -> int:
    url = settings.database_url
    if is_sqlite(url):
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
    upgrade(url, pseudonym_secret_file(settings))  # where 0006 moves a pseudonym key kept in the database
    print("database schema is current")
    return 0

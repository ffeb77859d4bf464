"""retention counted from when the gateway stored a message; the pseudonym key out of the database

Retention erased numbers by the provider's date (`received_at`), which a delayed or hostile callback
sets; it now ranges over `stored_at`, so ix_messages_unerased is rebuilt on that column. Retention
now also erases texts, parses and free text: messages it anonymised before are completed here.

The key of reporters' pseudonyms was generated into `deployment_secrets`, so a copy of the database
re-identified reporters by trying every number. It is written to a file readable by its owner only
(gateway.pseudonym_secret_file, by default pseudonym.secret next to an SQLite database, else var/)
and its row deleted; the migration says where it went.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""
import logging
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

from gateway.config import ConfigError, Settings, load_settings
from gateway.storage.secrets import pseudonym_secret_file, write_secret_file

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger(__name__)

UNERASED = sa.text("sender IS NOT NULL")
PSEUDONYM_KEY = "pseudonym_key"  # the row older gateways kept the key in
ERASED = "-"  # as gateway.storage.models has it


def upgrade() -> None:
    op.drop_index("ix_messages_unerased", table_name="messages")
    op.create_index("ix_messages_unerased", "messages", ["stored_at"], sqlite_where=UNERASED,
                    postgresql_where=UNERASED)
    op.execute("UPDATE reports SET free_text = NULL, reporter_id = NULL "
               "WHERE message_id IN (SELECT id FROM messages WHERE sender IS NULL)")
    op.execute("UPDATE messages SET text = '', parse = '{}', link_id = NULL, error = NULL WHERE sender IS NULL")
    op.execute(f"UPDATE outbox SET body = '' WHERE kind = 'reply' AND recipient = '{ERASED}'")
    op.execute(f"UPDATE ussd_sessions SET last_text = '' WHERE phone = '{ERASED}'")
    _move_pseudonym_key_out()


def downgrade() -> None:
    """The key goes back into the database only if its file is still where this migration wrote it."""
    path = _key_file()
    if path.is_file():
        op.execute(sa.text("INSERT INTO deployment_secrets (name, value) VALUES (:name, :value)")
                   .bindparams(name=PSEUDONYM_KEY, value=path.read_text(encoding="utf-8").strip()))
    op.drop_index("ix_messages_unerased", table_name="messages")
    op.create_index("ix_messages_unerased", "messages", ["received_at"], sqlite_where=UNERASED,
                    postgresql_where=UNERASED)


def _key_file() -> Path:
    """The file the runtime reads (gateway.storage.secrets.load_pseudonym_secret): `ewg db upgrade`
    may name it; else the settings in effect (EWG_CONFIG, environment), with this database."""
    given = context.config.attributes.get("pseudonym_secret_file")
    if given:
        return Path(given)
    try:
        settings = load_settings()
    except ConfigError:
        settings = Settings()
    url = op.get_bind().engine.url.render_as_string(hide_password=True)
    return pseudonym_secret_file(replace(settings, database=replace(settings.database, url=url)))


def _move_pseudonym_key_out() -> None:
    bind = op.get_bind()
    key = bind.execute(sa.text("SELECT value FROM deployment_secrets WHERE name = :name"),
                       {"name": PSEUDONYM_KEY}).scalar_one_or_none()
    if key is None:
        return
    path = _key_file()
    if path.exists():
        if path.read_text(encoding="utf-8").strip() != key:
            raise RuntimeError(f"{path} exists and holds another secret than the database's pseudonym key; "
                               "move it away and run the upgrade again (the key stays in the database until then)")
    else:
        write_secret_file(path, key)
    bind.execute(sa.text("DELETE FROM deployment_secrets WHERE name = :name"), {"name": PSEUDONYM_KEY})
    notice = (f"the pseudonym key moved out of the database into {path} (mode 0600). Keep it with the "
              "database's backups, give every replica the same key, and point the gateway at it: "
              f"gateway.pseudonym_secret_file = \"{path}\" (EWG_GATEWAY__PSEUDONYM_SECRET_FILE={path}), "
              "or EWG_GATEWAY__PSEUDONYM_SECRET=<its content>")
    log.warning("%s", notice)
    print(notice)

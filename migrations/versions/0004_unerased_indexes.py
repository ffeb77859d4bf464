"""messages and replies still carrying a number indexed by age; the unused index by sender dropped

The retention job (`gateway.storage.retention`) erases the numbers of messages and replies older than
the retention period every hour. It read every message still carrying a number (through an index by
sender, whose key also cost every inserted message a random page of it; no query looks messages up by
sender) and scanned the whole outbox.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

UNERASED = sa.text("sender IS NOT NULL")
REPLIES_UNERASED = sa.text("kind = 'reply' AND recipient != '-'")  # as gateway.storage.models has it


def upgrade() -> None:
    op.drop_index("ix_messages_sender_received", table_name="messages")
    op.create_index("ix_messages_unerased", "messages", ["received_at"], sqlite_where=UNERASED,
                    postgresql_where=UNERASED)
    op.create_index("ix_outbox_replies_unerased", "outbox", ["created_at"], sqlite_where=REPLIES_UNERASED,
                    postgresql_where=REPLIES_UNERASED)


def downgrade() -> None:
    op.drop_index("ix_outbox_replies_unerased", table_name="outbox")
    op.drop_index("ix_messages_unerased", table_name="messages")
    op.create_index("ix_messages_sender_received", "messages", ["sender", "received_at"])

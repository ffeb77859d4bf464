"""messages still carrying a number indexed by age, in place of the unused index by sender

The retention job (`gateway.storage.retention`) erases the numbers of messages older than the
retention period every hour. With only an index by (sender, received_at) it read every message
still carrying a number, each run, and the sender key cost every inserted message a random page of
that index. No query looks messages up by sender.

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


def upgrade() -> None:
    op.drop_index("ix_messages_sender_received", table_name="messages")
    op.create_index("ix_messages_unerased", "messages", ["received_at"], sqlite_where=UNERASED,
                    postgresql_where=UNERASED)


def downgrade() -> None:
    op.drop_index("ix_messages_unerased", table_name="messages")
    op.create_index("ix_messages_sender_received", "messages", ["sender", "received_at"])

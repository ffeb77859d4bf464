"""SMS providers: which provider carried each message and sent each SMS

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("provider", sa.String(16), nullable=True))
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("provider", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("provider")
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("provider")

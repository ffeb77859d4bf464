"""broadcasts and SMS cost: broadcasts from the dashboard, what each SMS cost, spend per day and provider

A broadcast is one row with its text per language, its recipients' count, its estimated cost and
who wrote and approved it; each of its SMS is an outbox row naming it (delivery tracking). Each
outbox row keeps what sending it cost in the budget's currency, and sms_spend adds it up per day
and provider as results are recorded.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("area_pcode", sa.String(length=16), nullable=False),
        sa.Column("audience", sa.String(length=16), nullable=False),
        sa.Column("texts", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("estimated_cost", sa.Float(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("created_by", sa.String(length=80), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("approved_by", sa.String(length=80), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_by", sa.String(length=80), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["area_pcode"], ["admin_units.pcode"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_broadcasts_status", "broadcasts", ["status"])
    op.create_table(
        "sms_spend",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("sms", sa.Integer(), nullable=False),
        sa.Column("segments", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "provider"),
    )
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("broadcast_id", BigId, nullable=True))
        batch.add_column(sa.Column("spend", sa.Float(), nullable=True))
    op.create_index("ix_outbox_broadcast_id", "outbox", ["broadcast_id"])


def downgrade() -> None:
    op.drop_index("ix_outbox_broadcast_id", "outbox")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("spend")
        batch.drop_column("broadcast_id")
    op.drop_table("sms_spend")
    op.drop_index("ix_broadcasts_status", "broadcasts")
    op.drop_table("broadcasts")

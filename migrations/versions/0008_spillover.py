"""spillover: warnings to neighbouring communes, across the border too

Communes' neighbours (imported, or computed across a border from coordinates at import), further
reference points of a commune (Mali's centroid beside its inner point), the neighbouring communes
each alert spilled over to, and every decision to warn their committees.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("admin_units") as batch:
        batch.add_column(sa.Column("ref_points", sa.JSON(), nullable=True))
    op.create_table(
        "commune_adjacency",
        sa.Column("commune_pcode", sa.String(16), nullable=False),
        sa.Column("neighbour_pcode", sa.String(16), nullable=False),
        sa.Column("source", sa.String(10), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("commune_pcode", "neighbour_pcode"),
    )
    op.create_table(
        "spillovers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("commune_pcode", sa.String(16), nullable=False),
        sa.Column("ring", sa.Integer(), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", BigId, nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["acknowledged_by"], ["committee_members.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("alert_id", "commune_pcode", name="uq_spillover_commune"),
    )
    op.create_index("ix_spillovers_commune_pcode", "spillovers", ["commune_pcode"])
    op.create_table(
        "spillover_notifications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("commune_pcode", sa.String(16), nullable=False),
        sa.Column("member_id", BigId, nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("outbox_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["committee_members.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_spillover_notifications_sent", "spillover_notifications",
                    ["alert_id", "decision", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_spillover_notifications_sent", table_name="spillover_notifications")
    op.drop_table("spillover_notifications")
    op.drop_index("ix_spillovers_commune_pcode", table_name="spillovers")
    op.drop_table("spillovers")
    op.drop_table("commune_adjacency")
    with op.batch_alter_table("admin_units") as batch:
        batch.drop_column("ref_points")

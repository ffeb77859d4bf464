"""partner spillover: CAP messages owed to partner gateways, and those received from them

A deployment warns a partner gateway (another country's) of its alerts' neighbours in the partner's
area with CAP 1.2 messages retried until delivered or expired; it keeps every CAP message a partner
sent (the identifier is the dedup key) and every decision to warn its own committees of it.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Moment = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "partner_deliveries",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("dedup_key", sa.String(120), nullable=False),
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("msg_type", sa.String(8), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Moment, nullable=False),
        sa.Column("expires_at", Moment, nullable=True),
        sa.Column("claimed_until", Moment, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.Column("sent_at", Moment, nullable=True),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("dedup_key"),
    )
    op.create_index("ix_partner_deliveries_due", "partner_deliveries", ["status", "next_attempt_at"])
    op.create_index("ix_partner_deliveries_alert_id", "partner_deliveries", ["alert_id"])
    op.create_table(
        "cap_inbound",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("identifier", sa.String(255), nullable=False),
        sa.Column("partner", sa.String(40), nullable=False),
        sa.Column("sender", sa.String(255), nullable=False),
        sa.Column("msg_type", sa.String(8), nullable=False),
        sa.Column("incident_key", sa.String(255), nullable=False),
        sa.Column("code", sa.String(16), nullable=False),
        sa.Column("incident", sa.String(32), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("home_pcode", sa.String(16), nullable=False),
        sa.Column("place", sa.String(80), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("communes", sa.JSON(), nullable=False),
        sa.Column("received_at", Moment, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("identifier"),
    )
    op.create_index("ix_cap_inbound_incident_key", "cap_inbound", ["incident_key"])
    op.create_table(
        "cap_inbound_notifications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("inbound_id", BigId, nullable=False),
        sa.Column("incident_key", sa.String(255), nullable=False),
        sa.Column("commune_pcode", sa.String(16), nullable=False),
        sa.Column("member_id", BigId, nullable=True),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("decision", sa.String(10), nullable=False),
        sa.Column("reason", sa.String(60), nullable=False),
        sa.Column("outbox_id", BigId, nullable=True),
        sa.Column("created_at", Moment, nullable=False),
        sa.ForeignKeyConstraint(["inbound_id"], ["cap_inbound.id"]),
        sa.ForeignKeyConstraint(["member_id"], ["committee_members.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_cap_inbound_notifications_sent", "cap_inbound_notifications",
                    ["incident_key", "decision", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_cap_inbound_notifications_sent", table_name="cap_inbound_notifications")
    op.drop_table("cap_inbound_notifications")
    op.drop_index("ix_cap_inbound_incident_key", table_name="cap_inbound")
    op.drop_table("cap_inbound")
    op.drop_index("ix_partner_deliveries_alert_id", table_name="partner_deliveries")
    op.drop_index("ix_partner_deliveries_due", table_name="partner_deliveries")
    op.drop_table("partner_deliveries")

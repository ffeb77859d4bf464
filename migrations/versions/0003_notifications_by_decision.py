"""notifications indexed by alert, decision and member

The notification pipeline asks, at every report on a standing alert, which members were already sent
which level (`alerts.store.sent_levels`); with only `alert_id` indexed that read every withheld decision
ever recorded for the alert, a cost that grew with the alert's reports.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_notifications_sent", "notifications", ["alert_id", "decision", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_notifications_sent", table_name="notifications")

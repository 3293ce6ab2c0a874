"""remember handled Events API deliveries, so Slack's retries do nothing twice

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "seen_event",
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("seen_at", storage.tables.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index("ix_seen_event_seen_at", "seen_event", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_event_seen_at", table_name="seen_event")
    op.drop_table("seen_event")

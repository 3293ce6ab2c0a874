"""access reviews: campaigns, and the holdings each one reviews with their decisions

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-14
"""
import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_campaign",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("started_at", storage.tables.UTCDateTime(), nullable=False),
        sa.Column("due_at", storage.tables.UTCDateTime(), nullable=False),
        sa.Column("closed_at", storage.tables.UTCDateTime(), nullable=True),
        sa.Column("on_no_decision", sa.String(length=16), nullable=False),
        sa.Column("escalated_at", storage.tables.UTCDateTime(), nullable=True),
        sa.Column("reminded_at", storage.tables.UTCDateTime(), nullable=True),
        sa.Column("open_name", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_campaign_name", "review_campaign", ["name"])
    # A unique index, not a constraint: SQLite and PostgreSQL then show the same schema.
    op.create_index("ix_review_campaign_open_name", "review_campaign", ["open_name"], unique=True)
    op.create_table(
        "review_item",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("campaign_id", sa.String(length=32), nullable=False),
        sa.Column("connector_id", sa.String(length=64), nullable=False),
        sa.Column("entitlement_id", sa.String(length=512), nullable=False),
        sa.Column("entitlement_name", sa.String(length=512), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("holder_email", sa.String(length=320), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("reviewer", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", storage.tables.UTCDateTime(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("just_in_time", sa.Boolean(), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["review_campaign.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_review_item_reviewer", "review_item", ["campaign_id", "reviewer", "decision"])


def downgrade() -> None:
    op.drop_index("ix_review_item_reviewer", table_name="review_item")
    op.drop_table("review_item")
    op.drop_index("ix_review_campaign_open_name", table_name="review_campaign")
    op.drop_index("ix_review_campaign_name", table_name="review_campaign")
    op.drop_table("review_campaign")

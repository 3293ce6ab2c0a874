"""slot baselines: the level an account held in a single-valued slot before Latchkey's first grant

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""
import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "slot_baseline",
        sa.Column("connector_id", sa.String(length=64), nullable=False),
        sa.Column("slot", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=255), nullable=False),
        sa.Column("level", sa.String(length=255), nullable=True),
        sa.PrimaryKeyConstraint("connector_id", "slot", "account_id"),
    )


def downgrade() -> None:
    op.drop_table("slot_baseline")

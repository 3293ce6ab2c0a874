"""slot baselines (the level an account held in a single-valued slot before Latchkey's first
grant); holdings marked direct or only through a group

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
    with op.batch_alter_table("catalog_holding") as batch_op:
        batch_op.add_column(sa.Column("direct", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("catalog_holding") as batch_op:
        batch_op.drop_column("direct")
    op.drop_table("slot_baseline")

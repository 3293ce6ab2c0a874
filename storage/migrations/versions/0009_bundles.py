"""bundles: several entitlements requested, granted and taken back together

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.add_column(sa.Column("bundle", sa.String(32), nullable=True))
        batch_op.add_column(sa.Column("items", sa.Text(), nullable=True))
        batch_op.create_index("ix_access_request_bundle", ["bundle"])


def downgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.drop_index("ix_access_request_bundle")
        batch_op.drop_column("items")
        batch_op.drop_column("bundle")

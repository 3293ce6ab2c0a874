"""entitlements that a person grants by hand, and requests that follow such a task

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.add_column(sa.Column("manual", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("catalog_entitlement") as batch_op:
        batch_op.add_column(sa.Column("provisionable", sa.Boolean(), nullable=False,
                                      server_default=sa.true()))


def downgrade() -> None:
    with op.batch_alter_table("catalog_entitlement") as batch_op:
        batch_op.drop_column("provisionable")
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.drop_column("manual")

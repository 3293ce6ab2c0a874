"""policy rules: approval steps, tickets, auto-approval and break-glass, extensions

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.add_column(sa.Column("rule", sa.String(64), nullable=False, server_default="default"))
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("conflict", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("ticket", sa.String(255), nullable=True))
        batch_op.add_column(sa.Column("route", sa.String(16), nullable=False, server_default="people"))
        batch_op.add_column(sa.Column("reviewed_by", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("extends", sa.String(32), nullable=True))
    with op.batch_alter_table("approval") as batch_op:
        batch_op.add_column(sa.Column("step", sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("catalog_entitlement") as batch_op:
        batch_op.add_column(sa.Column("resource_name", sa.String(512), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("catalog_entitlement") as batch_op:
        batch_op.drop_column("resource_name")
    with op.batch_alter_table("approval") as batch_op:
        batch_op.drop_column("step")
    with op.batch_alter_table("access_request") as batch_op:
        for column in ("extends", "reviewed_by", "route", "ticket", "conflict", "step", "rule"):
            batch_op.drop_column(column)

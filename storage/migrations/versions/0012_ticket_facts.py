"""what a request's ticket was when it was checked in the tracker (Jira): its summary, status
and address, shown to the approvers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.add_column(sa.Column("ticket_summary", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("ticket_status", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("ticket_url", sa.String(length=1024), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.drop_column("ticket_url")
        batch_op.drop_column("ticket_status")
        batch_op.drop_column("ticket_summary")

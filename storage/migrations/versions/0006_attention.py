"""reminders and timeouts for pending requests, warnings before expiry

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""
import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.add_column(sa.Column("attention_at", storage.tables.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("reminders", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_request_state_attention", ["state", "attention_at"])


def downgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.drop_index("ix_request_state_attention")
        batch_op.drop_column("reminders")
        batch_op.drop_column("attention_at")

"""step-up challenges: the pushes sent to approvers to confirm a decision, kept while they wait
so that a restart neither loses one nor applies its decision twice

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-11
"""
import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "step_up_challenge",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("started_at", storage.tables.UTCDateTime(), nullable=False),
        sa.Column("poll", sa.Text(), nullable=True),
        sa.Column("open_key", sa.String(length=128), nullable=True),
        sa.ForeignKeyConstraint(["request_id"], ["access_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_step_up_challenge_request_id", "step_up_challenge", ["request_id"])
    op.create_index("ix_step_up_challenge_state", "step_up_challenge", ["state"])
    # A unique index, not a constraint: SQLite and PostgreSQL then show the same schema.
    op.create_index("ix_step_up_challenge_open_key", "step_up_challenge", ["open_key"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_step_up_challenge_open_key", table_name="step_up_challenge")
    op.drop_index("ix_step_up_challenge_state", table_name="step_up_challenge")
    op.drop_index("ix_step_up_challenge_request_id", table_name="step_up_challenge")
    op.drop_table("step_up_challenge")

"""who filed a request for someone else (the requester is then the person who gets the access)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07
"""
import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.add_column(sa.Column("filed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("access_request") as batch_op:
        batch_op.drop_column("filed_by")

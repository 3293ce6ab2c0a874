"""change feeds: how far each connector's feed (Okta's System Log) has been applied to the
catalog, under a lease; the catalog's revision, which incremental changes move

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-10
"""
import sqlalchemy as sa
from alembic import op

import storage.tables

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_cursor",
        sa.Column("connector_id", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("read_through", storage.tables.UTCDateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("holder", sa.String(length=64), nullable=True),
        sa.Column("lease_until", storage.tables.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("connector_id"),
    )
    with op.batch_alter_table("catalog_sync") as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False,
                                      server_default=sa.text("0")))


def downgrade() -> None:
    with op.batch_alter_table("catalog_sync") as batch_op:
        batch_op.drop_column("revision")
    op.drop_table("feed_cursor")

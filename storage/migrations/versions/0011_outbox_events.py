"""outbox messages store the event they tell of: its actor and fields as args

Messages written before held only what their sender used: a step's next approvers as
`approvers` and the approver as `approver`.  Undelivered ones are rewritten in the shape of the
event they tell of (`next_approvers`, `actor`), so they are delivered as before after an
upgrade.  Delivered messages are left as they are.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

outbox = sa.table("outbox", sa.column("id", sa.Integer), sa.column("kind", sa.String),
                  sa.column("args", sa.Text), sa.column("done_at", sa.DateTime))

# kind → {old key: new key}
RENAMED = {"next_step": {"approver": "actor", "approvers": "next_approvers"},
           "approval_counted": {"approver": "actor"}}


def _rewrite(renamed_by_kind: dict[str, dict[str, str]]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(outbox.c.id, outbox.c.kind, outbox.c.args).where(
        outbox.c.done_at.is_(None), outbox.c.kind.in_(list(renamed_by_kind)))).all()
    for row_id, kind, args in rows:
        renamed = renamed_by_kind[kind]
        values = {renamed.get(key, key): value for key, value in json.loads(args or "{}").items()}
        connection.execute(sa.update(outbox).where(outbox.c.id == row_id).values(args=json.dumps(values)))


def upgrade() -> None:
    _rewrite(RENAMED)


def downgrade() -> None:
    _rewrite({kind: {new: old for old, new in keys.items()} for kind, keys in RENAMED.items()})

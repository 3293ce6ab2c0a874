"""What every repository shares: its sessions, the batch claim under SKIP LOCKED, times
read back from aggregates.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, update
from sqlmodel import Session

from storage.engine import READ_ONLY


class Repository:
    """A repository over one engine: sessions that write, and sessions that only read."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read_engine = engine.execution_options(**{READ_ONLY: True})

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _reading(self) -> Session:
        """A session that only reads: on SQLite it takes no write lock, so it never waits for one."""
        return Session(self._read_engine, expire_on_commit=False)


def claim_rows(session: Session, model, condition, order_by, limit: int, changes: dict) -> list:
    """UPDATE up to `limit` rows meeting `condition` (first by `order_by`) with `changes`, each a
    compare-and-set (`condition` is checked again on the row), skipping rows another transaction
    has locked; returns them as changed.

    The rows are chosen in a materialised CTE, run once: PostgreSQL may re-run an `IN (SELECT …
    LIMIT n FOR UPDATE SKIP LOCKED)` subquery for each row, and then skips the rows this very
    UPDATE has changed and takes the next ones, far beyond `limit`."""
    if limit <= 0:
        return []
    chosen = (select(model.id).where(condition).order_by(order_by).limit(limit)
              .with_for_update(skip_locked=True).cte("chosen").prefix_with("MATERIALIZED"))
    return list(session.execute(
        update(model).where(model.id.in_(select(chosen.c.id)), condition).values(**changes)
        .returning(model).execution_options(synchronize_session=False)).scalars())


def aware(value: datetime | str) -> datetime:
    """A time read back from an aggregate (MIN, MAX), which bypasses UTCDateTime on SQLite."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)

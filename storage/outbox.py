"""The outbox: messages to deliver, kept until delivered."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import aliased

from bot.domain.events import SYSTEM, Event, MessageKind
from bot.domain.stored_events import BY_KIND, decode
from connectors.masking import mask_all
from storage.base import Repository, aware, claim_rows
from storage.tables import OutboxRow


def _first_undelivered():
    earlier = aliased(OutboxRow)
    return OutboxRow.done_at.is_(None) & ~select(earlier.id).where(
        earlier.request_id == OutboxRow.request_id, earlier.id < OutboxRow.id,
        earlier.done_at.is_(None)).exists()


# An undelivered row with no undelivered row of the same request before it.
_outbox_head = _first_undelivered()


class Outbox(Repository):
    """Durable queue of messages to deliver; each row is claimed under a lease, like requests."""

    @staticmethod
    def message(event: Event, now: datetime) -> OutboxRow:
        """The message that tells of `event`, to write along with the state change it reports
        (`also=[...]`): the event's kind, and its actor and fields as `args`."""
        key = event.outbox_key()
        if event.kind is None or key is None:
            raise ValueError(f"{type(event).__name__} tells nobody")
        args = {"actor": event.actor, **event.detail()}
        return OutboxRow(request_id=key, kind=event.kind.value,
                         args=json.dumps(mask_all(args), default=str), created_at=now, next_attempt_at=now)

    @staticmethod
    def event(row: OutboxRow) -> Event:
        """The event a stored message tells of."""
        args = json.loads(row.args)
        cls = BY_KIND[MessageKind(row.kind)]
        # Queued under something else than its request (a reviewer's campaign): about no request.
        about = row.request_id if cls.outbox_key is Event.outbox_key else None
        return decode(cls, about, args.pop("actor", SYSTEM), args)

    def claim(self, now: datetime, lease_until: datetime, limit: int = 50) -> list[OutboxRow]:
        """Take rows that are due, oldest first, skipping any request with an earlier row still
        undelivered (messages of one request must arrive in order).

        One UPDATE claims the batch; its compare-and-set repeats the conditions on each row, and
        rows another dispatcher is claiming are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL;
        BEGIN IMMEDIATE serialises claims on SQLite), so replicas take disjoint batches."""
        due = _outbox_head & (OutboxRow.next_attempt_at <= now) & or_(
            OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now)
        with self._session() as session:
            rows = claim_rows(session, OutboxRow, due, OutboxRow.id, limit, {"lease_until": lease_until})
            session.commit()
        return sorted(rows, key=lambda row: row.id)

    def delivered_all(self, row_ids: list[int], now: datetime) -> None:
        """Record a batch's deliveries in one statement."""
        if row_ids:
            self._set(OutboxRow.id.in_(row_ids), done_at=now, lease_until=None, last_error=None)

    def retry_later(self, row_id: int, attempts: int, retry_at: datetime, error: str) -> None:
        self._set(OutboxRow.id == row_id, attempts=attempts, next_attempt_at=retry_at,
                  lease_until=None, last_error=error)

    def next_due(self) -> datetime | None:
        with self._session() as session:
            value = session.execute(select(func.min(OutboxRow.next_attempt_at))
                                    .where(_outbox_head)).scalar()
        return None if value is None else aware(value)

    def pending(self) -> int:
        with self._session() as session:
            return session.execute(select(func.count()).select_from(OutboxRow)
                                   .where(OutboxRow.done_at.is_(None))).scalar_one()

    def _set(self, which, **values) -> None:
        with self._session() as session:
            session.execute(update(OutboxRow).where(which).values(**values)
                            .execution_options(synchronize_session=False))
            session.commit()

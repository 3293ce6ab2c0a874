"""Cursors of relays that follow the audit log (e.g. the Slack audit channel), held under a lease.

A relay reads the audit events after its cursor, hands them on, then moves the cursor.  Several
replicas may run the same relay: each pass starts by taking the cursor's lease with a
compare-and-set UPDATE (only if it is free, expired or already ours), and every later write is
fenced by `holder`, so a replica whose lease ran out (it stalled, or crashed and came back) can
neither move the cursor nor keep relaying once another has taken over.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select, true, update
from sqlalchemy.dialects import postgresql, sqlite

from storage.base import Repository
from storage.tables import AuditRow, RelayCursorRow, RequestRow


class RelayCursors(Repository):
    def take(self, name: str, holder: str, now: datetime, lease_until: datetime,
             start_before: datetime) -> int | None:
        """Take (or renew) the lease on cursor `name`; return its position, or None while another
        holder's lease runs.

        A cursor seen for the first time starts after the last event written before
        `start_before`, so turning a relay on does not replay the whole history.
        """
        with self._session() as session:
            won = session.execute(update(RelayCursorRow).where(
                RelayCursorRow.name == name,
                or_(RelayCursorRow.holder == holder, RelayCursorRow.lease_until.is_(None),
                    RelayCursorRow.lease_until <= now),
            ).values(holder=holder, lease_until=lease_until)).rowcount == 1
            if not won and session.get(RelayCursorRow, name) is None:
                start = session.execute(select(func.coalesce(func.max(AuditRow.seq), 0)).where(
                    AuditRow.at < start_before)).scalar_one()
                dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
                # Two replicas starting at once both insert: one row wins, the other inserts
                # nothing (and so holds no lease).
                # (RETURNING, because psycopg reports no rowcount for ON CONFLICT DO NOTHING.)
                won = session.execute(dialect.insert(RelayCursorRow).values(
                    name=name, position=start, holder=holder, lease_until=lease_until
                ).on_conflict_do_nothing(index_elements=[RelayCursorRow.name])
                    .returning(RelayCursorRow.name)).first() is not None
            position = session.execute(select(RelayCursorRow.position).where(
                RelayCursorRow.name == name)).scalar_one() if won else None
            session.commit()
            return position

    def renew(self, name: str, holder: str, lease_until: datetime) -> bool:
        """Extend our lease; False if another holder has taken the cursor over meanwhile."""
        return self._set(name, holder, true(), lease_until=lease_until)

    def advance(self, name: str, holder: str, seen: int, position: int,
                lease_until: datetime) -> bool:
        """Move the cursor from `seen` to `position` (and renew the lease), only if we still
        hold it and nobody moved it since."""
        return self._set(name, holder, RelayCursorRow.position == seen, position=position,
                         lease_until=lease_until)

    def release(self, name: str, holder: str) -> None:
        """Give the lease up, so another replica may relay at once."""
        self._set(name, holder, true(), holder=None, lease_until=None)

    def get(self, name: str) -> RelayCursorRow | None:
        with self._reading() as session:
            return session.get(RelayCursorRow, name)

    def events_after(self, position: int, limit: int) -> list[tuple[AuditRow, str | None]]:
        """Up to `limit` audit events with a seq above `position`, in seq order, each with the
        name of the entitlement its request is for (None without a request)."""
        with self._reading() as session:
            return [(row, name) for row, name in session.execute(
                select(AuditRow, RequestRow.entitlement_name)
                .outerjoin(RequestRow, RequestRow.id == AuditRow.request_id)
                .where(AuditRow.seq > position).order_by(AuditRow.seq).limit(limit)).all()]

    def _set(self, name: str, mine: str, condition, **values) -> bool:
        """Update the cursor only while `mine` holds it (and `condition` holds)."""
        with self._session() as session:
            done = session.execute(update(RelayCursorRow).where(
                RelayCursorRow.name == name, RelayCursorRow.holder == mine, condition
            ).values(**values)).rowcount == 1
            session.commit()
            return done

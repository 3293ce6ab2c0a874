"""Cursors of connectors' change feeds (Okta's System Log), held under a lease.

A full sync writes a connector's cursor (storage/catalog.py, `replace`): read the feed from the
moment the sync began.  From then on the cursor moves only in the transaction that applies the
changes it covers (`Catalog.apply`), by compare-and-set on its `version`, so a crash never skips
a change nor applies one that the cursor does not cover.

Several replicas may run the poller: only the holder of an unexpired lease polls (the lease is
taken and kept with compare-and-set UPDATEs, as storage/relay_cursor.py does), so the target is
asked once per interval, not once per replica; a crashed holder's lease simply runs out.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, update

from storage.base import Repository
from storage.tables import FeedCursorRow


class FeedCursors(Repository):
    def take(self, connector_id: str, holder: str, now: datetime,
             lease_until: datetime) -> FeedCursorRow | None:
        """Take (or keep) the lease on the connector's cursor and return it; None while another
        holder's lease runs, or before the first full sync has written the cursor."""
        with self._session() as session:
            won = session.execute(update(FeedCursorRow).where(
                FeedCursorRow.connector_id == connector_id,
                or_(FeedCursorRow.holder == holder, FeedCursorRow.lease_until.is_(None),
                    FeedCursorRow.lease_until <= now),
            ).values(holder=holder, lease_until=lease_until)).rowcount == 1
            row = session.get(FeedCursorRow, connector_id) if won else None
            session.commit()
            return row

    def release(self, connector_id: str, holder: str) -> None:
        """Give the lease up (at shutdown), so another replica polls at once."""
        with self._session() as session:
            session.execute(update(FeedCursorRow).where(
                FeedCursorRow.connector_id == connector_id, FeedCursorRow.holder == holder,
            ).values(holder=None, lease_until=None))
            session.commit()

    def get(self, connector_id: str) -> FeedCursorRow | None:
        with self._reading() as session:
            return session.get(FeedCursorRow, connector_id)

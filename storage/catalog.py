"""The synced catalog: entitlements, accounts and holdings, and the typeahead's search index.

A full sync swaps in a whole snapshot (`replace`); between syncs, a connector's change feed is
applied change by change (`apply`, connectors/changes.py), each change idempotent, in the
transaction that moves the feed's cursor (storage/feed_cursors.py) over them.
"""

from __future__ import annotations

import bisect
import itertools
import threading
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import NamedTuple

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlmodel import Session

from bot.domain.reviews import Holding
from connectors.changes import Change
from storage.base import Repository
from storage.catalog_changes import apply_change, restart_feed
from storage.tables import AccountRow, EntitlementRow, FeedCursorRow, HoldingRow, SyncRow


class SearchHit(NamedTuple):
    """A typeahead match: enough to offer it and to find the entitlement again."""

    connector_id: str
    id: str
    name: str
    resource_type: str


class _SearchIndex:
    """Requestable entitlements as of one set of syncs, shortest name first (then by name).

    The case-folded names are joined into one string, so a search is `str.find` (C speed)
    rather than a Python loop over every name.
    """

    SEPARATOR = "\0"

    def __init__(self, version: tuple, rows) -> None:
        self.version = version
        self.hits = sorted((SearchHit(*row) for row in rows), key=lambda h: (len(h.name), h.name))
        folded = [hit.name.casefold().replace(self.SEPARATOR, " ") for hit in self.hits]
        self.starts = array("q", itertools.accumulate((len(name) + 1 for name in folded[:-1]),
                                                      initial=0))
        self.names = self.SEPARATOR.join(folded)

    def find(self, needle: str, limit: int) -> list[SearchHit]:
        if not self.hits or self.SEPARATOR in needle:
            return []
        if not needle:  # everything matches ("" would also match at the very end, once more)
            return self.hits[:limit]
        found, at = [], 0
        while len(found) < limit and (at := self.names.find(needle, at)) >= 0:
            position = bisect.bisect_right(self.starts, at) - 1
            found.append(self.hits[position])
            at = self.starts[position + 1] if position + 1 < len(self.starts) else len(self.names)
        return found


@dataclass(frozen=True)
class FeedStep:
    """Where applying a page of a change feed leaves its cursor: moved from `version` (as the
    poller read it) to `position` / `read_through`, by `holder`, whose lease now runs to
    `lease_until`."""

    holder: str
    version: int
    position: str
    read_through: datetime
    lease_until: datetime


class Catalog(Repository):
    """The synced picture of each connector: entitlements, accounts, and who holds what."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._index: _SearchIndex | None = None
        self._index_lock = threading.Lock()

    def replace(self, connector_id: str, entitlements: Iterable[dict], accounts: Iterable[dict],
                holdings: Iterable[dict], now: datetime, feed_from: datetime | None = None) -> SyncRow:
        """Swap in a new snapshot for one connector atomically: readers see old or new, never half.

        `feed_from` (the moment the snapshot began to be read) restarts the connector's change
        feed there: changes the feed applied while the snapshot was read may be missing from it,
        so they are read and applied again (harmlessly, they are idempotent), and none older
        are needed."""
        tables = ((EntitlementRow, entitlements), (AccountRow, accounts), (HoldingRow, holdings))
        counts = {}
        with self._session() as session:
            self._one_writer(session, connector_id)
            for table, rows in tables:
                session.execute(delete(table).where(table.connector_id == connector_id))
                counts[table] = 0
                for chunk in _chunks(rows, 2000):
                    session.execute(insert(table), [{**r, "connector_id": connector_id} for r in chunk])
                    counts[table] += len(chunk)
            summary = SyncRow(connector_id=connector_id, finished_at=now,
                              entitlements=counts[EntitlementRow], accounts=counts[AccountRow],
                              holdings=counts[HoldingRow])
            session.merge(summary)
            if feed_from is not None:
                restart_feed(session, connector_id, feed_from)
            session.commit()
        return summary

    def apply(self, connector_id: str, changes: list[Change], step: FeedStep) -> bool:
        """Apply one page of the connector's change feed and move its cursor over it, in one
        transaction; False (nothing applied) if the cursor moved meanwhile (a full sync
        restarted it, or another replica took the lease over)."""
        with self._session() as session:
            self._one_writer(session, connector_id)
            moved = session.execute(update(FeedCursorRow).where(
                FeedCursorRow.connector_id == connector_id, FeedCursorRow.holder == step.holder,
                FeedCursorRow.version == step.version,
            ).values(position=step.position, read_through=step.read_through,
                     version=step.version + 1, lease_until=step.lease_until)).rowcount == 1
            if not moved:
                session.rollback()
                return False
            changed = False
            for change in changes:
                changed = apply_change(session, connector_id, change) or changed
            if changed:  # the typeahead's index of every replica is stale
                session.execute(update(SyncRow).where(SyncRow.connector_id == connector_id)
                                .values(revision=SyncRow.revision + 1))
            session.commit()
        return True

    def _one_writer(self, session: Session, connector_id: str) -> None:
        if self.engine.dialect.name == "postgresql":
            # Replicas sync at the same moments: one replace (or feed page) per connector at a
            # time, or both delete, both insert, and one fails on the other's keys.  (SQLite's
            # BEGIN IMMEDIATE already serialises writers.)
            session.execute(select(func.pg_advisory_xact_lock(func.hashtext(
                "latchkey.catalog:" + connector_id))))

    def search(self, text: str, limit: int = 100) -> list[SearchHit]:
        """Requestable entitlements whose name contains `text` (any case), shortest name first.

        Answered from a copy of the names held in memory: a typeahead must answer within Slack's
        window, and `LIKE '%…%'` over tens of thousands of rows is a full scan and a sort on every
        keystroke (see bench/).  Each call checks, with one small query, whether any sync has
        finished since the copy was made, so every replica serves a new snapshot at once.
        """
        return self._search_index().find(text.strip().casefold(), limit)

    def _search_index(self) -> _SearchIndex:
        with self._reading() as session:
            version = tuple(session.execute(select(SyncRow.connector_id, SyncRow.finished_at,
                                                   SyncRow.revision)
                                            .order_by(SyncRow.connector_id)).all())
            index = self._index
            if index is not None and index.version == version:
                return index
            with self._index_lock:  # one thread loads; the others wait for its copy
                if self._index is None or self._index.version != version:
                    rows = session.execute(select(EntitlementRow.connector_id, EntitlementRow.id,
                                                  EntitlementRow.name, EntitlementRow.resource_type)
                                           .where(EntitlementRow.requestable.is_(True))).all()
                    self._index = _SearchIndex(version, rows)
                return self._index

    def entitlement(self, connector_id: str, entitlement_id: str) -> EntitlementRow | None:
        with self._reading() as session:
            return session.get(EntitlementRow, (connector_id, entitlement_id))

    def account_by_email(self, connector_id: str, email: str) -> AccountRow | None:
        with self._reading() as session:
            return session.execute(select(AccountRow).where(
                AccountRow.connector_id == connector_id, AccountRow.email == email.lower()
            ).limit(1)).scalars().first()

    def entitlement_named(self, connector_id: str, name: str) -> EntitlementRow | None:
        """The requestable entitlement called `name`, or the only one of a resource so named."""
        with self._reading() as session:
            requestable = select(EntitlementRow).where(EntitlementRow.connector_id == connector_id,
                                                       EntitlementRow.requestable.is_(True))
            found = session.execute(requestable.where(EntitlementRow.name == name).limit(1)).scalars().first()
            if found is None:
                of_resource = session.execute(requestable.where(
                    EntitlementRow.resource_name == name).limit(2)).scalars().all()
                found = of_resource[0] if len(of_resource) == 1 else None
            return found

    def held_by_email(self, email: str) -> list[tuple[str, str]]:
        """(connector id, resource name) of everything the accounts with this email hold,
        through a group too (what separation of duties looks at)."""
        with self._reading() as session:
            return [tuple(row) for row in session.execute(self._held(email).with_only_columns(
                EntitlementRow.connector_id, EntitlementRow.resource_name)).all()]

    def groups_of(self, connector_id: str, email: str) -> list[str]:
        """Names of the groups the connector's account with this email belongs to."""
        with self._reading() as session:
            return list(session.execute(self._held(email).with_only_columns(EntitlementRow.resource_name)
                                        .where(EntitlementRow.connector_id == connector_id,
                                               EntitlementRow.resource_type == "group")).scalars())

    @staticmethod
    def _held(email: str):
        return select(EntitlementRow).join(HoldingRow, (HoldingRow.connector_id == EntitlementRow.connector_id)
                                           & (HoldingRow.entitlement_id == EntitlementRow.id)).join(
            AccountRow, (AccountRow.connector_id == HoldingRow.connector_id)
            & (AccountRow.id == HoldingRow.account_id)).where(AccountRow.email == email.lower())

    def holdings(self, connector_ids: Iterable[str]) -> list[Holding]:
        """Everything held directly in these connectors, as of their last sync (an access review
        snapshots tens of thousands at once).  Three plain reads joined here: right after a
        sync PostgreSQL has no statistics on the new rows, and its plan for the join in SQL
        then takes a minute."""
        chosen = list(connector_ids)
        with self._reading() as session:
            entitlements = {(row.connector_id, row.id): row for row in session.execute(
                select(EntitlementRow).where(EntitlementRow.connector_id.in_(chosen))).scalars()}
            emails = {(connector_id, account_id): email for connector_id, account_id, email in session.execute(
                select(AccountRow.connector_id, AccountRow.id, AccountRow.email).where(
                    AccountRow.connector_id.in_(chosen)))}
            held = session.execute(select(HoldingRow.connector_id, HoldingRow.entitlement_id, HoldingRow.account_id)
                                   .where(HoldingRow.connector_id.in_(chosen), HoldingRow.direct.is_(True))).all()
        return [Holding(connector_id, entitlement_id, e.name, e.resource_type, e.resource_name, e.provisionable,
                        account_id, email)
                for connector_id, entitlement_id, account_id in held
                if (e := entitlements.get((connector_id, entitlement_id)))
                and (email := emails.get((connector_id, account_id))) is not None]

    def holds(self, connector_id: str, entitlement_id: str, account_id: str) -> bool:
        """Whether the account holds it directly (not only through a group), as of the last sync."""
        with self._reading() as session:
            row = session.get(HoldingRow, (connector_id, entitlement_id, account_id))
            return row is not None and row.direct

    def held_by_account(self, connector_id: str, account_id: str) -> list[str]:
        """The entitlement ids one account holds directly, as of the last sync."""
        with self._reading() as session:
            return list(session.execute(select(HoldingRow.entitlement_id).where(
                HoldingRow.connector_id == connector_id, HoldingRow.direct.is_(True),
                HoldingRow.account_id == account_id)).scalars())

    def last_sync(self, connector_id: str) -> SyncRow | None:
        with self._reading() as session:
            return session.get(SyncRow, connector_id)


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk

"""Repositories: the only way the rest of Latchkey reads and writes the database.

Every change of a request's state is a compare-and-set (`UPDATE … WHERE id = ? AND state = ?`)
and reports whether it won, so concurrent clicks, retries and replicas cannot double an effect.
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import json
import threading
from array import array
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from itertools import islice
from typing import NamedTuple

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel import Session

from bot.domain.events import BY_KIND, SYSTEM, Event, MessageKind, decode
from bot.domain.request import ApprovalOutcome
from connectors.masking import mask_all
from storage.engine import READ_ONLY
from storage.tables import (
    AccountRow,
    ApprovalRow,
    AuditRow,
    EntitlementRow,
    HoldingRow,
    MessageRow,
    OutboxRow,
    PersonRow,
    RequestRow,
    SeenEventRow,
    SlotBaselineRow,
    SyncRow,
)


class DuplicateError(Exception):
    """The row would break a uniqueness rule (e.g. a second pending request for the same thing)."""


class _Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._read_engine = engine.execution_options(**{READ_ONLY: True})

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def _reading(self) -> Session:
        """A session that only reads: on SQLite it takes no write lock, so it never waits for one."""
        return Session(self._read_engine, expire_on_commit=False)


# Requests a worker is granting or revoking through a connector.  Manual ones wait for a
# person to press Done; no lease ever runs out on them.
_working_automatically = RequestRow.state.in_(("provisioning", "revoking")) & RequestRow.manual.is_(False)


def _granting_on(connector_id: str, account_id: str):
    """Latchkey's own live grants to one account in one connector: being granted or active,
    not held before the request, not an extension (it rides on its original)."""
    return ((RequestRow.connector_id == connector_id) & (RequestRow.account_id == account_id)
            & RequestRow.state.in_(("provisioning", "active")) & RequestRow.extends.is_(None)
            & RequestRow.manual.is_(False)
            & or_(RequestRow.preexisting.is_(None), RequestRow.preexisting.is_(False)))


def _lease_over(now: datetime):
    return or_(RequestRow.lease_until.is_(None), RequestRow.lease_until <= now)


def _expired(now: datetime):
    return (RequestRow.state == "active") & (RequestRow.expires_at <= now)


def _revoking_abandoned(now: datetime):
    """A connector revocation whose worker's lease ran out (it crashed, or waits to retry)."""
    return (RequestRow.state == "revoking") & RequestRow.manual.is_(False) & _lease_over(now)


_LIVE = ("pending", "approved", "provisioning", "active", "revoking")


def _lock_requester(session: Session, requester: str) -> None:
    """Hold `requester`'s lock until the transaction ends.  On PostgreSQL an advisory lock
    serialises their guarded transitions across replicas; on SQLite the transaction began with
    BEGIN IMMEDIATE, so it holds the database's one write lock already."""
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.blake2b(requester.encode(), digest_size=8).digest(), "big", signed=True)
        session.execute(select(func.pg_advisory_xact_lock(key)))


class RequesterReads:
    """One requester's requests, read inside a transaction that holds their lock: what a
    guarded transition sees is what is there when it commits."""

    def __init__(self, session: Session, requester: str) -> None:
        self._session, self.requester = session, requester

    def live(self) -> list[RequestRow]:
        """Their requests that are waiting, approved, being granted, held or being taken back."""
        return list(self._session.execute(select(RequestRow).where(
            RequestRow.requester == self.requester, RequestRow.state.in_(_LIVE))).scalars())

    def asked_since(self, since: datetime) -> int:
        """How many requests (extensions included) they filed since `since`; a bundle's items
        are written by its approval, not asked for, so they do not count."""
        return self._session.execute(select(func.count()).select_from(RequestRow).where(
            RequestRow.requester == self.requester, RequestRow.bundle.is_(None),
            RequestRow.created_at >= since)).scalar_one()

    def routed_since(self, rule: str, route: str, since: datetime) -> int:
        """How often `rule` approved their requests by `route` (e.g. auto) since `since`."""
        return self._session.execute(select(func.count()).select_from(RequestRow).where(
            RequestRow.requester == self.requester, RequestRow.rule == rule,
            RequestRow.route == route, RequestRow.bundle.is_(None),
            RequestRow.created_at >= since)).scalar_one()


Move = tuple[str, str, dict, Iterable]  # request id, expected state, changes, rows written with it


class Requests(_Repository):
    """`also`: rows (e.g. the audit event) written in the same transaction as the change, and
    only if it happens, so a crash can never leave a state change without its record."""

    def add(self, row: RequestRow, also: Iterable = ()) -> None:
        with self._session() as session:
            session.add(row)
            session.add_all(also)
            try:
                session.commit()
            except IntegrityError as exc:
                raise DuplicateError(str(exc.orig)) from None

    def guarded(self, requester: str,
                decide: Callable[[RequesterReads], tuple[Iterable, Iterable[Move]]]
                ) -> list[RequestRow | None]:
        """Check and change one requester's requests atomically.

        `decide(reads)` runs with the requester's lock held, reads what it needs, and returns the
        writes: (rows to add, moves); it raises to write nothing.  Each move is a compare-and-set
        as in `move_each()`.  Two transitions of one person's requests at the same instant (two
        forms, two approvals, a grant and an extension, on any replica) are so checked one after
        the other, each seeing what the other wrote.  Returns the moved rows (None where a move
        lost); a uniqueness rule broken by an added row raises DuplicateError."""
        with self._session() as session:
            _lock_requester(session, requester)
            added, moves = decide(RequesterReads(session, requester))
            session.add_all(added)
            try:
                session.flush()
            except IntegrityError as exc:
                session.rollback()
                raise DuplicateError(str(exc.orig)) from None
            rows = [self._apply(session, move) for move in moves]
            session.commit()
        return rows

    def read_as(self, requester: str, look: Callable[[RequesterReads], object]):
        """`look(reads)` over the requester's requests as they stand, without their lock (what
        it finds is checked again by `guarded()` when something is written)."""
        with self._reading() as session:
            return look(RequesterReads(session, requester))

    def get(self, request_id: str) -> RequestRow | None:
        with self._reading() as session:
            return session.get(RequestRow, request_id)

    def move(self, request_id: str, expected_state: str, also: Iterable = (), **changes) -> bool:
        """Apply `changes` only if the request is still in `expected_state`; True if it was."""
        return self._update(RequestRow.state == expected_state, request_id, changes, also)

    def move_each(self, moves: Iterable[Move]) -> list[RequestRow | None]:
        """Several `move()`s, each (request id, expected state, changes, also), in one
        transaction.  Each is its own compare-and-set: one that loses changes nothing and writes
        none of its `also`.  Returns each row as its change left it, or None where it lost
        (read by the UPDATE itself, RETURNING, not by another query)."""
        with self._session() as session:
            rows = [self._apply(session, move) for move in moves]
            session.commit()
        return rows

    def _apply(self, session: Session, move: Move) -> RequestRow | None:
        request_id, expected_state, changes, also = move
        row = session.execute(self._cas(RequestRow.state == expected_state, request_id, changes)
                              .returning(RequestRow)).scalar_one_or_none()
        if row is not None:
            session.add_all(also)
        return row

    def attend(self, request_id: str, state: str, seen: datetime, also: Iterable = (), **changes) -> bool:
        """Act on `attention_at` once: only if it still holds the time this worker saw."""
        return self._update((RequestRow.state == state) & (RequestRow.attention_at == seen),
                            request_id, changes, also)

    def renew_lease(self, request_id: str, state: str, now: datetime, lease_until: datetime) -> bool:
        """Take over a request whose worker's lease has run out (it crashed or gave up)."""
        stale = (RequestRow.state == state) & _lease_over(now)
        return self._update(stale, request_id, {"lease_until": lease_until})

    def release(self, request_id: str, state: str, lease_until: datetime) -> bool:
        """Give up a lease no work was started under (only if it is still this one), so the
        request is due again at once rather than when the lease runs out."""
        held = (RequestRow.state == state) & (RequestRow.lease_until == lease_until)
        return self._update(held, request_id, {"lease_until": None})

    def set_once(self, request_id: str, field: str, value, also: Iterable = (), **with_it) -> bool:
        """Record a fact that must never change once known (e.g. access held before the grant)."""
        column = getattr(RequestRow, field)
        return self._update(column.is_(None), request_id, {field: value, **with_it}, also)

    def _update(self, condition, request_id: str, changes: dict, also: Iterable = ()) -> bool:
        with self._session() as session:
            result = session.execute(self._cas(condition, request_id, changes))
            if result.rowcount == 1:
                session.add_all(also)
            session.commit()
            return result.rowcount == 1

    @staticmethod
    def _cas(condition, request_id: str, changes: dict):
        # The session holds no copy of the row to keep in step: skip the ORM's synchronisation.
        return (update(RequestRow).where(RequestRow.id == request_id, condition).values(**changes)
                .execution_options(synchronize_session=False))

    def claim_revocations(self, now: datetime, lease_until: datetime, limit: int, *, revoking: str,
                          also: Callable[[RequestRow], Iterable] = lambda row: ()) -> list[RequestRow]:
        """Take up to `limit` connector revocations due now, in one transaction, each under a
        lease until `lease_until`: revocations whose worker's lease ran out are taken over
        (as `renew_lease` does), then expired active grants move to `revoking` (the state the
        transition table gives their expiry), each with `also(row)` (its audit event).  Manual requests are left to `move()`: their claim
        hands the owners a task.

        Each row is a compare-and-set, and rows another transaction holds are skipped (FOR
        UPDATE SKIP LOCKED on PostgreSQL; on SQLite BEGIN IMMEDIATE admits one writer at a
        time), so replicas claiming at once take disjoint batches.  Returns the rows as claimed,
        soonest expiry first."""
        with self._session() as session:
            taken_over = _claim_rows(session, RequestRow, _revoking_abandoned(now),
                                     RequestRow.expires_at, limit, {"lease_until": lease_until})
            claimed = _claim_rows(session, RequestRow, _expired(now) & RequestRow.manual.is_(False),
                                  RequestRow.expires_at, limit - len(taken_over),
                                  {"state": revoking, "lease_until": lease_until})
            session.add_all([row for request in claimed for row in also(request)])
            session.commit()
        return sorted(taken_over + claimed, key=lambda row: row.expires_at)

    def approve(self, request_id: str, approver: str, step: int, needed: int, last_step: bool,
                now: datetime, *, approved: str, also: Callable[[RequestRow, ApprovalOutcome], Iterable] = lambda row, outcome: (),
                guard: Callable[[RequesterReads, RequestRow], None] | None = None
                ) -> tuple[ApprovalOutcome, RequestRow | None]:
        """Count `approver`'s approval for `step`; once `needed` people of that step agree, move
        on to the next step, or to approved after the last one.

        Returns (outcome, row after the change): see `ApprovalOutcome`; on APPROVED the request
        moved to `approved`, the state the transition table gives its approval.  The request row is locked for the whole transaction (FOR UPDATE
        on PostgreSQL, BEGIN IMMEDIATE on SQLite) so concurrent approvers are counted one at a time.

        `guard(reads, row)` is called, under the requester's lock, before the approval that
        approves the request is written; it raises to write nothing (see `guarded()`).
        """
        with self._session() as session:
            if guard is not None:  # the requester never changes: their lock comes before the row's
                requester = session.execute(select(RequestRow.requester).where(
                    RequestRow.id == request_id)).scalar_one_or_none()
                _lock_requester(session, requester or "")
            row = session.execute(select(RequestRow).where(RequestRow.id == request_id)
                               .with_for_update()).scalar_one_or_none()
            if row is None or row.state != "pending":
                return ApprovalOutcome.CLOSED, row
            if row.step != step:
                return ApprovalOutcome.MOVED, row
            if session.get(ApprovalRow, (request_id, approver)) is not None:
                return ApprovalOutcome.DUPLICATE, row
            session.add(ApprovalRow(request_id=request_id, approver=approver, approved_at=now, step=step))
            session.flush()
            approvers = session.execute(select(ApprovalRow.approver).where(
                ApprovalRow.request_id == request_id).order_by(ApprovalRow.approved_at)).scalars().all()
            in_step = session.execute(select(func.count()).select_from(ApprovalRow).where(
                ApprovalRow.request_id == request_id, ApprovalRow.step == step)).scalar_one()
            outcome = ApprovalOutcome.COUNTED
            if in_step >= needed and last_step:
                if guard is not None:
                    guard(RequesterReads(session, row.requester), row)
                outcome, row.state, row.decided_by, row.decided_at = ApprovalOutcome.APPROVED, approved, ",".join(approvers), now
            elif in_step >= needed:
                outcome, row.step, row.reminders = ApprovalOutcome.NEXT_STEP, step + 1, 0
            session.add_all(also(row, outcome))  # e.g. the audit event, which depends on the outcome
            session.commit()
            return outcome, row

    def apply_extension(self, extension_id: str, original_id: str, seen_expiry: datetime,
                        changes: dict, *, extended: str, also: Iterable = ()) -> bool:
        """Move the original's expiry and close the approved extension (moved to `extended`, the
        state the transition table gives it), both or neither.

        Only while the original is still active with the expiry the worker saw, so an
        extension can never be applied twice or to access that has already ended."""
        with self._session() as session:
            moved = session.execute(update(RequestRow).where(
                RequestRow.id == original_id, RequestRow.state == "active",
                RequestRow.expires_at == seen_expiry).values(**changes)).rowcount
            if moved:  # the items of an extended bundle keep ending with it
                session.execute(update(RequestRow).where(
                    RequestRow.bundle == original_id, RequestRow.state == "active").values(
                        expires_at=changes["expires_at"]))
            closed = moved and session.execute(update(RequestRow).where(
                RequestRow.id == extension_id, RequestRow.state == "approved").values(
                    state=extended, lease_until=None)).rowcount
            if not (moved and closed):
                session.rollback()
                return False
            session.add_all(also)
            session.commit()
            return True

    def children(self, bundle_id: str) -> list[RequestRow]:
        """The item requests of a bundle."""
        with self._reading() as session:
            return list(session.execute(select(RequestRow).where(RequestRow.bundle == bundle_id)
                                        .order_by(RequestRow.entitlement_name)).scalars())

    def activate_bundle(self, bundle_id: str, changes: dict, *, active: str, also: Iterable = ()) -> bool:
        """Move a bundle to `active` (the state the transition table gives it) once all its items
        are, and have every item end when it ends."""
        with self._session() as session:
            if not session.execute(update(RequestRow).where(
                    RequestRow.id == bundle_id, RequestRow.state == "provisioning").values(
                        state=active, **changes)).rowcount:
                session.rollback()
                return False
            session.execute(update(RequestRow).where(
                RequestRow.bundle == bundle_id, RequestRow.state == "active").values(
                    expires_at=changes["expires_at"], attention_at=None))
            session.add_all(also)
            session.commit()
            return True

    def end_children(self, bundle_id: str, now: datetime) -> int:
        """Bring forward the expiry of a bundle's live items: the bundle has ended."""
        with self._session() as session:
            ended = session.execute(update(RequestRow).where(
                RequestRow.bundle == bundle_id, RequestRow.state == "active",
                or_(RequestRow.expires_at.is_(None), RequestRow.expires_at > now)).values(
                    expires_at=now, attention_at=None)).rowcount
            session.commit()
            return ended

    def extension_of(self, original_id: str) -> RequestRow | None:
        """A pending or approved (not yet applied) extension of this request."""
        with self._reading() as session:
            return session.execute(select(RequestRow).where(
                RequestRow.extends == original_id, RequestRow.state.in_(("pending", "approved"))
            ).limit(1)).scalars().first()

    def open_for(self, requester: str, connector_id: str, entitlement_id: str) -> RequestRow | None:
        """The requester's undecided or live request for this entitlement, if any."""
        live = ("pending", "approved", "provisioning", "active")
        with self._reading() as session:
            return session.execute(select(RequestRow).where(
                RequestRow.requester == requester, RequestRow.connector_id == connector_id,
                RequestRow.entitlement_id == entitlement_id, RequestRow.state.in_(live)
            ).limit(1)).scalars().first()

    def due(self, now: datetime, limit: int = 500, revocations: bool = True) -> list[tuple[str, str]]:
        """(id, state) of requests a worker should act on now.  `revocations=False` leaves out
        what `claim_revocations()` takes (and the expiry warnings of those expired grants)."""
        with self._reading() as session:
            work = [RequestRow.state == "approved",
                    _expired(now),
                    _working_automatically & _lease_over(now),
                    RequestRow.state.in_(("pending", "active")) & (RequestRow.attention_at <= now)]
            if not revocations:
                connector_revocation = RequestRow.manual.is_(False) & (
                    _expired(now) | (RequestRow.state == "revoking"))
                work = [condition & ~connector_revocation for condition in work]
            rows = session.execute(select(RequestRow.id, RequestRow.state).where(or_(*work))
                                   .order_by(RequestRow.expires_at).limit(limit)).all()
            return [(row.id, row.state) for row in rows]

    def next_deadline(self) -> datetime | None:
        """The earliest moment at which `due()` will return something new."""
        earliest = [  # one query: the scheduler asks after every run
            select(func.min(RequestRow.expires_at)).where(RequestRow.state == "active"),
            select(func.min(RequestRow.lease_until)).where(_working_automatically),
            select(func.min(RequestRow.decided_at)).where(RequestRow.state == "approved"),
            select(func.min(RequestRow.attention_at)).where(RequestRow.state.in_(("pending", "active"))),
        ]
        with self._reading() as session:
            candidates = session.execute(select(*(query.scalar_subquery() for query in earliest))).one()
        # UTCDateTime is bypassed by aggregate functions on SQLite; normalise here.
        return min((_aware(c) for c in candidates if c is not None), default=None)

    def for_connector(self, connector_id: str, *states: str) -> list[RequestRow]:
        with self._session() as session:
            return list(session.execute(select(RequestRow).where(
                RequestRow.connector_id == connector_id, RequestRow.state.in_(states))).scalars())

    def granting_on(self, connector_id: str, account_id: str) -> list[RequestRow]:
        """Latchkey's own live grants to one account in one connector (see _granting_on)."""
        with self._reading() as session:
            return list(session.execute(select(RequestRow).where(
                _granting_on(connector_id, account_id))).scalars())

    def of_requester(self, requester: str, states: tuple[str, ...]) -> list[RequestRow]:
        with self._session() as session:
            return list(session.execute(select(RequestRow).where(
                RequestRow.requester == requester, RequestRow.state.in_(states)
            ).order_by(RequestRow.created_at)).scalars())

    def approvals(self, request_id: str) -> dict[str, int]:
        """Who approved the request so far, each with the step they approved (0-based)."""
        with self._session() as session:
            return dict(session.execute(select(ApprovalRow.approver, ApprovalRow.step).where(
                ApprovalRow.request_id == request_id).order_by(ApprovalRow.approved_at)).all())

    def revoked_since(self, since: datetime) -> list[RequestRow]:
        with self._session() as session:
            return list(session.execute(select(RequestRow).where(
                RequestRow.state == "revoked", RequestRow.revoked_at >= since)).scalars())

    def failed_since(self, since: datetime) -> list[RequestRow]:
        """Grants given up (state failed) approved since `since`."""
        with self._session() as session:
            return list(session.execute(select(RequestRow).where(
                RequestRow.state == "failed", RequestRow.decided_at >= since)).scalars())

    def in_states(self, *states: str) -> list[RequestRow]:
        with self._session() as session:
            return list(session.execute(select(RequestRow).where(RequestRow.state.in_(states))
                                     .order_by(RequestRow.created_at)).scalars())

    def count_by_state(self) -> dict[str, int]:
        """How many requests are in each state (for metrics); one GROUP BY, no rows loaded."""
        with self._session() as session:
            return dict(session.execute(select(RequestRow.state, func.count())
                                        .group_by(RequestRow.state)).all())


def _claim_rows(session: Session, model, condition, order_by, limit: int, changes: dict) -> list:
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


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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


class Catalog(_Repository):
    """The synced picture of each connector: entitlements, accounts, and who holds what."""

    def __init__(self, engine: Engine) -> None:
        super().__init__(engine)
        self._index: _SearchIndex | None = None
        self._index_lock = threading.Lock()

    def replace(self, connector_id: str, entitlements: Iterable[dict], accounts: Iterable[dict],
                holdings: Iterable[dict], now: datetime) -> SyncRow:
        """Swap in a new snapshot for one connector atomically: readers see old or new, never half."""
        tables = ((EntitlementRow, entitlements), (AccountRow, accounts), (HoldingRow, holdings))
        counts = {}
        with self._session() as session:
            if self.engine.dialect.name == "postgresql":
                # Replicas sync at the same moments: one replace per connector at a time, or
                # both delete, both insert, and one fails on the other's keys.  (SQLite's
                # BEGIN IMMEDIATE already serialises writers.)
                session.execute(select(func.pg_advisory_xact_lock(func.hashtext(
                    "latchkey.catalog:" + connector_id))))
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
            session.commit()
        return summary

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
            version = tuple(session.execute(select(SyncRow.connector_id, SyncRow.finished_at)
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


class AuditLog(_Repository):
    """Append-only record of everything that happened: who, what, when, why."""

    def append(self, event: Event, at: datetime, also: Iterable = ()) -> None:
        """Write one event (and `also`, e.g. the message that tells people) in one transaction."""
        with self._session() as session:
            session.add(self.entry(event, at))
            session.add_all(also)
            session.commit()

    @staticmethod
    def entry(event: Event, at: datetime) -> AuditRow:
        """The row that records `event`, to write along with the state change it reports
        (`Requests.move(..., also=[entry])`).  Every text in its detail is masked: an error or
        a finding may quote a target's answer.  Fields left unset (None) are not stored."""
        if event.action is None:
            raise ValueError(f"{type(event).__name__} is not audited")
        detail = {name: value for name, value in event.detail().items() if value is not None}
        return AuditRow(at=at, actor=event.actor, action=event.action.value, request_id=event.request_id,
                        detail=json.dumps(mask_all(detail), default=str, sort_keys=True))

    def has(self, request_id: str, action: str) -> bool:
        with self._session() as session:
            return session.execute(select(AuditRow.seq).where(
                AuditRow.request_id == request_id, AuditRow.action == action).limit(1)).first() is not None

    def stream(self, since: datetime, until: datetime | None = None, batch: int = 1000) -> Iterator[AuditRow]:
        """Events from `since` on, oldest first, read a batch at a time (the log can be large)."""
        after = 0
        while True:
            with self._session() as session:
                query = select(AuditRow).where(AuditRow.seq > after, AuditRow.at >= since)
                if until is not None:
                    query = query.where(AuditRow.at < until)
                rows = list(session.execute(query.order_by(AuditRow.seq).limit(batch)).scalars())
            yield from rows
            if len(rows) < batch:
                return
            after = rows[-1].seq

    def last(self, action: str) -> AuditRow | None:
        with self._session() as session:
            return session.execute(select(AuditRow).where(AuditRow.action == action)
                                   .order_by(AuditRow.seq.desc()).limit(1)).scalars().first()

    def events(self, request_id: str | None = None) -> list[AuditRow]:
        with self._session() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if request_id:
                query = query.where(AuditRow.request_id == request_id)
            return list(session.execute(query).scalars())


class SlotBaselines(_Repository):
    """Set-once records of the level an account had in a single-valued slot before Latchkey's
    first grant there (see bot/slots.py)."""

    def get(self, connector_id: str, slot: str, account_id: str) -> SlotBaselineRow | None:
        with self._reading() as session:
            return session.get(SlotBaselineRow, (connector_id, slot, account_id))

    def record_once(self, connector_id: str, slot: str, account_id: str, level: str | None) -> str | None:
        """Store `level` unless a baseline is already stored; return the stored one (a racing
        replica's, if it was first)."""
        try:
            with self._session() as session:
                session.add(SlotBaselineRow(connector_id=connector_id, slot=slot,
                                            account_id=account_id, level=level))
                session.commit()
        except IntegrityError:
            pass  # another worker recorded it first: theirs was read before any write too
        stored = self.get(connector_id, slot, account_id)
        return stored.level if stored else level

    def clear_unless_granted(self, connector_id: str, slot: str, account_id: str,
                             leaving: str) -> None:
        """Forget the baseline unless Latchkey still grants anything to the account in this
        connector (request `leaving` aside).  One statement, so a grant claimed at the same
        moment either keeps the baseline or, claimed just after, reads the target afresh.
        (Any live grant of the account keeps it, not only the slot's: the connector ids are all
        the database knows, and a baseline kept a little longer is still the one found.)"""
        live = select(RequestRow.id).where(_granting_on(connector_id, account_id),
                                           RequestRow.id != leaving)
        with self._session() as session:
            session.execute(delete(SlotBaselineRow).where(
                SlotBaselineRow.connector_id == connector_id, SlotBaselineRow.slot == slot,
                SlotBaselineRow.account_id == account_id, ~live.exists()))
            session.commit()


class Messages(_Repository):
    """Where the bot's messages about each request live, so they can be updated later."""

    def add(self, request_id: str, recipient: str, role: str, channel: str, ts: str) -> None:
        with self._session() as session:
            session.add(MessageRow(request_id=request_id, recipient=recipient, role=role,
                                   channel=channel, ts=ts))
            session.commit()

    def for_request(self, request_id: str, role: str | None = None) -> list[MessageRow]:
        with self._reading() as session:
            query = select(MessageRow).where(MessageRow.request_id == request_id)
            if role:
                query = query.where(MessageRow.role == role)
            return list(session.execute(query.order_by(MessageRow.id)).scalars())


class People(_Repository):
    def get(self, person_id: str) -> PersonRow | None:
        with self._reading() as session:
            return session.get(PersonRow, person_id)

    def put(self, person_id: str, email: str | None, name: str, now: datetime) -> None:
        # An upsert, not merge(): two replicas (or two listeners) looking up the same person at
        # once would both INSERT, and one would fail on the primary key.
        values = {"email": email and email.lower(), "name": name, "fetched_at": now}
        dialect = postgresql if self.engine.dialect.name == "postgresql" else sqlite
        with self._session() as session:
            session.execute(dialect.insert(PersonRow).values(id=person_id, **values)
                            .on_conflict_do_update(index_elements=[PersonRow.id], set_=values))
            session.commit()


def _first_undelivered():
    earlier = aliased(OutboxRow)
    return OutboxRow.done_at.is_(None) & ~select(earlier.id).where(
        earlier.request_id == OutboxRow.request_id, earlier.id < OutboxRow.id,
        earlier.done_at.is_(None)).exists()


# An undelivered row with no undelivered row of the same request before it.
_outbox_head = _first_undelivered()


class Outbox(_Repository):
    """Durable queue of messages to deliver; each row is claimed under a lease, like requests."""

    @staticmethod
    def message(event: Event, now: datetime) -> OutboxRow:
        """The message that tells of `event`, to write along with the state change it reports
        (`also=[...]`): the event's kind, and its actor and fields as `args`."""
        if event.kind is None or event.request_id is None:
            raise ValueError(f"{type(event).__name__} tells nobody about a request")
        args = {"actor": event.actor, **event.detail()}
        return OutboxRow(request_id=event.request_id, kind=event.kind.value,
                         args=json.dumps(mask_all(args), default=str), created_at=now, next_attempt_at=now)

    @staticmethod
    def event(row: OutboxRow) -> Event:
        """The event a stored message tells of."""
        args = json.loads(row.args)
        return decode(BY_KIND[MessageKind(row.kind)], row.request_id, args.pop("actor", SYSTEM), args)

    def claim(self, now: datetime, lease_until: datetime, limit: int = 50) -> list[OutboxRow]:
        """Take rows that are due, oldest first, skipping any request with an earlier row still
        undelivered (messages of one request must arrive in order).

        One UPDATE claims the batch; its compare-and-set repeats the conditions on each row, and
        rows another dispatcher is claiming are skipped (FOR UPDATE SKIP LOCKED on PostgreSQL;
        BEGIN IMMEDIATE serialises claims on SQLite), so replicas take disjoint batches."""
        due = _outbox_head & (OutboxRow.next_attempt_at <= now) & or_(
            OutboxRow.lease_until.is_(None), OutboxRow.lease_until <= now)
        with self._session() as session:
            rows = _claim_rows(session, OutboxRow, due, OutboxRow.id, limit, {"lease_until": lease_until})
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
        return None if value is None else _aware(value)

    def pending(self) -> int:
        with self._session() as session:
            return session.execute(select(func.count()).select_from(OutboxRow)
                                   .where(OutboxRow.done_at.is_(None))).scalar_one()

    def _set(self, which, **values) -> None:
        with self._session() as session:
            session.execute(update(OutboxRow).where(which).values(**values)
                            .execution_options(synchronize_session=False))
            session.commit()


class SeenEvents(_Repository):
    def first_time(self, event_id: str, now: datetime) -> bool:
        """Record the event; False if it was recorded before (by this or another replica)."""
        with self._session() as session:
            session.add(SeenEventRow(event_id=event_id[:64], seen_at=now))
            try:
                session.commit()
            except IntegrityError:
                return False
        return True

    def forget_before(self, moment: datetime) -> None:
        with self._session() as session:
            session.execute(delete(SeenEventRow).where(SeenEventRow.seen_at < moment))
            session.commit()

"""Requests: how access requests are stored and changed.

Every change of a request's state is a compare-and-set (`UPDATE … WHERE id = ? AND state = ?`)
and reports whether it won, so concurrent clicks, retries and replicas cannot double an effect.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from bot.domain.errors import DuplicateError
from bot.domain.request import AccessRequest, ApprovalOutcome, Route
from storage import request_conditions as condition
from storage.base import Repository, claim_rows
from storage.mapping import rows_of, to_domain, to_row
from storage.tables import ApprovalRow, RequestRow


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

    def live(self) -> list[AccessRequest]:
        """Their requests that are waiting, approved, being granted, held or being taken back
        (not an access review's revocation of what they held: no request of theirs)."""
        return [to_domain(row) for row in self._session.execute(select(RequestRow).where(
            RequestRow.requester == self.requester, RequestRow.state.in_(condition.LIVE),
            RequestRow.route != Route.REVIEW.value)).scalars()]

    def asked_since(self, since: datetime) -> int:
        """How many requests (extensions included) they filed since `since`; a bundle's items
        are written by its approval, not asked for, so they do not count, nor does access an
        access review took away."""
        return self._session.execute(select(func.count()).select_from(RequestRow).where(
            RequestRow.requester == self.requester, RequestRow.bundle.is_(None),
            RequestRow.route != Route.REVIEW.value, RequestRow.created_at >= since)).scalar_one()

    def routed_since(self, rule: str, route: str, since: datetime) -> int:
        """How often `rule` approved their requests by `route` (e.g. auto) since `since`."""
        return self._session.execute(select(func.count()).select_from(RequestRow).where(
            RequestRow.requester == self.requester, RequestRow.rule == rule,
            RequestRow.route == route, RequestRow.bundle.is_(None),
            RequestRow.created_at >= since)).scalar_one()


# A compare-and-set: (request id, the state it must still be in, the changes (stored fields of
# AccessRequest: see storage/mapping.py), what is written with it, and only if it wins).
Move = tuple[str, str, dict, Iterable]


class Requests(Repository):
    """The changes of requests, each a compare-and-set (their reads: storage/request_queries.py).

    `also`: what is written in the same transaction as the change, and only if it happens, so
    a crash can never leave a state change without its record: the rows the audit log and the
    notifier built, and new requests (e.g. a bundle's items, as AccessRequest)."""

    def add(self, request: AccessRequest, also: Iterable = ()) -> None:
        with self._session() as session:
            session.add(to_row(request))
            session.add_all(rows_of(also))
            try:
                session.commit()
            except IntegrityError as exc:
                raise DuplicateError(str(exc.orig)) from None

    def guarded(self, requester: str,
                decide: Callable[[RequesterReads], tuple[Iterable, Iterable[Move]]]
                ) -> list[AccessRequest | None]:
        """Check and change one requester's requests atomically.

        `decide(reads)` runs with the requester's lock held, reads what it needs, and returns the
        writes: (new requests and rows to add, moves); it raises to write nothing.  Each move is a compare-and-set
        as in `move_each()`.  Two transitions of one person's requests at the same instant (two
        forms, two approvals, a grant and an extension, on any replica) are so checked one after
        the other, each seeing what the other wrote.  Returns the moved requests (None where a
        move lost); a uniqueness rule broken by an added request raises DuplicateError."""
        with self._session() as session:
            _lock_requester(session, requester)
            added, moves = decide(RequesterReads(session, requester))
            session.add_all(rows_of(added))
            try:
                session.flush()
            except IntegrityError as exc:
                session.rollback()
                raise DuplicateError(str(exc.orig)) from None
            rows = [self._apply(session, move) for move in moves]
            session.commit()
        return rows

    def move(self, request_id: str, expected_state: str, also: Iterable = (), **changes) -> bool:
        """Apply `changes` only if the request is still in `expected_state`; True if it was."""
        return self._update(RequestRow.state == expected_state, request_id, changes, also)

    def move_each(self, moves: Iterable[Move]) -> list[AccessRequest | None]:
        """Several `move()`s, each (request id, expected state, changes, also), in one
        transaction.  Each is its own compare-and-set: one that loses changes nothing and writes
        none of its `also`.  Returns each request as its change left it, or None where it lost
        (read by the UPDATE itself, RETURNING, not by another query)."""
        with self._session() as session:
            rows = [self._apply(session, move) for move in moves]
            session.commit()
        return rows

    def _apply(self, session: Session, move: Move) -> AccessRequest | None:
        request_id, expected_state, changes, also = move
        row = session.execute(self._cas(RequestRow.state == expected_state, request_id, changes)
                              .returning(RequestRow)).scalar_one_or_none()
        if row is None:
            return None
        session.add_all(rows_of(also))
        return to_domain(row)

    def attend(self, request_id: str, state: str, seen: datetime, also: Iterable = (), **changes) -> bool:
        """Act on `attention_at` once: only if it still holds the time this worker saw."""
        return self._update((RequestRow.state == state) & (RequestRow.attention_at == seen),
                            request_id, changes, also)

    def renew_lease(self, request_id: str, state: str, now: datetime, lease_until: datetime) -> bool:
        """Take over a request whose worker's lease has run out (it crashed or gave up)."""
        stale = (RequestRow.state == state) & condition.lease_over(now)
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
                session.add_all(rows_of(also))
            session.commit()
            return result.rowcount == 1

    @staticmethod
    def _cas(condition, request_id: str, changes: dict):
        # The session holds no copy of the row to keep in step: skip the ORM's synchronisation.
        return (update(RequestRow).where(RequestRow.id == request_id, condition).values(**changes)
                .execution_options(synchronize_session=False))

    def claim_revocations(self, now: datetime, lease_until: datetime, limit: int, *, revoking: str,
                          also: Callable[[AccessRequest], Iterable] = lambda request: ()
                          ) -> list[AccessRequest]:
        """Take up to `limit` connector revocations due now, in one transaction, each under a
        lease until `lease_until`: revocations whose worker's lease ran out are taken over
        (as `renew_lease` does), then expired active grants move to `revoking` (the state the
        transition table gives their expiry), each with `also(request)` (its audit event).  Manual requests are left to `move()`: their claim
        hands the owners a task.

        Each row is a compare-and-set, and rows another transaction holds are skipped (FOR
        UPDATE SKIP LOCKED on PostgreSQL; on SQLite BEGIN IMMEDIATE admits one writer at a
        time), so replicas claiming at once take disjoint batches.  Returns the requests as
        claimed, soonest expiry first."""
        with self._session() as session:
            taken_over = claim_rows(session, RequestRow, condition.revoking_abandoned(now),
                                     RequestRow.expires_at, limit, {"lease_until": lease_until})
            claimed = claim_rows(session, RequestRow, condition.expired(now) & RequestRow.manual.is_(False),
                                  RequestRow.expires_at, limit - len(taken_over),
                                  {"state": revoking, "lease_until": lease_until})
            newly_claimed = [to_domain(row) for row in claimed]
            session.add_all(rows_of(written for request in newly_claimed for written in also(request)))
            session.commit()
        return sorted([*map(to_domain, taken_over), *newly_claimed], key=lambda request: request.expires_at)

    def approve(self, request_id: str, approver: str, step: int, needed: int, last_step: bool,
                now: datetime, *, approved: str,
                also: Callable[[AccessRequest, ApprovalOutcome], Iterable] = lambda request, outcome: (),
                guard: Callable[[RequesterReads, AccessRequest, bool], None] | None = None
                ) -> tuple[ApprovalOutcome, AccessRequest | None]:
        """Count `approver`'s approval for `step`; once `needed` people of that step agree, move
        on to the next step, or to approved after the last one.

        Returns (outcome, the request after the change): see `ApprovalOutcome`; on APPROVED the
        request moved to `approved`, the state the transition table gives its approval.  The
        request row is locked for the whole transaction (FOR UPDATE on PostgreSQL, BEGIN
        IMMEDIATE on SQLite) so concurrent approvers are counted one at a time.

        `guard(reads, request, approves)` is called, under the requester's lock, before every
        approval is counted (`approves` False), and again before the approval that approves the
        request is written (`approves` True); it raises to write nothing (see `guarded()`).
        """
        with self._session() as session:
            if guard is not None:  # the requester never changes: their lock comes before the row's
                requester = session.execute(select(RequestRow.requester).where(
                    RequestRow.id == request_id)).scalar_one_or_none()
                _lock_requester(session, requester or "")
            row = session.execute(select(RequestRow).where(RequestRow.id == request_id)
                               .with_for_update()).scalar_one_or_none()
            if row is None or row.state != "pending":
                return ApprovalOutcome.CLOSED, None if row is None else to_domain(row)
            if row.step != step:
                return ApprovalOutcome.MOVED, to_domain(row)
            if session.get(ApprovalRow, (request_id, approver)) is not None:
                return ApprovalOutcome.DUPLICATE, to_domain(row)
            if guard is not None:
                guard(RequesterReads(session, row.requester), to_domain(row), False)
            session.add(ApprovalRow(request_id=request_id, approver=approver, approved_at=now, step=step))
            session.flush()
            approvers = session.execute(select(ApprovalRow.approver).where(
                ApprovalRow.request_id == request_id).order_by(ApprovalRow.approved_at)).scalars().all()
            in_step = session.execute(select(func.count()).select_from(ApprovalRow).where(
                ApprovalRow.request_id == request_id, ApprovalRow.step == step)).scalar_one()
            outcome = ApprovalOutcome.COUNTED
            if in_step >= needed and last_step:
                if guard is not None:
                    guard(RequesterReads(session, row.requester), to_domain(row), True)
                outcome, row.state, row.decided_by, row.decided_at = ApprovalOutcome.APPROVED, approved, ",".join(approvers), now
            elif in_step >= needed:
                outcome, row.step, row.reminders = ApprovalOutcome.NEXT_STEP, step + 1, 0
            request = to_domain(row)
            session.add_all(rows_of(also(request, outcome)))  # e.g. the audit event, which depends on the outcome
            session.commit()
            return outcome, request

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
            session.add_all(rows_of(also))
            session.commit()
            return True

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
            session.add_all(rows_of(also))
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

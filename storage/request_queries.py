"""Reading requests: what the use cases look up, the due-work scan, listings and metrics.

Nothing here writes; the changes are storage/requests.py's compare-and-sets.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import func, or_, select

from bot.domain.request import AccessRequest
from storage import request_conditions as condition
from storage.base import Repository, aware
from storage.mapping import to_domain
from storage.requests import RequesterReads
from storage.tables import ApprovalRow, RequestRow


def _requests(result) -> list[AccessRequest]:
    return [to_domain(row) for row in result.scalars()]


class RequestQueries(Repository):
    # -- what the use cases look up ------------------------------------------------------------
    def get(self, request_id: str) -> AccessRequest | None:
        with self._reading() as session:
            row = session.get(RequestRow, request_id)
            return None if row is None else to_domain(row)

    def read_as(self, requester: str, look: Callable[[RequesterReads], object]):
        """`look(reads)` over the requester's requests as they stand, without their lock (what
        it finds is checked again by `guarded()` when something is written)."""
        with self._reading() as session:
            return look(RequesterReads(session, requester))

    def children(self, bundle_id: str) -> list[AccessRequest]:
        """The item requests of a bundle."""
        with self._reading() as session:
            return _requests(session.execute(select(RequestRow).where(RequestRow.bundle == bundle_id)
                                             .order_by(RequestRow.entitlement_name)))

    def extension_of(self, original_id: str) -> AccessRequest | None:
        """A pending or approved (not yet applied) extension of this request."""
        with self._reading() as session:
            row = session.execute(select(RequestRow).where(
                RequestRow.extends == original_id, RequestRow.state.in_(("pending", "approved"))
            ).limit(1)).scalars().first()
            return None if row is None else to_domain(row)

    def open_for(self, requester: str, connector_id: str, entitlement_id: str) -> AccessRequest | None:
        """The requester's undecided or live request for this entitlement, if any."""
        live = ("pending", "approved", "provisioning", "active")
        with self._reading() as session:
            row = session.execute(select(RequestRow).where(
                RequestRow.requester == requester, RequestRow.connector_id == connector_id,
                RequestRow.entitlement_id == entitlement_id, RequestRow.state.in_(live)
            ).limit(1)).scalars().first()
            return None if row is None else to_domain(row)

    def approvals(self, request_id: str) -> dict[str, int]:
        """Who approved the request so far, each with the step they approved (0-based)."""
        with self._session() as session:
            return dict(session.execute(select(ApprovalRow.approver, ApprovalRow.step).where(
                ApprovalRow.request_id == request_id).order_by(ApprovalRow.approved_at)).all())

    def revoked_since(self, since: datetime) -> list[AccessRequest]:
        with self._session() as session:
            return _requests(session.execute(select(RequestRow).where(
                RequestRow.state == "revoked", RequestRow.revoked_at >= since)))

    def failed_since(self, since: datetime) -> list[AccessRequest]:
        """Grants given up (state failed) approved since `since`."""
        with self._session() as session:
            return _requests(session.execute(select(RequestRow).where(
                RequestRow.state == "failed", RequestRow.decided_at >= since)))

    # -- the due-work scan --------------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 500, revocations: bool = True) -> list[tuple[str, str]]:
        """(id, state) of requests a worker should act on now.  `revocations=False` leaves out
        what `Requests.claim_revocations()` takes (and the expiry warnings of those expired grants)."""
        with self._reading() as session:
            work = [RequestRow.state == "approved",
                    condition.expired(now),
                    condition.WORKING_AUTOMATICALLY & condition.lease_over(now),
                    RequestRow.state.in_(("pending", "active")) & (RequestRow.attention_at <= now)]
            if not revocations:
                connector_revocation = RequestRow.manual.is_(False) & (
                    condition.expired(now) | (RequestRow.state == "revoking"))
                work = [each & ~connector_revocation for each in work]
            rows = session.execute(select(RequestRow.id, RequestRow.state).where(or_(*work))
                                   .order_by(RequestRow.expires_at).limit(limit)).all()
            return [(row.id, row.state) for row in rows]

    def next_deadline(self) -> datetime | None:
        """The earliest moment at which `due()` will return something new."""
        earliest = [  # one query: the scheduler asks after every run
            select(func.min(RequestRow.expires_at)).where(RequestRow.state == "active"),
            select(func.min(RequestRow.lease_until)).where(condition.WORKING_AUTOMATICALLY),
            select(func.min(RequestRow.decided_at)).where(RequestRow.state == "approved"),
            select(func.min(RequestRow.attention_at)).where(RequestRow.state.in_(("pending", "active"))),
        ]
        with self._reading() as session:
            candidates = session.execute(select(*(query.scalar_subquery() for query in earliest))).one()
        # UTCDateTime is bypassed by aggregate functions on SQLite; normalise here.
        return min((aware(c) for c in candidates if c is not None), default=None)

    # -- listings, drift, slots and metrics ----------------------------------------------------
    def of_requester(self, requester: str, states: tuple[str, ...]) -> list[AccessRequest]:
        with self._session() as session:
            return _requests(session.execute(select(RequestRow).where(
                RequestRow.requester == requester, RequestRow.state.in_(states)
            ).order_by(RequestRow.created_at)))

    def in_states(self, *states: str) -> list[AccessRequest]:
        with self._session() as session:
            return _requests(session.execute(select(RequestRow).where(RequestRow.state.in_(states))
                                             .order_by(RequestRow.created_at)))

    def for_connector(self, connector_id: str, *states: str) -> list[AccessRequest]:
        with self._session() as session:
            return _requests(session.execute(select(RequestRow).where(
                RequestRow.connector_id == connector_id, RequestRow.state.in_(states))))

    def on_pairs(self, connector_id: str, pairs: set[tuple[str, str]],
                 *states: str) -> list[AccessRequest]:
        """Requests in these states for any of the (entitlement id, account id) pairs."""
        entitlements, found = sorted({entitlement for entitlement, _ in pairs}), []
        with self._session() as session:
            for start in range(0, len(entitlements), 500):  # within any database's bound variables
                found += _requests(session.execute(select(RequestRow).where(
                    RequestRow.connector_id == connector_id, RequestRow.state.in_(states),
                    RequestRow.entitlement_id.in_(entitlements[start:start + 500]))))
        return [request for request in found if (request.entitlement_id, request.account_id) in pairs]

    def granting_on(self, connector_id: str, account_id: str) -> list[AccessRequest]:
        """Latchkey's own live grants to one account in one connector (see
        storage/request_conditions.py)."""
        with self._reading() as session:
            return _requests(session.execute(select(RequestRow).where(
                condition.granting_on(connector_id, account_id))))

    def count_by_state(self) -> dict[str, int]:
        """How many requests are in each state (for metrics); one GROUP BY, no rows loaded."""
        with self._session() as session:
            return dict(session.execute(select(RequestRow.state, func.count())
                                        .group_by(RequestRow.state)).all())

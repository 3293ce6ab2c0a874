"""Repositories: the only way the rest of Latchkey reads and writes the database.

Every change of a request's state is a compare-and-set (`UPDATE … WHERE id = ? AND state = ?`)
and reports whether it won, so concurrent clicks, retries and replicas cannot double an effect.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from itertools import islice

from sqlalchemy import Engine, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from storage.tables import (AccountRow, ApprovalRow, AuditRow, EntitlementRow, HoldingRow,
                            MessageRow, PersonRow, RequestRow, SyncRow)


class DuplicateError(Exception):
    """The row would break a uniqueness rule (e.g. a second pending request for the same thing)."""


class _Repository:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def _session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)


class Requests(_Repository):
    def add(self, row: RequestRow) -> None:
        with self._session() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError as exc:
                raise DuplicateError(str(exc.orig)) from None

    def get(self, request_id: str) -> RequestRow | None:
        with self._session() as session:
            return session.get(RequestRow, request_id)

    def move(self, request_id: str, expected_state: str, **changes) -> bool:
        """Apply `changes` only if the request is still in `expected_state`; True if it was."""
        return self._update(RequestRow.state == expected_state, request_id, changes)

    def renew_lease(self, request_id: str, state: str, now: datetime, lease_until: datetime) -> bool:
        """Take over a request whose worker's lease has run out (it crashed or gave up)."""
        stale = (RequestRow.state == state) & or_(RequestRow.lease_until.is_(None),
                                                 RequestRow.lease_until <= now)
        return self._update(stale, request_id, {"lease_until": lease_until})

    def set_once(self, request_id: str, field: str, value, **with_it) -> bool:
        """Record a fact that must never change once known (e.g. access held before the grant)."""
        column = getattr(RequestRow, field)
        return self._update(column.is_(None), request_id, {field: value, **with_it})

    def _update(self, condition, request_id: str, changes: dict) -> bool:
        with self._session() as session:
            result = session.execute(
                update(RequestRow).where(RequestRow.id == request_id, condition).values(**changes))
            session.commit()
            return result.rowcount == 1

    def approve(self, request_id: str, approver: str, needed: int, now: datetime
                ) -> tuple[str, RequestRow | None]:
        """Count `approver`'s approval; move pending → approved once `needed` distinct ones exist.

        Returns (outcome, row after the change); outcome is "counted", "duplicate" (this
        approver had already approved) or "closed" (the request is no longer pending).  The request row is locked for the whole transaction (FOR UPDATE on
        PostgreSQL, BEGIN IMMEDIATE on SQLite) so concurrent approvers are counted one at a time.
        """
        with self._session() as session:
            row = session.execute(select(RequestRow).where(RequestRow.id == request_id)
                               .with_for_update()).scalar_one_or_none()
            if row is None or row.state != "pending":
                return "closed", row
            if session.get(ApprovalRow, (request_id, approver)) is not None:
                return "duplicate", row
            session.add(ApprovalRow(request_id=request_id, approver=approver, approved_at=now))
            session.flush()
            approvers = session.execute(select(ApprovalRow.approver).where(
                ApprovalRow.request_id == request_id).order_by(ApprovalRow.approved_at)).scalars().all()
            if len(approvers) >= needed:
                row.state, row.decided_by, row.decided_at = "approved", ",".join(approvers), now
            session.commit()
            return "counted", row

    def open_for(self, requester: str, connector_id: str, entitlement_id: str) -> RequestRow | None:
        """The requester's undecided or live request for this entitlement, if any."""
        live = ("pending", "approved", "provisioning", "active")
        with self._session() as session:
            return session.execute(select(RequestRow).where(
                RequestRow.requester == requester, RequestRow.connector_id == connector_id,
                RequestRow.entitlement_id == entitlement_id, RequestRow.state.in_(live)
            ).limit(1)).scalars().first()

    def due(self, now: datetime, limit: int = 500) -> list[tuple[str, str]]:
        """(id, state) of requests a worker should act on now."""
        with self._session() as session:
            lease_over = or_(RequestRow.lease_until.is_(None), RequestRow.lease_until <= now)
            rows = session.execute(select(RequestRow.id, RequestRow.state).where(or_(
                RequestRow.state == "approved",
                (RequestRow.state == "active") & (RequestRow.expires_at <= now),
                RequestRow.state.in_(("provisioning", "revoking")) & lease_over,
            )).order_by(RequestRow.expires_at).limit(limit)).all()
            return [(row.id, row.state) for row in rows]

    def next_deadline(self) -> datetime | None:
        """The earliest moment at which `due()` will return something new."""
        with self._session() as session:
            candidates = [
                session.execute(select(func.min(RequestRow.expires_at))
                             .where(RequestRow.state == "active")).scalar(),
                session.execute(select(func.min(RequestRow.lease_until))
                             .where(RequestRow.state.in_(("provisioning", "revoking")))).scalar(),
                session.execute(select(func.min(RequestRow.decided_at))
                             .where(RequestRow.state == "approved")).scalar(),
            ]
        # UTCDateTime is bypassed by aggregate functions on SQLite; normalise here.
        return min((_aware(c) for c in candidates if c is not None), default=None)

    def in_states(self, *states: str) -> list[RequestRow]:
        with self._session() as session:
            return list(session.execute(select(RequestRow).where(RequestRow.state.in_(states))
                                     .order_by(RequestRow.created_at)).scalars())


def _aware(value: datetime | str) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class Catalog(_Repository):
    """The synced picture of each connector: entitlements, accounts, and who holds what."""

    def replace(self, connector_id: str, entitlements: Iterable[dict], accounts: Iterable[dict],
                holdings: Iterable[dict], now: datetime) -> SyncRow:
        """Swap in a new snapshot for one connector atomically: readers see old or new, never half."""
        tables = ((EntitlementRow, entitlements), (AccountRow, accounts), (HoldingRow, holdings))
        counts = {}
        with self._session() as session:
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

    def search(self, text: str, limit: int = 100) -> list[EntitlementRow]:
        """Requestable entitlements whose name contains `text` (any case), best first."""
        pattern = "%" + text.strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self._session() as session:
            return list(session.execute(select(EntitlementRow).where(
                EntitlementRow.requestable.is_(True),
                EntitlementRow.name.ilike(pattern, escape="\\"),
            ).order_by(func.length(EntitlementRow.name), EntitlementRow.name).limit(limit)).scalars())

    def entitlement(self, connector_id: str, entitlement_id: str) -> EntitlementRow | None:
        with self._session() as session:
            return session.get(EntitlementRow, (connector_id, entitlement_id))

    def account_by_email(self, connector_id: str, email: str) -> AccountRow | None:
        with self._session() as session:
            return session.execute(select(AccountRow).where(
                AccountRow.connector_id == connector_id, AccountRow.email == email.lower()
            ).limit(1)).scalars().first()

    def holds(self, connector_id: str, entitlement_id: str, account_id: str) -> bool:
        with self._session() as session:
            return session.get(HoldingRow, (connector_id, entitlement_id, account_id)) is not None

    def last_sync(self, connector_id: str) -> SyncRow | None:
        with self._session() as session:
            return session.get(SyncRow, connector_id)


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    iterator = iter(rows)
    while chunk := list(islice(iterator, size)):
        yield chunk


class AuditLog(_Repository):
    """Append-only record of everything that happened: who, what, when, why."""

    def append(self, at: datetime, actor: str, action: str, request_id: str | None = None,
               **detail) -> None:
        with self._session() as session:
            session.add(AuditRow(at=at, actor=actor, action=action, request_id=request_id,
                                 detail=json.dumps(detail, default=str, sort_keys=True)))
            session.commit()

    def events(self, request_id: str | None = None) -> list[AuditRow]:
        with self._session() as session:
            query = select(AuditRow).order_by(AuditRow.seq)
            if request_id:
                query = query.where(AuditRow.request_id == request_id)
            return list(session.execute(query).scalars())


class Messages(_Repository):
    """Where the bot's messages about each request live, so they can be updated later."""

    def add(self, request_id: str, recipient: str, role: str, channel: str, ts: str) -> None:
        with self._session() as session:
            session.add(MessageRow(request_id=request_id, recipient=recipient, role=role,
                                   channel=channel, ts=ts))
            session.commit()

    def for_request(self, request_id: str, role: str | None = None) -> list[MessageRow]:
        with self._session() as session:
            query = select(MessageRow).where(MessageRow.request_id == request_id)
            if role:
                query = query.where(MessageRow.role == role)
            return list(session.execute(query.order_by(MessageRow.id)).scalars())


class People(_Repository):
    def get(self, person_id: str) -> PersonRow | None:
        with self._session() as session:
            return session.get(PersonRow, person_id)

    def put(self, person_id: str, email: str | None, name: str, now: datetime) -> None:
        with self._session() as session:
            session.merge(PersonRow(id=person_id, email=email and email.lower(), name=name,
                                    fetched_at=now))
            session.commit()

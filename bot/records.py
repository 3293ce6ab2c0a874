"""Stored request rows as the core's AccessRequest objects, and the new rows the core writes.

The one place the use cases meet `storage.tables`: they build rows here and read them back with
`to_domain`.  `DuplicateError` is what storing a second open request for one thing raises.
"""

from __future__ import annotations

import json
import secrets
from datetime import datetime, timedelta

from bot.domain.request import AccessRequest, BundleItem, Route, State
from storage.requests import DuplicateError, RequesterReads
from storage.tables import RequestRow

__all__ = ["DuplicateError", "RequesterLedger", "bundle_item_rows", "extension_row", "to_domain"]


def to_domain(row: RequestRow) -> AccessRequest:
    return AccessRequest(
        id=row.id, requester=row.requester, requester_email=row.requester_email,
        account_id=row.account_id, connector_id=row.connector_id,
        entitlement_id=row.entitlement_id, entitlement_name=row.entitlement_name,
        duration=timedelta(seconds=row.duration_seconds), justification=row.justification,
        state=State(row.state), created_at=row.created_at,
        decided_by=tuple(filter(None, row.decided_by.split(","))), decided_at=row.decided_at,
        decision_reason=row.decision_reason, granted_at=row.granted_at,
        expires_at=row.expires_at, revoked_at=row.revoked_at, preexisting=row.preexisting,
        manual=row.manual, prior_detail=row.prior_detail, attempts=row.attempts,
        last_error=row.last_error, attention_at=row.attention_at, reminders=row.reminders,
        rule=row.rule, step=row.step, conflict=row.conflict, ticket=row.ticket, route=Route(row.route),
        reviewed_by=row.reviewed_by, extends=row.extends, bundle=row.bundle,
        items=tuple(BundleItem(**item) for item in json.loads(row.items)) if row.items else ())


class RequesterLedger:
    """A requester's stored requests as the invariants read them (bot/invariants.py `Ledger`)."""

    def __init__(self, reads: RequesterReads) -> None:
        self._reads = reads

    def live(self) -> list[AccessRequest]:
        return [to_domain(row) for row in self._reads.live()]

    def asked_since(self, since: datetime) -> int:
        return self._reads.asked_since(since)

    def routed_since(self, rule: str, route: Route, since: datetime) -> int:
        return self._reads.routed_since(rule, route, since)


def bundle_item_rows(bundle: RequestRow) -> list[RequestRow]:
    """The item requests an approved bundle becomes, written with its approval."""
    return [RequestRow(
        id=secrets.token_hex(6), requester=bundle.requester, requester_email=bundle.requester_email,
        account_id=item.account_id, connector_id=item.connector_id,
        entitlement_id=item.entitlement_id, entitlement_name=item.name,
        duration_seconds=bundle.duration_seconds, justification=bundle.justification,
        state=State.APPROVED.value, created_at=bundle.created_at, decided_by=bundle.decided_by,
        decided_at=bundle.decided_at, rule=bundle.rule, route=bundle.route, ticket=bundle.ticket,
        conflict=bundle.conflict,
        manual=item.manual, bundle=bundle.id) for item in to_domain(bundle).items]


def extension_row(original: AccessRequest, person: str, duration: timedelta, justification: str,
                  now: datetime, attention_at: datetime | None, by_people: bool) -> RequestRow:
    """A request for more time on `original`: pending for people to decide, or else approved
    by Latchkey at once."""
    return RequestRow(
        id=secrets.token_hex(6), requester=person, requester_email=original.requester_email,
        account_id=original.account_id, connector_id=original.connector_id,
        entitlement_id=original.entitlement_id, entitlement_name=original.entitlement_name,
        duration_seconds=int(duration.total_seconds()), justification=justification,
        state=State.PENDING.value if by_people else State.APPROVED.value,
        created_at=now, rule=original.rule, conflict=original.conflict,
        route=Route.PEOPLE if by_people else Route.AUTO,
        extends=original.id, manual=original.manual, preexisting=original.preexisting,
        attention_at=attention_at if by_people else None,
        decided_by="" if by_people else "latchkey", decided_at=None if by_people else now)

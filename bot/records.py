"""Stored request rows as the core's AccessRequest objects."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.domain.request import AccessRequest, BundleItem, State
from storage.repositories import RequesterReads
from storage.tables import RequestRow


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
        rule=row.rule, step=row.step, conflict=row.conflict, ticket=row.ticket, route=row.route,
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

    def routed_since(self, rule: str, route: str, since: datetime) -> int:
        return self._reads.routed_since(rule, route, since)

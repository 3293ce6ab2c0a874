"""Stored request rows as the core's AccessRequest objects, and back.

The core reads and writes AccessRequest (bot/domain/request.py); only storage/ knows the
columns.  A change passed to a compare-and-set is a dict of stored fields of AccessRequest by
column name (`lease_until=None`, `state="active"`): they are the same but for `duration`
(stored as `duration_seconds`), `decided_by` (stored comma-separated) and `items` (JSON), which
no change touches.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from datetime import timedelta

from bot.domain.request import AccessRequest, BundleItem, Route, State
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
        manual=row.manual, prior_detail=row.prior_detail, lease_until=row.lease_until,
        attempts=row.attempts, last_error=row.last_error, attention_at=row.attention_at,
        reminders=row.reminders, rule=row.rule, step=row.step, conflict=row.conflict,
        ticket=row.ticket, ticket_summary=row.ticket_summary,
        ticket_status=row.ticket_status, ticket_url=row.ticket_url, route=Route(row.route), reviewed_by=row.reviewed_by,
        extends=row.extends, bundle=row.bundle,
        items=tuple(BundleItem(**item) for item in json.loads(row.items)) if row.items else (),
        filed_by=row.filed_by)


def to_row(request: AccessRequest) -> RequestRow:
    return RequestRow(
        id=request.id, requester=request.requester, requester_email=request.requester_email,
        account_id=request.account_id, connector_id=request.connector_id,
        entitlement_id=request.entitlement_id, entitlement_name=request.entitlement_name,
        duration_seconds=int(request.duration.total_seconds()), justification=request.justification,
        state=request.state.value, created_at=request.created_at,
        decided_by=",".join(request.decided_by), decided_at=request.decided_at,
        decision_reason=request.decision_reason, granted_at=request.granted_at,
        expires_at=request.expires_at, revoked_at=request.revoked_at, preexisting=request.preexisting,
        manual=request.manual, prior_detail=request.prior_detail, lease_until=request.lease_until,
        attempts=request.attempts, last_error=request.last_error, attention_at=request.attention_at,
        reminders=request.reminders, rule=request.rule, step=request.step, conflict=request.conflict,
        ticket=request.ticket, ticket_summary=request.ticket_summary,
        ticket_status=request.ticket_status, ticket_url=request.ticket_url, route=request.route.value, reviewed_by=request.reviewed_by,
        extends=request.extends, bundle=request.bundle,
        items=json.dumps([asdict(item) for item in request.items]) if request.items else None,
        filed_by=request.filed_by)


def rows_of(written: Iterable[object]) -> list[object]:
    """What is written along with a change, as rows: new requests (AccessRequest) mapped, and
    the rows the audit log and the notifier built passed on as they are."""
    return [to_row(each) if isinstance(each, AccessRequest) else each for each in written]

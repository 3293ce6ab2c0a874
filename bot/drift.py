"""Drift: the target no longer matches what Latchkey did.

After a sync, compare the target's holdings with Latchkey's own record: access Latchkey granted
that the target no longer shows, or access it revoked that the target still shows.  Each finding
is logged, audited and sent to the owners once per request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain.events import AuditAction, DriftFound
from bot.domain.request import AccessRequest, State
from bot.lifecycle import Lifecycle
from bot.slots import covered, slot_of

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=7)  # how long after a revocation we keep checking it stayed revoked

MISSING = "Latchkey granted this, but the target no longer shows it."
STILL_THERE = "Latchkey revoked this, but the target still shows it."


def report_drift(lifecycle: Lifecycle, connector_id: str, snapshot_started: datetime) -> list[tuple[str, str]]:
    """Check the snapshot taken from `snapshot_started` on; return (request id, finding) pairs."""
    findings = []
    requests, catalog = lifecycle.queries, lifecycle.catalog
    for request in requests.for_connector(connector_id, State.ACTIVE, State.REVOKED):
        if request.preexisting or request.manual:
            continue  # not ours to track, or done by a person outside Latchkey's sight
        if catalog.entitlement(connector_id, request.entitlement_id) is None:
            continue  # not in this snapshot (e.g. a type the token may not read): nothing to compare
        held = catalog.holds(connector_id, request.entitlement_id, request.account_id)
        if not held and request.state is State.ACTIVE and (slot := slot_of(
                lifecycle.connectors[connector_id], request.entitlement_id)):
            # A wider level in the slot (another live grant, or the baseline) includes this one.
            held = covered(lifecycle.connectors[connector_id], slot,
                           catalog.held_by_account(connector_id, request.account_id))
        if request.state is State.ACTIVE and request.granted_at < snapshot_started and not held:
            findings.append((request, MISSING))
        elif (request.state is State.REVOKED and request.revoked_at < snapshot_started
              and request.revoked_at > snapshot_started - LOOK_BACK and held
              and not requests.open_for(request.requester, connector_id, request.entitlement_id)):
            findings.append((request, STILL_THERE))
    for request, finding in findings:
        _report(lifecycle, request, finding)
    return [(request.id, finding) for request, finding in findings]


def _report(lifecycle: Lifecycle, request: AccessRequest, finding: str) -> None:
    if lifecycle.audit.has(request.id, AuditAction.DRIFT):
        return  # already told; a sync every few minutes must not repeat it
    log.warning("drift on request %s (%s %s): %s", request.id, request.connector_id, request.entitlement_id, finding)
    lifecycle.core.report(DriftFound(request_id=request.id, finding=finding,
                                     approvers=tuple(lifecycle.approvers_of(request))))

"""Drift: the target no longer matches what Latchkey did.

After a sync, compare the target's holdings with Latchkey's own record: access Latchkey granted
that the target no longer shows, or access it revoked that the target still shows.  Each finding
is logged, audited and sent to the owners once per request.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from bot.domain.events import AuditAction, DriftFound
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
    for row in requests.for_connector(connector_id, "active", "revoked"):
        if row.preexisting or row.manual:
            continue  # not ours to track, or done by a person outside Latchkey's sight
        if catalog.entitlement(connector_id, row.entitlement_id) is None:
            continue  # not in this snapshot (e.g. a type the token may not read): nothing to compare
        held = catalog.holds(connector_id, row.entitlement_id, row.account_id)
        if not held and row.state == "active" and (slot := slot_of(
                lifecycle.connectors[connector_id], row.entitlement_id)):
            # A wider level in the slot (another live grant, or the baseline) includes this one.
            held = covered(lifecycle.connectors[connector_id], slot,
                           catalog.held_by_account(connector_id, row.account_id))
        if row.state == "active" and row.granted_at < snapshot_started and not held:
            findings.append((row, MISSING))
        elif (row.state == "revoked" and row.revoked_at < snapshot_started
              and row.revoked_at > snapshot_started - LOOK_BACK and held
              and not requests.open_for(row.requester, connector_id, row.entitlement_id)):
            findings.append((row, STILL_THERE))
    for row, finding in findings:
        _report(lifecycle, row, finding)
    return [(row.id, finding) for row, finding in findings]


def _report(lifecycle: Lifecycle, row, finding: str) -> None:
    if lifecycle.audit.has(row.id, AuditAction.DRIFT):
        return  # already told; a sync every few minutes must not repeat it
    log.warning("drift on request %s (%s %s): %s", row.id, row.connector_id, row.entitlement_id, finding)
    lifecycle.core.report(DriftFound(request_id=row.id, finding=finding,
                                     approvers=tuple(lifecycle.approvers_of(row))))

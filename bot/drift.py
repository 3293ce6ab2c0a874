"""Drift: the target no longer matches what Latchkey did.

Compare the target's holdings with Latchkey's own record: access Latchkey granted that the
target no longer shows, or access it revoked that the target still shows.  Each finding is
logged, audited and sent to the owners once per request.

Two moments look: after a full sync, every request of the connector against the fresh snapshot
(`report_drift`); after a page of the connector's change feed, only the requests on the
memberships that changed (`report_changed`), so that a change made outside Latchkey is
reported within the poll interval.  A feed may run a little behind the target (Latchkey's own
grant or revocation need not be in the log yet when an older change to the same membership is),
so a finding from the feed is reported only once the target, read now, agrees.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from bot.domain.events import AuditAction, DriftFound
from bot.domain.request import AccessRequest, State
from bot.lifecycle import Lifecycle
from bot.slots import covered, slot_of
from connectors.base import ConnectorError

log = logging.getLogger(__name__)

LOOK_BACK = timedelta(days=7)  # how long after a revocation we keep checking it stayed revoked

MISSING = "Latchkey granted this, but the target no longer shows it."
STILL_THERE = "Latchkey revoked this, but the target still shows it."

# The sync and the feed's poller may look at the same request at once: the check that it was
# not reported yet and the report go together.
_REPORTING = threading.Lock()


def report_drift(lifecycle: Lifecycle, connector_id: str, snapshot_started: datetime) -> list[tuple[str, str]]:
    """Check the snapshot taken from `snapshot_started` on; return (request id, finding) pairs."""
    requests = lifecycle.queries.for_connector(connector_id, State.ACTIVE, State.REVOKED)
    return _report_all(lifecycle, _findings(lifecycle, connector_id, requests, snapshot_started))


def report_changed(lifecycle: Lifecycle, connector_id: str, pairs: set[tuple[str, str]],
                   read_at: datetime) -> list[tuple[str, str]]:
    """Check the requests on the (entitlement id, account id) pairs a change feed just changed
    (read at `read_at`); return (request id, finding) pairs, each confirmed by the target."""
    requests = lifecycle.queries.on_pairs(connector_id, pairs, State.ACTIVE, State.REVOKED)
    found = _findings(lifecycle, connector_id, requests, read_at)
    return _report_all(lifecycle, [(request, finding) for request, finding in found
                                   if _target_agrees(lifecycle, request, finding)])


def _findings(lifecycle: Lifecycle, connector_id: str, requests: Iterable[AccessRequest],
              snapshot_started: datetime) -> list[tuple[AccessRequest, str]]:
    findings = []
    queries, catalog = lifecycle.queries, lifecycle.catalog
    for request in requests:
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
              and not queries.open_for(request.requester, connector_id, request.entitlement_id)):
            findings.append((request, STILL_THERE))
    return findings


def _target_agrees(lifecycle: Lifecycle, request: AccessRequest, finding: str) -> bool:
    """Whether the target, read now, shows what the finding says (held for STILL_THERE)."""
    connector = lifecycle.connectors[request.connector_id]
    if slot_of(connector, request.entitlement_id):
        return True  # a level among several: the catalog's reading of the slot stands
    try:
        held = connector.has_grant(request.entitlement_id, request.account_id)
    except ConnectorError as exc:
        log.warning("drift on request %s: cannot read %s back (%s); trusting the change feed",
                    request.id, request.entitlement_id, exc)
        return True
    return held == (finding == STILL_THERE)


def _report_all(lifecycle: Lifecycle, findings: list[tuple[AccessRequest, str]]) -> list[tuple[str, str]]:
    with _REPORTING:
        for request, finding in findings:
            _report(lifecycle, request, finding)
    return [(request.id, finding) for request, finding in findings]


def _report(lifecycle: Lifecycle, request: AccessRequest, finding: str) -> None:
    if lifecycle.audit.has(request.id, AuditAction.DRIFT):
        return  # already told; a sync every few minutes must not repeat it
    log.warning("drift on request %s (%s %s): %s", request.id, request.connector_id, request.entitlement_id, finding)
    lifecycle.core.report(DriftFound(request_id=request.id, finding=finding,
                                     approvers=tuple(lifecycle.approvers_of(request))))

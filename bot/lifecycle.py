"""The request lifecycle: submit · approve · deny · cancel · provision · expire · revoke.

Every state change goes through `_move()`, which checks the step against the transition table
and applies it as a compare-and-set in the database; whoever loses a race simply stops.  Slow
calls to the target system happen outside any transaction, under a lease, so a crash mid-way
leaves a request that the next worker (after a restart, or on another replica) picks up again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.approvers import ApproverRouting
from bot.domain.errors import (AlreadyDecidedError, InvalidRequestError, NotAnApproverError,
                               NotRequesterError, RequestNotFoundError, SelfApprovalError)
from bot.domain.policy import Policy, describe_duration
from bot.domain.request import AccessRequest, State, Step, advance
from bot.ports import Clock, Notifier, Person
from connectors.base import (Connector, ConnectorError, GrantOutcome, NotFoundError, Prior,
                             TransientError)
from storage.repositories import AuditLog, Catalog, DuplicateError, Requests
from storage.tables import RequestRow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # how long a worker may hold a request before others take over
GRANT_ATTEMPTS = 3  # rounds of (already retried) connector calls before a grant is given up
ALERT_AFTER_FAILED_REVOKES = 3


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(15 * 2 ** (attempt - 1), 600))


@dataclass
class Lifecycle:
    requests: Requests
    catalog: Catalog
    audit: AuditLog
    connectors: dict[str, Connector]
    provisioning: dict[str, bool]  # connector id → may Latchkey change it?
    policy: Policy
    approvers: ApproverRouting
    notifier: Notifier
    clock: Clock
    wake: Callable[[datetime], None] = lambda when: None  # tell the scheduler of a new deadline

    # -- submit ----------------------------------------------------------------------------
    def submit(self, requester: Person, connector_id: str, entitlement_id: str,
               duration: timedelta | None, justification: str) -> AccessRequest:
        """Validate and store a new pending request, then ask its approvers."""
        problems, row = self._validate(requester, connector_id, entitlement_id, duration,
                                       justification.strip())
        if problems:
            raise InvalidRequestError(problems)
        try:
            self.requests.add(row)
        except DuplicateError:
            raise InvalidRequestError({"access": "You already have a pending request for this."}) from None
        request = _to_domain(row)
        self.audit.append(request.created_at, requester.id, "submitted", request.id,
                          entitlement=request.entitlement_id, connector=connector_id,
                          duration=describe_duration(request.duration),
                          justification=request.justification)
        self.notifier.request_submitted(request, self._approvers(request))
        return request

    def _validate(self, requester: Person, connector_id: str, entitlement_id: str,
                  duration: timedelta | None, justification: str):
        problems: dict[str, str] = {}
        if (duration_problem := self.policy.duration_problem(duration)):
            problems["duration"] = duration_problem
        if not justification:
            problems["justification"] = "Say why you need this access."
        entitlement = self.catalog.entitlement(connector_id, entitlement_id)
        if entitlement is None or not entitlement.requestable:
            problems["access"] = "That is not something you can request. Pick an item from the list."
            return problems, None
        if access_problem := self._access_problem(requester, connector_id, entitlement):
            problems["access"] = access_problem
        if problems:
            return problems, None
        account = self.catalog.account_by_email(connector_id, requester.email)
        return problems, RequestRow(
            id=secrets.token_hex(6), requester=requester.id, requester_email=requester.email,
            account_id=account.id, connector_id=connector_id, entitlement_id=entitlement.id,
            entitlement_name=entitlement.name, duration_seconds=int(duration.total_seconds()),
            justification=justification, state=State.PENDING.value, created_at=self.clock.now())

    def _access_problem(self, requester: Person, connector_id: str, entitlement) -> str | None:
        if not self.provisioning.get(connector_id, False):
            return f"Latchkey cannot grant {entitlement.name} automatically (provisioning is off)."
        account = requester.email and self.catalog.account_by_email(connector_id, requester.email)
        if not account or not account.active:
            email = requester.email or "your Slack profile (it shows no email)"
            return f"There is no active {connector_id} account for {email}."
        if self.catalog.holds(connector_id, entitlement.id, account.id):
            return f"You already have {entitlement.name}."
        if (existing := self.requests.open_for(requester.id, connector_id, entitlement.id)):
            if existing.state == State.ACTIVE:
                return f"You already have {entitlement.name} through request {existing.id}."
            return f"You already have a request for {entitlement.name} waiting ({existing.id})."
        if not [a for a in self.approvers.approvers_for(connector_id) if a != requester.id]:
            return "Nobody but you can approve this, and nobody approves their own request."
        return None

    # -- decisions -------------------------------------------------------------------------
    def approve(self, request_id: str, approver: str) -> AccessRequest:
        """Count an approval; once enough agree, provision the access straight away."""
        request = self.check_decidable(request_id, approver)
        outcome, row = self.requests.approve(request_id, approver, self.policy.approvals,
                                             self.clock.now())
        request = _to_domain(row)
        if outcome != "counted":
            raise AlreadyDecidedError(request)
        if request.state != State.APPROVED:
            self.audit.append(self.clock.now(), approver, "approval_counted", request_id)
            self.notifier.approval_counted(request, approver, self.policy.approvals)
            return request
        self.audit.append(request.decided_at, approver, "approved", request_id,
                          approvers=list(request.decided_by))
        self.notifier.request_approved(request)
        return self.provision(request_id) or request

    def deny(self, request_id: str, approver: str, reason: str) -> AccessRequest:
        self.check_decidable(request_id, approver)
        now = self.clock.now()
        request = self._move(request_id, Step.DENY, approver, decided_by=approver,
                             decided_at=now, decision_reason=reason.strip() or None)
        self.notifier.request_denied(request)
        return request

    def cancel(self, request_id: str, person: str) -> AccessRequest:
        request = self._get(request_id)
        if person != request.requester:
            raise NotRequesterError("Only the requester can cancel a request.")
        request = self._move(request_id, Step.CANCEL, person, decided_at=self.clock.now())
        self.notifier.request_cancelled(request)
        return request

    def check_decidable(self, request_id: str, approver: str) -> AccessRequest:
        """Authorisation at click time: the clicker must be an approver and not the requester."""
        request = self._get(request_id)
        if approver == request.requester:
            raise SelfApprovalError("Nobody can decide their own request.")
        if approver not in self._approvers(request):
            raise NotAnApproverError("You are not an approver for this access.")
        if request.state != State.PENDING:
            raise AlreadyDecidedError(request)
        return request

    # -- provisioning ----------------------------------------------------------------------
    def provision(self, request_id: str) -> AccessRequest | None:
        """Grant approved access.  Returns None when another worker holds the request."""
        if not self._claim(request_id, State.APPROVED, Step.CLAIM, State.PROVISIONING):
            return None
        request = self._get(request_id)
        connector = self.connectors[request.connector_id]
        try:
            if request.preexisting is None:
                # Recorded once, before our first write, so a retry after a crash cannot
                # mistake our own grant for access the requester already had.
                prior = connector.prior(request.entitlement_id, request.account_id)
                self.requests.set_once(request_id, "preexisting", prior.held,
                                       prior_detail=prior.detail)
                request = self._get(request_id)
            if not request.preexisting:
                outcome = connector.grant(request.entitlement_id, request.account_id)
                if outcome is GrantOutcome.ALREADY_GRANTED:
                    log.info("request %s: %s was already in place", request_id, request.entitlement_id)
        except ConnectorError as exc:
            return self._grant_failed(request, exc)
        now = self.clock.now()
        request = self._move(request_id, Step.ACTIVATE, "latchkey", granted_at=now,
                             expires_at=now + request.duration, lease_until=None, last_error=None,
                             audit={"preexisting": request.preexisting})
        self.wake(request.expires_at)
        self.notifier.access_granted(request)
        return request

    def _grant_failed(self, request: AccessRequest, exc: ConnectorError) -> AccessRequest:
        attempts = request.attempts + 1
        if isinstance(exc, TransientError) and attempts < GRANT_ATTEMPTS:
            retry_at = self.clock.now() + _backoff(attempts)
            self.requests.move(request.id, State.PROVISIONING, attempts=attempts,
                               lease_until=retry_at, last_error=str(exc))
            self.audit.append(self.clock.now(), "latchkey", "grant_retry", request.id, error=str(exc))
            self.wake(retry_at)
            return self._get(request.id)
        request = self._move(request.id, Step.FAIL, "latchkey", attempts=attempts,
                             lease_until=None, last_error=str(exc), audit={"error": str(exc)})
        self.notifier.provisioning_failed(request)
        return request

    # -- expiry ----------------------------------------------------------------------------
    def revoke(self, request_id: str) -> AccessRequest | None:
        """Take back expired access.  Never gives up: a failure is retried with backoff."""
        now = self.clock.now()
        request = self._get(request_id)
        if request.state == State.ACTIVE and request.expires_at > now:
            return None
        if not self._claim(request_id, State.ACTIVE, Step.EXPIRE, State.REVOKING):
            return None
        request = self._get(request_id)
        if not request.preexisting:  # access the requester held before stays in place
            try:
                self.connectors[request.connector_id].revoke(
                    request.entitlement_id, request.account_id,
                    Prior(held=False, detail=request.prior_detail))
            except NotFoundError as exc:
                log.info("request %s: target object gone, nothing to revoke (%s)", request_id, exc)
            except ConnectorError as exc:
                return self._revoke_failed(request, exc)
        request = self._move(request_id, Step.FINISH, "latchkey", revoked_at=self.clock.now(),
                             lease_until=None, last_error=None,
                             audit={"left_in_place": bool(request.preexisting)})
        self.notifier.access_revoked(request)
        return request

    def _revoke_failed(self, request: AccessRequest, exc: ConnectorError) -> AccessRequest:
        attempts = request.attempts + 1
        retry_at = self.clock.now() + _backoff(attempts)
        self.requests.move(request.id, State.REVOKING, attempts=attempts, lease_until=retry_at,
                           last_error=str(exc))
        self.audit.append(self.clock.now(), "latchkey", "revoke_retry", request.id,
                          attempt=attempts, error=str(exc))
        self.wake(retry_at)
        request = self._get(request.id)
        if attempts == ALERT_AFTER_FAILED_REVOKES:
            self.notifier.revocation_failing(request, self._approvers(request))
        return request

    def run_due(self) -> datetime | None:
        """Act on everything due now; return the next deadline for the scheduler."""
        for request_id, state in self.requests.due(self.clock.now()):
            try:
                if state in (State.APPROVED, State.PROVISIONING):
                    self.provision(request_id)
                else:
                    self.revoke(request_id)
            except Exception:  # one broken request must not starve the others
                log.exception("request %s: worker step failed", request_id)
        return self.requests.next_deadline()

    # -- helpers ---------------------------------------------------------------------------
    def _claim(self, request_id: str, ready: State, step: Step, working: State) -> bool:
        """Take a request into `working` under a lease, or take over one whose lease ran out."""
        now = self.clock.now()
        if self.requests.move(request_id, ready, state=advance(ready, step).value,
                              lease_until=now + LEASE):
            self.audit.append(now, "latchkey", step.value, request_id)
            return True
        return self.requests.renew_lease(request_id, working.value, now, now + LEASE)

    def _move(self, request_id: str, step: Step, actor: str, audit: dict | None = None,
              **changes) -> AccessRequest:
        request = self._get(request_id)
        target = advance(request.state, step)
        if not self.requests.move(request_id, request.state.value, state=target.value, **changes):
            raise AlreadyDecidedError(self._get(request_id))
        request = self._get(request_id)
        self.audit.append(self.clock.now(), actor, step.value, request_id,
                          **(audit or {}), **({"reason": request.decision_reason}
                                              if step is Step.DENY else {}))
        return request

    def _get(self, request_id: str) -> AccessRequest:
        row = self.requests.get(request_id)
        if row is None:
            raise RequestNotFoundError(f"There is no request {request_id}.")
        return _to_domain(row)

    def _approvers(self, request: AccessRequest) -> list[str]:
        return [a for a in self.approvers.approvers_for(request.connector_id) if a != request.requester]


def _to_domain(row: RequestRow) -> AccessRequest:
    return AccessRequest(
        id=row.id, requester=row.requester, requester_email=row.requester_email,
        account_id=row.account_id, connector_id=row.connector_id,
        entitlement_id=row.entitlement_id, entitlement_name=row.entitlement_name,
        duration=timedelta(seconds=row.duration_seconds), justification=row.justification,
        state=State(row.state), created_at=row.created_at,
        decided_by=tuple(filter(None, row.decided_by.split(","))), decided_at=row.decided_at,
        decision_reason=row.decision_reason, granted_at=row.granted_at,
        expires_at=row.expires_at, revoked_at=row.revoked_at, preexisting=row.preexisting,
        prior_detail=row.prior_detail, attempts=row.attempts, last_error=row.last_error)

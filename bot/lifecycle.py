"""The request lifecycle: submit · approve · deny · cancel · provision · expire · revoke.

Every state change goes through `_move()`, which checks the step against the transition table
and applies it as a compare-and-set in the database; whoever loses a race simply stops.  Slow
calls to the target system happen outside any transaction, under a lease, so a crash mid-way
leaves a request that the next worker (after a restart, or on another replica) picks up again.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot import metrics
from bot.approvers import ApproverRouting
from bot.domain.errors import (AlreadyDecidedError, InvalidRequestError, NotAnApproverError,
                               NotRequesterError, RequestNotFoundError, SelfApprovalError,
                               TaskAlreadyDoneError)
from bot.domain.policy import Policy, describe_duration
from bot.domain.request import AccessRequest, IllegalTransition, State, Step, advance
from bot.ports import Clock, Notifier, Person
from connectors.base import (Connector, ConnectorError, GrantOutcome, NotFoundError, Prior,
                             TransientError)
from storage.repositories import AuditLog, Catalog, DuplicateError, Requests
from storage.tables import RequestRow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # how long a worker may hold a request before others take over
GRANT_ATTEMPTS = 3  # rounds of (already retried) connector calls before a grant is given up
ALERT_AFTER_FAILED_REVOKES = 3
DUE_BATCH = 32  # requests read per round of run_due(); rounds repeat until nothing new is due


def _backoff(attempt: int) -> timedelta:
    return timedelta(seconds=min(15 * 2 ** (attempt - 1), 600))


class Inline(Executor):
    """Runs each task at once on the caller's thread (the default: one request at a time)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


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
    # Where grants and revocations run: a thread pool lets connector calls overlap, and keeps
    # them off the thread that took an approval click (it must be free for the next click).
    workers: Executor = field(default_factory=Inline)

    # -- submit ----------------------------------------------------------------------------
    def submit(self, requester: Person, connector_id: str, entitlement_id: str,
               duration: timedelta | None, justification: str) -> AccessRequest:
        """Validate and store a new pending request, then ask its approvers."""
        problems, row = self._validate(requester, connector_id, entitlement_id, duration,
                                       justification.strip())
        if problems:
            raise InvalidRequestError(problems)
        submitted = self.audit.event(row.created_at, requester.id, "submitted", row.id,
                                     entitlement=row.entitlement_id, connector=connector_id,
                                     duration=describe_duration(timedelta(seconds=row.duration_seconds)),
                                     justification=row.justification)
        try:
            # The audit event and the messages go in the request's own transaction.
            self.requests.add(row, also=[submitted, self._message(
                row.id, "request_submitted", approvers=self.approvers_of(to_domain(row)))])
        except DuplicateError:
            raise InvalidRequestError({"access": "You already have a pending request for this."}) from None
        self.notifier.wake()
        return to_domain(row)

    def _validate(self, requester: Person, connector_id: str, entitlement_id: str,
                  duration: timedelta | None, justification: str):
        problems: dict[str, str] = {}
        hour_ago = self.clock.now() - timedelta(hours=1)
        if self.requests.count_since(requester.id, hour_ago) >= self.policy.max_requests_per_hour:
            return {"access": f"You have made {self.policy.max_requests_per_hour} requests in the "
                              "last hour. Please wait a while before asking again."}, None
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
            justification=justification, state=State.PENDING.value, created_at=self.clock.now(),
            attention_at=self.policy.first_attention(self.clock.now()),
            manual=not (entitlement.provisionable and self.provisioning.get(connector_id, False)))

    def _access_problem(self, requester: Person, connector_id: str, entitlement) -> str | None:
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
        now = self.clock.now()

        def recorded(row: RequestRow):  # written in the transaction that counts the approval
            if row.state != State.APPROVED:
                return [self.audit.event(now, approver, "approval_counted", request_id),
                        self._message(request_id, "approval_counted", approver=approver,
                                      needed=self.policy.approvals)]
            return [self.audit.event(now, approver, "approved", request_id,
                                     approvers=row.decided_by.split(",")),
                    self._message(request_id, "request_approved")]

        outcome, row = self.requests.approve(request_id, approver, self.policy.approvals, now,
                                             also=recorded)
        request = to_domain(row)
        if outcome != "counted":
            raise AlreadyDecidedError(request)
        self.notifier.wake()
        if request.state != State.APPROVED:
            return request
        metrics.request_approved(request)
        self.workers.submit(self._work_on, (request_id, State.APPROVED))
        return request

    def deny(self, request_id: str, approver: str, reason: str) -> AccessRequest:
        self.check_decidable(request_id, approver)
        now = self.clock.now()
        return self._move(request_id, Step.DENY, approver, decided_by=approver, decided_at=now,
                          decision_reason=reason.strip() or None, tell="request_denied")

    def cancel(self, request_id: str, person: str) -> AccessRequest:
        request = self._get(request_id)
        if person != request.requester:
            raise NotRequesterError("Only the requester can cancel a request.")
        return self._move(request_id, Step.CANCEL, person, decided_at=self.clock.now(),
                          tell="request_cancelled")

    def check_decidable(self, request_id: str, approver: str) -> AccessRequest:
        """Authorisation at click time: the clicker must be an approver and not the requester."""
        request = self._get(request_id)
        if approver == request.requester:
            raise SelfApprovalError("Nobody can decide their own request.")
        if approver not in self.approvers_of(request):
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
        if request.manual:
            return request  # the owners were given the task with the claim
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
                             attention_at=self.policy.warning_at(now, now + request.duration),
                             audit={"preexisting": request.preexisting}, tell="access_granted")
        metrics.access_granted(request)
        self.wake(request.expires_at)
        return request

    def _grant_failed(self, request: AccessRequest, exc: ConnectorError) -> AccessRequest:
        attempts = request.attempts + 1
        if isinstance(exc, TransientError) and attempts < GRANT_ATTEMPTS:
            retry_at = self.clock.now() + _backoff(attempts)
            self.requests.move(request.id, State.PROVISIONING, attempts=attempts,
                               lease_until=retry_at, last_error=str(exc), also=[self.audit.event(
                                   self.clock.now(), "latchkey", "grant_retry", request.id,
                                   error=str(exc))])
            self.wake(retry_at)
            return self._get(request.id)
        if isinstance(exc, TransientError) and request.preexisting is False:
            # A write that timed out or got a 5xx may have been made all the same: take back
            # whatever landed before we give up (and `verify_revocations` looks again later).
            try:
                self._take_back(request)
            except ConnectorError as cleanup:
                log.warning("request %s: could not make sure the failed grant left nothing "
                            "behind (%s); the read-back will look again", request.id, cleanup)
        return self._move(request.id, Step.FAIL, "latchkey", attempts=attempts, lease_until=None,
                          last_error=str(exc), audit={"error": str(exc)}, tell="provisioning_failed")

    def end_early(self, request_id: str, person: str) -> AccessRequest | None:
        """The requester gives the access back before its time is up."""
        request = self._get(request_id)
        if person != request.requester:
            raise NotRequesterError("Only the person who holds the access can end it early.")
        if request.state is not State.ACTIVE or not self.requests.move(
                request_id, State.ACTIVE.value, expires_at=min(request.expires_at, self.clock.now()),
                also=[self.audit.event(self.clock.now(), person, "ended_early", request_id)]):
            raise AlreadyDecidedError(request)
        return self.revoke(request_id)

    def of_requester(self, person: str) -> list[AccessRequest]:
        """The person's own requests that are still waiting or live, oldest first."""
        return [to_domain(row) for row in self.requests.of_requester(
            person, ("pending", "approved", "provisioning", "active", "revoking"))]

    def waiting_on(self, person: str) -> list[AccessRequest]:
        """Pending requests this person may approve and has not approved yet."""
        return [request for request in map(to_domain, self.requests.in_states("pending"))
                if person in self.approvers_of(request) and person not in self.requests.approvers(request.id)]

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
        if request.manual:
            return request  # the owners were given the take-back task with the claim
        if not request.preexisting:  # access the requester held before stays in place
            try:
                self._take_back(request)
            except ConnectorError as exc:
                return self._revoke_failed(request, exc)
        request = self._move(request_id, Step.FINISH, "latchkey", revoked_at=self.clock.now(),
                             lease_until=None, last_error=None,
                             audit={"left_in_place": bool(request.preexisting)}, tell="access_revoked")
        metrics.access_revoked(request)
        return request

    def _take_back(self, request: AccessRequest) -> None:
        """Revoke through the connector, then read the target back: revoked must mean gone."""
        connector = self.connectors[request.connector_id]
        try:
            connector.revoke(request.entitlement_id, request.account_id,
                             Prior(held=False, detail=request.prior_detail))
            still_there = connector.has_grant(request.entitlement_id, request.account_id)
        except NotFoundError as exc:
            log.info("request %s: target object gone, nothing to revoke (%s)", request.id, exc)
            return
        if still_there:
            raise ConnectorError("the target still shows the access after it was revoked")

    def verify_revocations(self, within: timedelta = timedelta(hours=24)) -> list[str]:
        """Read back what Latchkey revoked lately, and grants it gave up (a write that timed out
        may land later); take back and report any access found.

        Returns the ids of requests whose access had come back.
        """
        since, returned = self.clock.now() - within, []
        for row in self.requests.revoked_since(since) + self.requests.failed_since(since):
            request = to_domain(row)
            if request.preexisting is not False or request.manual or self.requests.open_for(
                    request.requester, request.connector_id, request.entitlement_id):
                continue  # not ours to check (or never written), or legitimately granted since
            connector = self.connectors.get(request.connector_id)
            try:
                if connector is None or not connector.has_grant(request.entitlement_id, request.account_id):
                    continue
                returned.append(request.id)
                self._take_back(request)
                outcome = "it was removed again"
            except ConnectorError as exc:
                outcome = f"removing it again failed: {exc}"
            self.audit.append(self.clock.now(), "latchkey", "access_returned", request.id,
                              outcome=outcome, also=[self._message(
                                  request.id, "drift_detected", approvers=self.approvers_of(request),
                                  finding=f"The access came back after Latchkey revoked it; {outcome}."
                                  if request.state is State.REVOKED else
                                  f"The access appeared after Latchkey gave up granting it; {outcome}.")])
            self.notifier.wake()
        return returned

    def _revoke_failed(self, request: AccessRequest, exc: ConnectorError) -> AccessRequest:
        attempts = request.attempts + 1
        retry_at = self.clock.now() + _backoff(attempts)
        alert = [self._message(request.id, "revocation_failing", approvers=self.approvers_of(request))
                 ] if attempts == ALERT_AFTER_FAILED_REVOKES else []
        self.requests.move(request.id, State.REVOKING, attempts=attempts, lease_until=retry_at,
                           last_error=str(exc), also=[self.audit.event(
                               self.clock.now(), "latchkey", "revoke_retry", request.id,
                               attempt=attempts, error=str(exc)), *alert])
        self.notifier.wake()
        self.wake(retry_at)
        return self._get(request.id)

    def complete_task(self, request_id: str, person: str) -> AccessRequest:
        """An approver reports that they granted (or took back) the access by hand."""
        request = self._get(request_id)
        if person == request.requester:
            raise SelfApprovalError("Someone other than the requester must do this task.")
        if person not in self.approvers_of(request):
            raise NotAnApproverError("Only an approver of this access can mark the task done.")
        if not request.manual or request.state not in (State.PROVISIONING, State.REVOKING):
            raise TaskAlreadyDoneError(request)
        now = self.clock.now()
        if request.state is State.PROVISIONING:
            request = self._move(request_id, Step.ACTIVATE, person, granted_at=now,
                                 expires_at=now + request.duration, lease_until=None,
                                 attention_at=self.policy.warning_at(now, now + request.duration),
                                 tell="access_granted")
            self.wake(request.expires_at)
            return request
        return self._move(request_id, Step.FINISH, person, revoked_at=now, lease_until=None,
                          tell="access_revoked")

    # -- chasing ---------------------------------------------------------------------------
    def chase(self, request_id: str) -> AccessRequest | None:
        """A pending request nobody decided: remind its approvers, or time it out."""
        request, now = self._get(request_id), self.clock.now()
        if request.state is not State.PENDING or not request.attention_at or request.attention_at > now:
            return None
        if now >= request.created_at + self.policy.pending_timeout:
            return self._move(request_id, Step.TIME_OUT, "latchkey", decided_at=now,
                              attention_at=None, tell="request_timed_out")
        waiting = [a for a in self.approvers_of(request) if a not in self.requests.approvers(request_id)]
        if self.requests.attend(
                request_id, State.PENDING.value, request.attention_at, reminders=request.reminders + 1,
                attention_at=self.policy.next_reminder(request.created_at, now, request.reminders + 1),
                also=[self.audit.event(now, "latchkey", "reminded", request_id, approvers=waiting),
                      self._message(request_id, "reminder", approvers=waiting)]):
            self.notifier.wake()
        return self._get(request_id)

    def warn_of_expiry(self, request_id: str) -> AccessRequest | None:
        """Tell the holder their access ends soon (once), with a way to end it now."""
        request = self._get(request_id)
        if request.state is not State.ACTIVE or not request.attention_at or request.attention_at > self.clock.now():
            return None
        if self.requests.attend(request_id, State.ACTIVE.value, request.attention_at, attention_at=None,
                                also=[self._message(request_id, "expiry_warning")]):
            self.notifier.wake()
        return self._get(request_id)

    def run_due(self) -> datetime | None:
        """Act on everything due now, on the workers; return the next deadline for the scheduler.

        Rounds repeat while they find work, so expiries that fall due during a round are taken
        at once, not a scheduler wake-up later.  A round that finds only what the last one
        could not move (say, a request whose step keeps failing) ends the run.
        """
        last: list[tuple[str, str]] = []
        while True:
            batch = self.requests.due(self.clock.now(), limit=DUE_BATCH)
            if not batch or batch == last:
                return self.requests.next_deadline()
            list(self.workers.map(self._work_on, batch))
            last = batch

    def _work_on(self, due: tuple[str, str]) -> None:
        request_id, state = due
        try:
            if state in (State.APPROVED, State.PROVISIONING):
                self.provision(request_id)
            elif state == State.PENDING:
                self.chase(request_id)
            elif not self.revoke(request_id) and state == State.ACTIVE:
                self.warn_of_expiry(request_id)  # not expired yet: it was due for its warning
        except Exception:  # one broken request must not starve the others
            log.exception("request %s: worker step failed", request_id)

    # -- helpers ---------------------------------------------------------------------------
    def _claim(self, request_id: str, ready: State, step: Step, working: State) -> bool:
        """Take a request into `working` under a lease, or take over one whose lease ran out.

        A manual request's task goes to the owners in the claim's own transaction."""
        now = self.clock.now()
        request = self._get(request_id)
        task = [self._message(request_id, "task_assigned", approvers=self.approvers_of(request),
                              revoke=working is State.REVOKING)] if request.manual else []
        if self.requests.move(request_id, ready, state=advance(ready, step).value,
                              lease_until=now + LEASE,
                              also=[self.audit.event(now, "latchkey", step.value, request_id), *task]):
            self.notifier.wake()
            return True
        return self.requests.renew_lease(request_id, working.value, now, now + LEASE)

    def _move(self, request_id: str, step: Step, actor: str, audit: dict | None = None,
              tell: str | None = None, **changes) -> AccessRequest:
        """Apply `step` as a compare-and-set, with its audit event and, if `tell` names one, the
        message that reports it, all in one transaction."""
        request = self._get(request_id)
        try:
            target = advance(request.state, step)
        except IllegalTransition:
            raise AlreadyDecidedError(request) from None  # someone or something acted first
        # The audit event is written in the compare-and-set's own transaction: a crash can
        # never leave a state change unrecorded.
        event = self.audit.event(self.clock.now(), actor, step.value, request_id, **(audit or {}),
                                 **({"reason": changes.get("decision_reason")}
                                    if step is Step.DENY else {}))
        also = [event] + ([self._message(request_id, tell)] if tell else [])
        if not self.requests.move(request_id, request.state.value, state=target.value,
                                  also=also, **changes):
            raise AlreadyDecidedError(self._get(request_id))
        if tell:
            self.notifier.wake()
        return self._get(request_id)

    def _get(self, request_id: str) -> AccessRequest:
        row = self.requests.get(request_id) if isinstance(request_id, str) else None
        if row is None:
            # The id may come from a tampered click: never echo it unchecked (it could be
            # kilobytes long, or mrkdwn such as <!channel>).
            shown = request_id if re.fullmatch(r"[0-9a-f]{1,32}", str(request_id)) else "with that id"
            raise RequestNotFoundError(f"There is no request {shown}.")
        return to_domain(row)

    def _message(self, request_id: str, kind: str, **args):
        return self.notifier.message(request_id, kind, **args)

    def approvers_of(self, request: AccessRequest) -> list[str]:
        return [a for a in self.approvers.approvers_for(request.connector_id) if a != request.requester]


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
        last_error=row.last_error, attention_at=row.attention_at, reminders=row.reminders)

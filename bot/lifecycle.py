"""The request lifecycle: submit · approve · deny · cancel · review · extend · provision ·
expire · revoke, for single entitlements and bundles.

What a new request must satisfy lives in bot/intake.py, who may decide it in bot/routing.py;
this module changes state.  Every state change goes through `_move()`, which checks the step against the transition table
and applies it as a compare-and-set in the database; whoever loses a race simply stops.  Slow
calls to the target system happen outside any transaction, under a lease, so a crash mid-way
leaves a request that the next worker (after a restart, or on another replica) picks up again.
"""

from __future__ import annotations

import logging
import re
import secrets
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot import metrics
from bot.approvers import ApproverRouting
from bot.domain.errors import (
    AlreadyDecidedError,
    InvalidRequestError,
    NotActiveError,
    NotAllowedError,
    NotAnApproverError,
    NotRequesterError,
    PolicyError,
    RequestNotFoundError,
    SelfApprovalError,
    TaskAlreadyDoneError,
)
from bot.domain.policy import describe_duration
from bot.domain.request import AccessRequest, IllegalTransition, State, Step, advance
from bot.domain.rules import Rule, RuleBook
from bot.intake import Draft, Intake
from bot.invariants import Invariants, StandingChanged, conflict_text
from bot.ports import Clock, Notifier, Person
from bot.records import RequesterLedger, to_domain
from bot.routing import Progress, Routing
from bot.slots import Slots, slot_of
from connectors.base import Connector, ConnectorError, GrantOutcome, NotFoundError, Prior, TransientError
from storage.repositories import AuditLog, Catalog, DuplicateError, Requests, SlotBaselines
from storage.tables import RequestRow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)  # how long a worker may hold a request before others take over
GRANT_ATTEMPTS = 3  # rounds of (already retried) connector calls before a grant is given up
ALERT_AFTER_FAILED_REVOKES = 3
DUE_BATCH = 32  # requests read per round of run_due(); rounds repeat until nothing new is due
GATHER = timedelta(seconds=0.25)  # least time between runs that revoke (see run_due)
FILING_TRIES = 3  # checks of a submission whose requester's other requests keep changing


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
    rules: RuleBook  # replaced as a whole when the configuration is reloaded
    approvers: ApproverRouting
    notifier: Notifier
    clock: Clock
    wake: Callable[[datetime], None] = lambda when: None  # tell the scheduler of a new deadline
    # Where grants and revocations run: a thread pool lets connector calls overlap, and keeps
    # them off the thread that took an approval click (it must be free for the next click).
    workers: Executor = field(default_factory=Inline)
    connector_types: dict[str, str] = field(default_factory=dict)  # connector id → okta, celigo …
    routing: Routing = field(init=False)
    invariants: Invariants = field(init=False)
    intake: Intake = field(init=False)
    slots: Slots = field(init=False)

    def __post_init__(self) -> None:
        rules = lambda: self.rules  # noqa: E731 - a reload replaces self.rules as a whole
        self.routing = Routing(rules, self.approvers)
        self.invariants = Invariants(rules, self.catalog)
        self.intake = Intake(self.requests, self.catalog, rules, self.routing, self.approvers,
                             self.invariants, self.clock, self.provisioning, self.connector_types)
        self.slots = Slots(self.requests, SlotBaselines(self.requests.engine))

    def approvers_of(self, request: AccessRequest) -> list[str]:
        return self.routing.approvers_of(request)

    def progress(self, request: AccessRequest) -> Progress:
        """Who approved the pending request so far, and who may act on it now."""
        return self.routing.progress(request, self.requests.approvals(request.id))

    def rule_for(self, connector_id: str, entitlement_id: str) -> Rule | None:
        return self.intake.rule_for(connector_id, entitlement_id)

    # -- submit ----------------------------------------------------------------------------
    def submit(self, requester: Person, connector_id: str, entitlement_id: str,
               duration: timedelta | None, justification: str, ticket: str = "",
               break_glass: bool = False) -> AccessRequest:
        """Validate and store a new request under its rule; ask its approvers, or approve it
        at once when the rule does (auto-approval) or the requester breaks the glass."""
        for _ in range(FILING_TRIES):
            draft = self.intake.validate(requester, connector_id, entitlement_id, duration,
                                         justification.strip(), ticket.strip(), break_glass)
            try:
                request = self._file(draft)
            except StandingChanged:
                continue  # another of their requests changed what this one needs: check again
            self.notifier.wake()
            if request.state is State.APPROVED:
                metrics.request_approved(request)
                self.workers.submit(self._work_on, (request.id, State.APPROVED))
            return request
        raise InvalidRequestError({"access": "Your other requests changed while this one was being "
                                             "filed. Please submit it again."})

    def _file(self, draft: Draft) -> AccessRequest:
        """Store a checked submission, checking again under the requester's lock what depends on
        their other requests: the hourly cap, separation of duties, auto-approval uses."""
        row, rule, now = draft.row, draft.rule, draft.row.created_at

        def decide(reads):
            ledger = RequesterLedger(reads)
            if problem := self.invariants.rate_problem(ledger, now):
                raise InvalidRequestError({"access": problem})
            if tuple(c.name for c in self.invariants.conflicts(to_domain(row), ledger)) != draft.conflicts:
                raise StandingChanged()
            if row.route == "auto" and not self.invariants.auto_approval_left(rule, ledger, now):
                if draft.missing:
                    raise InvalidRequestError({"access": draft.missing})
                row.route = "people"  # the rule's auto-approvals are used up: people decide
            return [row, *self._submission(row, rule, draft.approvers)], []

        try:
            self.requests.guarded(row.requester, decide)
        except DuplicateError:
            raise InvalidRequestError({"access": "You already have a pending request for this."}) from None
        return to_domain(row)

    def _submission(self, row: RequestRow, rule: Rule, approvers: list[str]) -> list:
        """What is written with a new request: its audit event and messages; when it needs no
        people (auto-approval, break-glass), its approval, and a bundle's items."""
        now = row.created_at
        submitted = self.audit.event(now, row.requester, "submitted", row.id, rule=rule.name,
                                     entitlement=row.entitlement_id, connector=row.connector_id,
                                     duration=describe_duration(timedelta(seconds=row.duration_seconds)),
                                     justification=row.justification, ticket=row.ticket)
        if row.route == "people":
            return [submitted, self._message(row.id, "request_submitted", approvers=approvers)]
        row.state, row.decided_at, row.attention_at = State.APPROVED.value, now, None
        row.decided_by = row.requester if row.route == "break_glass" else "latchkey"
        return [submitted, *self._approved_at_once(to_domain(row), rule), *self._items_of(row)]

    def _approved_at_once(self, request: AccessRequest, rule: Rule) -> list:
        now = self.clock.now()
        if request.route == "auto":
            return [self.audit.event(now, "latchkey", "auto_approved", request.id, rule=rule.name),
                    self._message(request.id, "request_submitted", approvers=[])]
        reviewers = self.routing.fallback(request) or self.routing.break_glass_reviewers(request)
        return [self.audit.event(now, request.requester, "break_glass", request.id, rule=rule.name,
                                 justification=request.justification, reviewers=reviewers),
                self._message(request.id, "request_submitted", approvers=[]),
                self._message(request.id, "break_glass_used", reviewers=reviewers)]

    # -- decisions -------------------------------------------------------------------------
    def approve(self, request_id: str, approver: str) -> AccessRequest:
        """Count an approval for the step the request is at; after the last step's approvals,
        provision the access straight away."""
        request = self.check_decidable(request_id, approver)
        steps = self.routing.steps(request)
        step, last = steps[request.step], request.step == len(steps) - 1
        # Looked up before the transaction: it must not hold the row lock across a Slack call.
        approved = {**self.requests.approvals(request_id), approver: request.step}
        # An approval that would leave a later step with nobody is refused: someone else can
        # take this step, and the clicker the later one.
        if self.routing.missing_approvers(request, approved):
            raise PolicyError("Your approval is needed at a later step, where nobody else can "
                              "give it: please leave this step to another approver.")
        next_approvers = [] if last else self.routing.deciders(
            replace(request, step=request.step + 1), approved)
        now = self.clock.now()

        def recorded(row: RequestRow, outcome: str):  # written in the transaction that counts it
            if outcome == "counted":
                return [self.audit.event(now, approver, "approval_counted", request_id, step=row.step + 1),
                        self._message(request_id, "approval_counted", approver=approver,
                                      needed=step.approvals)]
            if outcome == "next_step":
                return [self.audit.event(now, approver, "step_approved", request_id, step=row.step,
                                         next_approvers=next_approvers),
                        self._message(request_id, "next_step", approver=approver, approvers=next_approvers)]
            return [self.audit.event(now, approver, "approved", request_id,
                                     approvers=row.decided_by.split(",")),
                    self._message(request_id, "request_approved"), *self._items_of(row)]

        outcome, row = self.requests.approve(
            request_id, approver, request.step, step.approvals, last, now,
            approved=advance(State.PENDING, Step.APPROVE).value, also=recorded,
            guard=lambda reads, row: self.invariants.check_conflicts(to_domain(row), RequesterLedger(reads)))
        if outcome == "moved":  # another approval finished the step first: check for the new one
            return self.approve(request_id, approver)
        request = to_domain(row)
        if outcome in ("closed", "duplicate"):
            raise AlreadyDecidedError(request)
        self.notifier.wake()
        if request.state is State.APPROVED:
            metrics.request_approved(request)
            self.workers.submit(self._work_on, (request_id, State.APPROVED))
        return request

    def deny(self, request_id: str, approver: str, reason: str) -> AccessRequest:
        """A deny at any step ends the request."""
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
        """Authorisation at click time: the clicker must be one of those who may act at the
        step the request is at (routing.deciders): not the requester, not someone who approved
        already."""
        request = self._get(request_id)
        if approver == request.requester:
            raise SelfApprovalError("Nobody can decide their own request.")
        if request.state != State.PENDING:
            raise AlreadyDecidedError(request)
        approved = self.requests.approvals(request_id)
        if approver in approved:
            raise AlreadyDecidedError(request)
        if approver not in self.routing.deciders(request, approved):
            raise NotAnApproverError("You are not an approver for this access"
                                     + (" at this step." if request.step else "."))
        if request.extends and self._get(request.extends).state is not State.ACTIVE:
            self._close_extensions(request.extends)
            raise AlreadyDecidedError(self._get(request_id))
        return request

    def review(self, request_id: str, person: str) -> AccessRequest:
        """Someone other than the requester looks over a break-glass use and marks it reviewed."""
        request = self._get(request_id)
        if person == request.requester:
            raise SelfApprovalError("Someone other than the person who broke the glass must review it.")
        if request.route != "break_glass":
            raise NotAllowedError("Only break-glass access is reviewed.")
        if person not in self.routing.break_glass_reviewers(request):
            raise NotAnApproverError("Only the fallback approvers or approvers of this access can review it.")
        now = self.clock.now()
        if not self.requests.set_once(request_id, "reviewed_by", person, also=[
                self.audit.event(now, person, "reviewed", request_id),
                self._message(request_id, "break_glass_reviewed")]):
            raise TaskAlreadyDoneError(self._get(request_id))
        self.notifier.wake()
        return self._get(request_id)

    # -- extension -------------------------------------------------------------------------
    def extend(self, request_id: str, person: str, duration: timedelta | None,
               justification: str) -> AccessRequest:
        """Ask for more time on active access.  The extension is a request of its own under the
        same rule; once approved it moves the expiry, without revoking and granting again.

        It goes to people when the rule says so, and always when it would take the access past
        the rule's whole window (`max_total_duration`, counted from the first grant)."""
        original = self.check_extendable(request_id, person)
        rule, now = self.rules.named(original.rule), self.clock.now()
        problems = {field: problem for field, problem in (
            ("duration", rule.policy.duration_problem(duration)),
            ("justification", rule.justification_problem(justification.strip()))) if problem}
        if problems:
            raise InvalidRequestError(problems)
        route = "people" if rule.extension_needs_approval or self.invariants.window_exceeded(
            original, duration, rule) else "auto"
        row = RequestRow(
            id=secrets.token_hex(6), requester=person, requester_email=original.requester_email,
            account_id=original.account_id, connector_id=original.connector_id,
            entitlement_id=original.entitlement_id, entitlement_name=original.entitlement_name,
            duration_seconds=int(duration.total_seconds()), justification=justification.strip(),
            state=State.PENDING.value if route == "people" else State.APPROVED.value,
            created_at=now, rule=original.rule, conflict=original.conflict, route=route,
            extends=original.id, manual=original.manual, preexisting=original.preexisting,
            attention_at=rule.policy.first_attention(now) if route == "people" else None,
            decided_by="" if route == "people" else "latchkey", decided_at=None if route == "people" else now)
        request = to_domain(row)
        if route == "people" and (missing := self.routing.missing_approvers(request)):
            raise InvalidRequestError({"duration": missing})
        also = [self.audit.event(now, person, "extension_requested", row.id, extends=original.id,
                                 duration=describe_duration(duration), justification=row.justification),
                self._message(row.id, "request_submitted",
                              approvers=self.approvers_of(request) if route == "people" else [])]

        def decide(reads):  # under the requester's lock: see bot/invariants.py
            ledger = RequesterLedger(reads)
            if any(other.extends == original.id and other.state in (State.PENDING, State.APPROVED)
                   for other in ledger.live()):
                raise InvalidRequestError({"duration": "You have already asked to extend this access."})
            if problem := self.invariants.rate_problem(ledger, now):
                raise InvalidRequestError({"duration": problem})
            if broken := self.invariants.uncarried(request, ledger):
                raise InvalidRequestError({"duration": conflict_text(broken[0])})
            return [row, *also], []

        self.requests.guarded(person, decide)
        self.notifier.wake()
        if request.state is State.APPROVED:
            self.workers.submit(self._work_on, (row.id, State.APPROVED))
        return request

    def check_extendable(self, request_id: str, person: str) -> AccessRequest:
        """Before asking how long: only the holder of active access may extend it."""
        return self._holder_of_active(request_id, person, "extend it")

    def _apply_extension(self, extension: AccessRequest) -> AccessRequest:
        """Move the extended access's expiry; both rows change in one transaction, or neither."""
        original, now = self._get(extension.extends), self.clock.now()
        rule = self.rules.named(original.rule)
        if original.state is not State.ACTIVE:
            error = "the access had already ended"
        elif extension.route == "auto" and self.invariants.window_exceeded(original, extension.duration, rule):
            error = "it would keep the access past the rule's max_total_duration without approval"
        else:
            error = None
        if error:
            return self._move(extension.id, Step.FAIL, "latchkey", lease_until=None, last_error=error,
                              tell="extension_failed", audit={"error": error})
        expires_at = original.expires_at + extension.duration
        policy = rule.policy
        if self.requests.apply_extension(
                extension.id, original.id, original.expires_at,
                {"expires_at": expires_at, "attention_at": policy.warning_at(now, expires_at)},
                extended=advance(State.APPROVED, Step.APPLY).value, also=[self.audit.event(now, "latchkey", Step.APPLY.value, extension.id,
                                       extends=original.id, expires_at=expires_at),
                      self.audit.event(now, "latchkey", "extended", original.id, by=extension.id,
                                       expires_at=expires_at),
                      self._message(extension.id, "access_extended")]):
            self.notifier.wake()
            self.wake(expires_at)
        elif self._get(extension.id).state is State.APPROVED:
            return self._apply_extension(extension)  # the access changed meanwhile: look again
        return self._get(extension.id)

    # -- provisioning ----------------------------------------------------------------------
    def provision(self, request_id: str) -> AccessRequest | None:
        """Grant approved access.  Returns None when another worker holds the request."""
        if (extension := self._get(request_id)).extends:
            return self._apply_extension(extension) if extension.state is State.APPROVED else None
        request = self._claim_grant(request_id)
        if request is None:
            return None
        if request.state is State.FAILED:  # refused at the claim: nothing was granted
            return self._after_item_moved(request)
        if request.is_bundle:  # its items are granted as requests of their own, starting now
            for item in self.requests.children(request_id):
                self.workers.submit(self._work_on, (item.id, State.APPROVED))
            return self._settle_bundle(request_id)
        if request.manual:
            return request  # the owners were given the task with the claim
        connector = self.connectors[request.connector_id]
        try:
            slot = slot_of(connector, request.entitlement_id)  # a level shared with other grants?
            if request.preexisting is None:
                # Recorded once, before our first write, so a retry after a crash cannot
                # mistake our own grant for access the requester already had.
                prior = (self.slots.prior(request, connector, slot) if slot else
                         connector.prior(request.entitlement_id, request.account_id))
                self.requests.set_once(request_id, "preexisting", prior.held,
                                       prior_detail=prior.detail)
                request = self._get(request_id)
            if slot and not request.preexisting:
                self.slots.settle(request, connector, slot)
            elif not request.preexisting and connector.grant(request.entitlement_id,
                                 request.account_id) is GrantOutcome.ALREADY_GRANTED:
                log.info("request %s: %s was already in place", request_id, request.entitlement_id)
        except ConnectorError as exc:
            return self._grant_failed(request, exc)
        request = self._move(request_id, Step.ACTIVATE, "latchkey", **self._activation(request),
                             lease_until=None, last_error=None, audit={"preexisting": request.preexisting},
                             tell=None if request.bundle else "access_granted")
        metrics.access_granted(request)
        return self._after_item_moved(request)

    def _claim_grant(self, request_id: str) -> AccessRequest | None:
        """Take an approved request into provisioning under a lease (or take over one whose
        worker's lease ran out); None if another worker has it.  Separation of duties is checked
        again under the requester's lock: a request that would now break it fails instead, and
        nothing is granted."""
        request, now = self._get(request_id), self.clock.now()
        if request.state is State.PROVISIONING:
            renewed = self.requests.renew_lease(request_id, State.PROVISIONING.value, now, now + LEASE)
            return self._get(request_id) if renewed else None
        if request.state is not State.APPROVED:
            return None
        task = [self._message(request_id, "task_assigned", approvers=self.approvers_of(request),
                              revoke=False)] if request.manual else []

        def decide(reads):  # see bot/invariants.py
            if broken := self.invariants.uncarried(request, RequesterLedger(reads)):
                error = conflict_text(broken[0])
                return [], [self._step(request, Step.FAIL, "latchkey", audit={"error": error},
                                       tell=None if request.bundle else "provisioning_failed",
                                       last_error=error, lease_until=None)]
            request_id_, state, changes, also = self._step(request, Step.CLAIM, "latchkey",
                                                           lease_until=now + LEASE)
            return [], [(request_id_, state, changes, [*also, *task])]

        row, = self.requests.guarded(request.requester, decide)
        if row is None:
            return None
        self.notifier.wake()
        return to_domain(row)

    def _activation(self, request: AccessRequest) -> dict:
        """Granted now, until when.  An item of a bundle has no expiry of its own until the
        whole bundle is active: it then ends with the bundle."""
        now = self.clock.now()
        if request.bundle:
            return dict(granted_at=now, expires_at=None, attention_at=None)
        expires_at = now + request.duration
        return dict(granted_at=now, expires_at=expires_at,
                    attention_at=self._policy(request).warning_at(now, expires_at))

    def _after_item_moved(self, request: AccessRequest) -> AccessRequest:
        """Tell the scheduler of a new expiry; let the request's bundle move on, if it has one."""
        if request.state is State.ACTIVE and request.expires_at:
            self.wake(request.expires_at)
        if request.state is State.REVOKED:
            self._close_extensions(request.id)
        if request.bundle:
            self._settle_bundle(request.bundle)
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
        return self._after_item_moved(self._move(
            request.id, Step.FAIL, "latchkey", attempts=attempts, lease_until=None, last_error=str(exc),
            audit={"error": str(exc)}, tell=None if request.bundle else "provisioning_failed"))

    def end_early(self, request_id: str, person: str) -> AccessRequest | None:
        """The requester gives the access back before its time is up."""
        request = self._holder_of_active(request_id, person, "end it early")
        if not self.requests.move(
                request_id, State.ACTIVE.value, expires_at=min(request.expires_at, self.clock.now()),
                also=[self.audit.event(self.clock.now(), person, "ended_early", request_id)]):
            raise self._inactive(self._get(request_id))
        self._close_extensions(request_id)
        return self.revoke(request_id)

    def _close_extensions(self, original_id: str) -> None:
        """The access has ended: a pending extension of it has nothing left to extend.  It is
        closed, and its messages say so (the approvers' buttons go)."""
        extension = self.requests.extension_of(original_id)
        if extension is None or extension.state != State.PENDING:
            return  # an approved one fails when it is applied, and says why
        try:
            self._move(extension.id, Step.CANCEL, "latchkey", decided_by="latchkey",
                       decided_at=self.clock.now(), attention_at=None, tell="extension_closed",
                       decision_reason="the access it would extend has ended")
        except AlreadyDecidedError:
            pass  # decided meanwhile: applying it finds the access ended

    def _holder_of_active(self, request_id: str, person: str, doing: str) -> AccessRequest:
        request = self._get(request_id)
        if person != request.requester or request.extends:
            raise NotRequesterError(f"Only the person who holds the access can {doing}.")
        if request.state is not State.ACTIVE:
            raise self._inactive(request)
        return request

    @staticmethod
    def _inactive(request: AccessRequest) -> NotActiveError:
        return NotActiveError(f"Request {request.id} is not active access (it is "
                               f"{request.state.value.replace('_', ' ')}).")

    def of_requester(self, person: str) -> list[AccessRequest]:
        """The person's own requests that are still waiting or live, oldest first."""
        return [to_domain(row) for row in self.requests.of_requester(
            person, ("pending", "approved", "provisioning", "active", "revoking")) if not row.bundle]

    def waiting_on(self, person: str) -> list[AccessRequest]:
        """Pending requests this person may approve and has not approved yet."""
        return [request for request in map(to_domain, self.requests.in_states("pending"))
                if person in self.progress(request).deciders]

    # -- expiry ----------------------------------------------------------------------------
    def revoke(self, request_id: str) -> AccessRequest | None:
        """Take back expired access.  Never gives up: a failure is retried with backoff."""
        now = self.clock.now()
        request = self._get(request_id)
        if request.state == State.ACTIVE and (request.expires_at is None or request.expires_at > now):
            return None
        if not self._claim(request_id, State.ACTIVE, Step.EXPIRE, State.REVOKING):
            return None
        return self._revoke_claimed(self._get(request_id))

    def _revoke_claimed(self, request: AccessRequest) -> AccessRequest:
        """Finish a revocation this worker holds the lease on (`request` as claimed)."""
        if request.is_bundle:
            return self._settle_bundle(request.id)  # its items are taken back on their own
        if request.manual:
            return request  # the owners were given the take-back task with the claim
        try:
            revoked_at = self._take_back_claimed(request)
        except ConnectorError as exc:
            return self._revoke_failed(request, exc)
        finished = self._record_revoked([(request, revoked_at)])
        if not finished:
            raise AlreadyDecidedError(self._get(request.id))
        return finished[0]

    def _take_back_claimed(self, request: AccessRequest) -> datetime:
        """The connector's part of a claimed revocation; returns when it was done."""
        if not request.preexisting:  # access the requester held before stays in place
            self._take_back(request)
        return self.clock.now()

    def _record_revoked(self, taken_back: list[tuple[AccessRequest, datetime]]) -> list[AccessRequest]:
        """Move requests whose access was taken back (at the time given) to revoked, in one
        transaction, each its own compare-and-set with its audit event and message.  Returns
        those that moved; one that another worker finished first is left as it is."""
        if not taken_back:
            return []
        rows = self.requests.move_each([self._step(
            request, Step.FINISH, "latchkey", audit={"left_in_place": bool(request.preexisting)},
            tell=None if request.bundle else "access_revoked", revoked_at=revoked_at,
            lease_until=None, last_error=None)
            for request, revoked_at in taken_back])
        self.notifier.wake()
        finished = []
        for (request, _), row in zip(taken_back, rows):
            if row is None:
                log.warning("request %s: its revocation was already recorded", request.id)
                continue
            finished.append(to_domain(row))
            metrics.access_revoked(finished[-1])
            self._after_item_moved(finished[-1])
        return finished

    def _take_back(self, request: AccessRequest) -> None:
        """Revoke through the connector, then read the target back: revoked must mean gone."""
        connector = self.connectors[request.connector_id]
        try:
            if slot := slot_of(connector, request.entitlement_id):
                # Back to what Latchkey still grants, else the baseline; settle reads it back.
                return self.slots.settle(request, connector, slot, leaving=True)
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
        quiet = bool(request.bundle)  # the bundle tells the requester, once, for all its items
        if request.state is State.PROVISIONING:
            return self._after_item_moved(self._move(
                request_id, Step.ACTIVATE, person, **self._activation(request), lease_until=None,
                tell=None if quiet else "access_granted"))
        return self._after_item_moved(self._move(request_id, Step.FINISH, person, revoked_at=now,
                                                 lease_until=None, tell=None if quiet else "access_revoked"))

    # -- bundles ---------------------------------------------------------------------------
    def _items_of(self, row: RequestRow) -> list[RequestRow]:
        """The item requests an approved bundle becomes, written with its approval."""
        return [RequestRow(
            id=secrets.token_hex(6), requester=row.requester, requester_email=row.requester_email,
            account_id=item.account_id, connector_id=item.connector_id,
            entitlement_id=item.entitlement_id, entitlement_name=item.name,
            duration_seconds=row.duration_seconds, justification=row.justification,
            state=State.APPROVED.value, created_at=row.created_at, decided_by=row.decided_by,
            decided_at=row.decided_at, rule=row.rule, route=row.route, ticket=row.ticket,
            conflict=row.conflict,
            manual=item.manual, bundle=row.id) for item in to_domain(row).items]

    def _settle_bundle(self, bundle_id: str) -> AccessRequest:
        """Move a bundle on as far as its items allow: active once all are, failed as soon as
        one failed, revoked once all are gone; and end any item still live after it ended."""
        bundle, now = self._get(bundle_id), self.clock.now()
        items = [to_domain(row) for row in self.requests.children(bundle_id)]
        states = {item.state for item in items}
        try:
            if bundle.state is State.PROVISIONING and State.FAILED in states:
                failed = next(item for item in items if item.state is State.FAILED)
                error = f"{failed.entitlement_name}: {failed.last_error}"
                bundle = self._move(bundle_id, Step.FAIL, "latchkey", lease_until=None, last_error=error,
                                    audit={"error": error}, tell="provisioning_failed")
            elif bundle.state is State.PROVISIONING and states == {State.ACTIVE}:
                expires_at = now + bundle.duration
                if self.requests.activate_bundle(bundle_id, dict(
                        granted_at=now, expires_at=expires_at, lease_until=None, last_error=None,
                        attention_at=self._policy(bundle).warning_at(now, expires_at)),
                        active=advance(State.PROVISIONING, Step.ACTIVATE).value, also=[
                        self.audit.event(now, "latchkey", Step.ACTIVATE.value, bundle_id),
                        self._message(bundle_id, "access_granted")]):
                    self.notifier.wake()
                    self.wake(expires_at)
                return self._get(bundle_id)
            if bundle.state in (State.FAILED, State.REVOKING, State.REVOKED) and \
                    self.requests.end_children(bundle_id, now):
                self.wake(now)  # the bundle has ended: so do its items, now
                for item in self.requests.children(bundle_id):  # as they are after the change
                    if item.state == State.ACTIVE:
                        self.workers.submit(self._work_on, (item.id, State.ACTIVE))
            if bundle.state is State.REVOKING and states <= {State.REVOKED, State.FAILED}:
                bundle = self._move(bundle_id, Step.FINISH, "latchkey", revoked_at=now,
                                    lease_until=None, tell="access_revoked")
        except AlreadyDecidedError as raced:  # another worker settled it first
            return raced.request
        return bundle

    # -- chasing ---------------------------------------------------------------------------
    def chase(self, request_id: str) -> AccessRequest | None:
        """A pending request nobody decided: remind its approvers (escalating to the fallback
        approvers after the rule's number of reminders), or time it out."""
        request, now = self._get(request_id), self.clock.now()
        if request.state is not State.PENDING or not request.attention_at or request.attention_at > now:
            return None
        rule = self.rules.named(request.rule)
        if now >= request.created_at + rule.policy.pending_timeout:
            return self._move(request_id, Step.TIME_OUT, "latchkey", decided_at=now,
                              attention_at=None, tell="request_timed_out")
        approved, reminders = self.requests.approvals(request_id), request.reminders + 1
        waiting = self.routing.deciders(request, approved)
        also = [self.audit.event(now, "latchkey", "reminded", request_id, approvers=waiting),
                self._message(request_id, "reminder", approvers=waiting)]
        if rule.escalate_after == reminders and (newcomers := [
                p for p in self.routing.fallback(request) if p not in waiting and p not in approved]):
            also += [self.audit.event(now, "latchkey", "escalated", request_id, approvers=newcomers),
                     self._message(request_id, "escalated", approvers=newcomers)]
        if self.requests.attend(
                request_id, State.PENDING.value, request.attention_at, reminders=reminders,
                attention_at=rule.policy.next_reminder(request.created_at, now, reminders), also=also):
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

        Each round claims a batch of due revocations in one transaction (replicas take disjoint
        batches), and looks up the rest of what is due.  Rounds repeat while they find other
        work or a full batch of revocations (a backlog is worked off at once); a round that
        revoked less asks to run again `GATHER` later at the earliest, so a stream of expiries
        is taken a few at a time.  A round that finds only what the last one could not move
        (say, a request whose step keeps failing), twice in a row, ends the run.
        """
        last: list[tuple[str, str]] = []
        looked_again = False
        while True:
            lease_until = self.clock.now() + LEASE
            claimed = self._claim_revocations(lease_until)
            batch = self.requests.due(self.clock.now(), limit=DUE_BATCH, revocations=False)
            fresh = batch if batch != last else []
            if claimed or fresh:
                self._on_workers(claimed, lease_until, fresh)
                last, looked_again = batch, False
                if fresh or len(claimed) == DUE_BATCH:
                    continue
                # Revocations are keeping up: let the next ones gather for a moment rather than
                # pay a run's fixed cost (claim, look-ups, next deadline) for each expiry.
                deadline = self.requests.next_deadline()
                return deadline and max(deadline, self.clock.now() + GATHER)
            deadline = self.requests.next_deadline()
            # A deadline already past is most often an expiry that fell due since the claim
            # (dozens a second at peak): look once more rather than leave it to the scheduler,
            # which waits a second before it runs for a deadline in the past.
            if looked_again or deadline is None or deadline > self.clock.now():
                return deadline
            looked_again = True

    def _claim_revocations(self, lease_until: datetime) -> list[AccessRequest]:
        """Claim a batch of expired (or abandoned) connector revocations under one lease, each
        expiry with its audit event (manual ones are claimed one by one, with their task)."""
        now = self.clock.now()
        rows = self.requests.claim_revocations(
            now, lease_until, DUE_BATCH, revoking=advance(State.ACTIVE, Step.EXPIRE).value,
            also=lambda row: [self.audit.event(now, "latchkey", Step.EXPIRE.value, row.id)])
        return [to_domain(row) for row in rows]

    def _on_workers(self, claimed: list[AccessRequest], lease_until: datetime,
                    due: list[tuple[str, str]]) -> None:
        """Work on a round and wait for it; the round's revocations are recorded together.
        Claims no worker started (the pool shut down) are released, so the next start takes
        them at once instead of after the lease."""
        started: dict[str, Future] = {}
        try:
            for request in claimed:
                started[request.id] = self.workers.submit(self._work_on_claimed, request)
            others = [self.workers.submit(self._work_on, one) for one in due]
            wait(started.values())
            self._record_revoked([future.result() for future in started.values()
                                  if not future.cancelled() and future.result()])
            for future in others:
                future.result()
        finally:
            for request in claimed:
                if request.id not in started or started[request.id].cancelled():
                    self.requests.release(request.id, State.REVOKING.value, lease_until)

    def _work_on_claimed(self, request: AccessRequest) -> tuple[AccessRequest, datetime] | None:
        """The connector's part of a claimed revocation, on a worker: (request, when) once the
        access is gone, None if it must be tried again later."""
        try:
            try:
                if request.is_bundle:  # nothing to take back itself: it ends with its items
                    self._settle_bundle(request.id)
                    return None
                return request, self._take_back_claimed(request)
            except ConnectorError as exc:
                self._revoke_failed(request, exc)  # tried again when the lease it sets runs out
        except Exception:  # one broken request must not starve the others
            log.exception("request %s: worker step failed", request.id)
        return None

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
              tell: str | None = None, seen: AccessRequest | None = None, **changes) -> AccessRequest:
        """Apply `step` as a compare-and-set, with its audit event and, if `tell` names one, the
        message that reports it, all in one transaction.  `seen`: the request as the caller
        last read it, if it did (saves reading it again; the compare-and-set checks it)."""
        request = seen or self._get(request_id)
        row, = self.requests.move_each([self._step(request, step, actor, audit, tell, **changes)])
        if row is None:
            raise AlreadyDecidedError(self._get(request_id))
        if tell:
            self.notifier.wake()
        return to_domain(row)

    def _step(self, request: AccessRequest, step: Step, actor: str, audit: dict | None = None,
              tell: str | None = None, **changes) -> tuple[str, str, dict, list]:
        """`step` applied to `request` as read: a compare-and-set for `Requests.move_each`."""
        try:
            target = advance(request.state, step)
        except IllegalTransition:
            raise AlreadyDecidedError(request) from None  # someone or something acted first
        # The audit event is written in the compare-and-set's own transaction: a crash can
        # never leave a state change unrecorded.
        event = self.audit.event(self.clock.now(), actor, step.value, request.id, **(audit or {}),
                                 **({"reason": changes.get("decision_reason")}
                                    if step is Step.DENY else {}))
        also = [event] + ([self._message(request.id, tell)] if tell else [])
        return request.id, request.state.value, {"state": target.value, **changes}, also

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

    def _policy(self, request: AccessRequest):
        return self.rules.named(request.rule).policy

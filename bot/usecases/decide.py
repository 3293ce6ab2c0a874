"""Decide: approve, deny or cancel a pending request, let the person a request was filed for
decline it, and review a break-glass use.

Who may act is checked at click time (`check_decidable`), never taken from what a message
shows.  An approval counts for the step the request is at; after the last step's approvals the
request is approved, and provisioned straight away.  Under a rule with step-up, an approval or
a review counts only once the person accepted a push for it (bot/usecases/step_up.py sends it,
then calls here): the invariant is checked after the click-time checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from bot import metrics
from bot.domain.derived import bundle_items
from bot.domain.errors import (
    AlreadyDecidedError,
    NotActiveError,
    NotAllowedError,
    NotAnApproverError,
    NotRequesterError,
    PolicyError,
    SelfApprovalError,
    TaskAlreadyDoneError,
)
from bot.domain.events import (
    ApprovalCounted,
    BeneficiaryDeclined,
    BreakGlassReviewed,
    RequestApproved,
    RequestCancelled,
    RequestDenied,
    StepApproved,
)
from bot.domain.kinds import FilerStanding
from bot.domain.request import AccessRequest, ApprovalOutcome, Route, State, Step, advance
from bot.domain.step_up import Decision
from bot.invariants import Invariants
from bot.ports import Ledger
from bot.routing import Routing
from bot.usecases.core import Core
from bot.usecases.extend import Extend


class Decide:
    def __init__(self, core: Core, routing: Routing, invariants: Invariants, extend: Extend,
                 email_of: Callable[[str], str] = lambda person: "") -> None:
        self.core, self.routing, self.invariants, self.extend = core, routing, invariants, extend
        self.email_of = email_of  # a person's email, for the directory's word on who manages whom

    def approve(self, request_id: str, approver: str) -> AccessRequest:
        """Count an approval for the step the request is at; after the last step's approvals,
        provision the access straight away."""
        core = self.core
        request = self.check_decidable(request_id, approver)
        self.invariants.check_step_up(request, approver, Decision.APPROVE)
        steps = self.routing.steps(request)
        step, last = steps[request.step], request.step == len(steps) - 1
        # Looked up before the transaction: it must not hold the row lock across a Slack call.
        approved = {**core.lookup.approvals(request_id), approver: request.step}
        # An approval that would leave a later step with nobody is refused: someone else can
        # take this step, and the clicker the later one.
        if self.routing.missing_approvers(request, approved):
            raise PolicyError("Your approval is needed at a later step, where nobody else can "
                              "give it: please leave this step to another approver.")
        next_approvers = [] if last else self.routing.deciders(
            replace(request, step=request.step + 1), approved)
        now = core.clock.now()

        def recorded(after: AccessRequest, outcome: ApprovalOutcome) -> list[Any]:  # written in the transaction that counts it
            if outcome is ApprovalOutcome.COUNTED:
                return core.recorded(ApprovalCounted(request_id=request_id, actor=approver, step=after.step + 1,
                                                     needed=step.approvals))
            if outcome is ApprovalOutcome.NEXT_STEP:
                return core.recorded(StepApproved(request_id=request_id, actor=approver, step=after.step,
                                                  next_approvers=tuple(next_approvers)))
            return [*core.recorded(RequestApproved(request_id=request_id, actor=approver,
                                                   approvers=after.decided_by)),
                    *bundle_items(after)]

        standing = self._filer_standing(request)  # read from Okta before the transaction

        def guard(ledger: Ledger, current: AccessRequest, approves: bool) -> None:
            if problem := self.invariants.filing_problem(current, standing):
                raise PolicyError(f"Whoever filed this request for someone else may not do so now. {problem}")
            if approves:
                self.invariants.check_conflicts(current, ledger)

        outcome, after = core.requests.approve(
            request_id, approver, request.step, step.approvals, last, now,
            approved=advance(State.PENDING, Step.APPROVE).value, also=recorded, guard=guard)
        if outcome is ApprovalOutcome.MOVED:  # another approval finished the step first: check for the new one
            return self.approve(request_id, approver)
        assert after is not None  # it was there when checked, and requests are never deleted
        if outcome in (ApprovalOutcome.CLOSED, ApprovalOutcome.DUPLICATE):
            raise AlreadyDecidedError(after)
        core.notifier.wake()
        if after.state is State.APPROVED:
            metrics.request_approved(after)
            core.hand_over(request_id, State.APPROVED)
        return after

    def _filer_standing(self, request: AccessRequest) -> FilerStanding:
        """What the filer of a request filed for someone else is to its beneficiary now."""
        if request.filed_by is None:
            return FilerStanding(manager=False, approver=False)
        return self.invariants.filer_standing(request, self.email_of(request.filed_by),
                                              self.routing.approves_under_rule(request, request.filed_by))

    def decline(self, request_id: str, person: str) -> AccessRequest:
        """The person a request was filed for does not want it: it ends before anything is
        granted.  Once approved, it is theirs to end (End now) when it has been granted."""
        request = self.core.get(request_id)
        if request.filed_by is None or person != request.requester:
            raise NotRequesterError("Only the person a request was filed for can decline it.")
        if request.state is not State.PENDING:
            if request.state in (State.DENIED, State.CANCELLED, State.TIMED_OUT):
                raise AlreadyDecidedError(request)
            raise NotActiveError("It is too late to decline: this access was already approved for you. "
                                 "Once it is granted, End now gives it up.")
        return self.core.move(BeneficiaryDeclined(request_id=request_id, actor=person, filed_by=request.filed_by),
                              decided_by=person, decided_at=self.core.clock.now(), seen=request)

    def deny(self, request_id: str, approver: str, reason: str) -> AccessRequest:
        """A deny at any step ends the request."""
        self.check_decidable(request_id, approver)
        now = self.core.clock.now()
        reason = reason.strip()
        return self.core.move(RequestDenied(request_id=request_id, actor=approver, reason=reason or None),
                              decided_by=approver, decided_at=now, decision_reason=reason or None)

    def cancel(self, request_id: str, person: str) -> AccessRequest:
        request = self.core.get(request_id)
        if request.filed_by is not None:  # the person it was filed for withdraws it: a decline
            return self.decline(request_id, person)
        if person != request.requester:
            raise NotRequesterError("Only the requester can cancel a request.")
        return self.core.move(RequestCancelled(request_id=request_id, actor=person),
                              decided_at=self.core.clock.now(), seen=request)

    def check_decidable(self, request_id: str, approver: str) -> AccessRequest:
        """Authorisation at click time: the clicker must be one of those who may act at the
        step the request is at (routing.deciders): not the requester, not someone who approved
        already."""
        core = self.core
        request = core.get(request_id)
        if own := self.invariants.own_request(request, approver):
            raise SelfApprovalError(own)
        if request.state != State.PENDING:
            raise AlreadyDecidedError(request)
        approved = core.lookup.approvals(request_id)
        if approver in approved:
            raise AlreadyDecidedError(request)
        self.routing.approvers.forget_on_call()  # whoever is on call now may decide, not who was
        if approver not in self.routing.deciders(request, approved):
            raise NotAnApproverError(self.routing.on_call_unknown(request) or (
                "You are not an approver for this access" + (" at this step." if request.step else ".")))
        if request.extends and core.get(request.extends).state is not State.ACTIVE:
            self.extend.close_extensions(request.extends)
            raise AlreadyDecidedError(core.get(request_id))
        return request

    def review(self, request_id: str, person: str) -> AccessRequest:
        """Someone other than the requester looks over a break-glass use and marks it reviewed."""
        core = self.core
        request = self.check_reviewable(request_id, person)
        self.invariants.check_step_up(request, person, Decision.REVIEW)
        if not core.requests.set_once(request_id, "reviewed_by", person, also=core.recorded(
                BreakGlassReviewed(request_id=request_id, actor=person))):
            raise TaskAlreadyDoneError(core.get(request_id))
        core.notifier.wake()
        return core.get(request_id)

    def check_reviewable(self, request_id: str, person: str) -> AccessRequest:
        """Authorisation at click time of a break-glass review."""
        request = self.core.get(request_id)
        if self.invariants.own_request(request, person):
            raise SelfApprovalError("Someone other than the person who broke the glass must review it.")
        if request.route is not Route.BREAK_GLASS:
            raise NotAllowedError("Only break-glass access is reviewed.")
        if person not in self.routing.break_glass_reviewers(request):
            raise NotAnApproverError("Only the fallback approvers or approvers of this access can review it.")
        if request.reviewed_by is not None:
            raise TaskAlreadyDoneError(request)
        return request

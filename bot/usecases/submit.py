"""Submit: file a new request under its rule.  People are asked to decide it, or it is approved
at once when the rule does (auto-approval) or the requester breaks the glass.

What a new request must satisfy is checked by bot/intake.py; what depends on the requester's
other requests (the hourly cap, separation of duties, auto-approval uses) is checked again here
under their lock, in the transaction that stores it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from bot import metrics
from bot.domain.derived import bundle_items
from bot.domain.errors import DuplicateError, InvalidRequestError
from bot.domain.events import SYSTEM, AutoApproved, BreakGlassUsed, OnCallUnknown, RequestSubmitted
from bot.domain.kinds import AutoApproval
from bot.domain.policy import describe_duration
from bot.domain.request import AccessRequest, Route, State, Step, advance
from bot.domain.rules import Rule
from bot.intake import AutoFinding, Draft, Intake
from bot.invariants import Invariants, StandingChanged
from bot.ports import Ledger, Move, Person
from bot.routing import Routing
from bot.usecases.core import Core

FILING_TRIES = 3  # checks of a submission whose requester's other requests keep changing


class Submit:
    def __init__(self, core: Core, intake: Intake, invariants: Invariants, routing: Routing) -> None:
        self.core, self.intake, self.invariants, self.routing = core, intake, invariants, routing

    def submit(self, requester: Person, connector_id: str, entitlement_id: str,
               duration: timedelta | None, justification: str, ticket: str = "",
               break_glass: bool = False, filer: Person | None = None) -> AccessRequest:
        """Validate and store a new request under its rule; ask its approvers, or approve it
        at once when the rule does (auto-approval) or the requester breaks the glass.
        `filer`: who files it for `requester`, when someone else does (people always decide)."""
        for _ in range(FILING_TRIES):
            draft = self.intake.validate(requester, connector_id, entitlement_id, duration,
                                         justification.strip(), ticket.strip(), break_glass, filer)
            try:
                request = self._file(draft)
            except StandingChanged:
                continue  # another of their requests changed what this one needs: check again
            self.core.notifier.wake()
            if request.state is State.APPROVED:
                metrics.request_approved(request)
                self.core.hand_over(request.id, State.APPROVED)
            return request
        raise InvalidRequestError({"access": "Your other requests changed while this one was being "
                                             "filed. Please submit it again."})

    def _file(self, draft: Draft) -> AccessRequest:
        """Store a checked submission, checking again under the requester's lock what depends on
        their other requests: the hourly cap, separation of duties, auto-approval uses."""
        request, rule, now = draft.request, draft.rule, draft.request.created_at

        def decide(ledger: Ledger) -> tuple[list[Any], list[Move]]:
            nonlocal request
            if problem := self.invariants.rate_problem(ledger, now):
                raise InvalidRequestError({"access": problem})
            if tuple(c.name for c in self.invariants.conflicts(request, ledger)) != draft.conflicts:
                raise StandingChanged()
            if request.route == Route.AUTO and not self.invariants.auto_approval_left(rule, ledger, now):
                if draft.missing:
                    raise InvalidRequestError({"access": draft.missing})
                request = replace(request, route=Route.PEOPLE)  # the rule's auto-approvals are used up: people decide
            request, written = self._submission(request, rule, draft.approvers, draft.auto)
            return [request, *written], []

        try:
            self.core.requests.guarded(request.requester, decide)
        except DuplicateError:
            raise InvalidRequestError({"access": "You already have a pending request for this."}) from None
        return request

    def _submission(self, request: AccessRequest, rule: Rule, approvers: list[str],
                    auto: AutoFinding) -> tuple[AccessRequest, list[Any]]:
        """The new request as it is filed, and what is written with it: its audit event and
        messages (and, when whether the requester is on call could not be learnt, that news);
        when it needs no people (auto-approval, break-glass), it is filed approved, with its
        approval and a bundle's items."""
        core, now = self.core, request.created_at
        by_people = request.route == Route.PEOPLE
        submitted = core.recorded(RequestSubmitted(
            request_id=request.id, actor=request.filed_by or request.requester, rule=rule.name,
            entitlement=request.entitlement_id,
            connector=request.connector_id, duration=describe_duration(request.duration),
            justification=request.justification, ticket=request.ticket,
            approvers=tuple(approvers) if by_people else (), filed_by=request.filed_by,
            beneficiary=request.requester if request.filed_by else None))
        if by_people:
            if auto.unknown is not None and (check := rule.kind(AutoApproval).on_call):
                submitted += core.recorded(OnCallUnknown(request_id=request.id, rule=rule.name,
                                                         source=check.source, reason=auto.unknown))
            return request, submitted
        approved = advance(State.PENDING, Step.APPROVE)  # filed as approved: no people needed
        request = replace(request, state=approved, decided_at=now, attention_at=None, decided_by=(
            request.requester if request.route == Route.BREAK_GLASS else SYSTEM,))
        return request, [*submitted, *self._approved_at_once(request, rule, auto), *bundle_items(request)]

    def _approved_at_once(self, request: AccessRequest, rule: Rule, auto: AutoFinding) -> list[Any]:
        if request.route is Route.AUTO:
            if (shift := auto.shift) is None:  # a group's member
                return self.core.recorded(AutoApproved(request_id=request.id, rule=rule.name))
            return self.core.recorded(AutoApproved(
                request_id=request.id, rule=rule.name, source=shift.source, schedule=shift.schedule,
                escalation_policy=shift.escalation_policy, level=shift.level))
        reviewers = self.routing.fallback(request) or self.routing.break_glass_reviewers(request)
        return self.core.recorded(BreakGlassUsed(request_id=request.id, actor=request.requester, rule=rule.name,
                                                 justification=request.justification, reviewers=tuple(reviewers)))

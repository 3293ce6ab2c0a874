"""Submit: file a new request under its rule.  People are asked to decide it, or it is approved
at once when the rule does (auto-approval) or the requester breaks the glass.

What a new request must satisfy is checked by bot/intake.py; what depends on the requester's
other requests (the hourly cap, separation of duties, auto-approval uses) is checked again here
under their lock, in the transaction that stores it.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot import metrics
from bot.domain.errors import InvalidRequestError
from bot.domain.events import SYSTEM, AutoApproved, BreakGlassUsed, RequestSubmitted
from bot.domain.policy import describe_duration
from bot.domain.request import AccessRequest, Route, State, Step, advance
from bot.domain.rules import Rule
from bot.intake import Draft, Intake
from bot.invariants import Invariants, StandingChanged
from bot.ports import Person, Row
from bot.records import DuplicateError, RequesterLedger, bundle_item_rows, to_domain
from bot.routing import Routing
from bot.usecases.core import Core

FILING_TRIES = 3  # checks of a submission whose requester's other requests keep changing


class Submit:
    def __init__(self, core: Core, intake: Intake, invariants: Invariants, routing: Routing) -> None:
        self.core, self.intake, self.invariants, self.routing = core, intake, invariants, routing

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
        row, rule, now = draft.row, draft.rule, draft.row.created_at

        def decide(reads: Any) -> tuple[list[Any], list[Any]]:
            ledger = RequesterLedger(reads)
            if problem := self.invariants.rate_problem(ledger, now):
                raise InvalidRequestError({"access": problem})
            if tuple(c.name for c in self.invariants.conflicts(to_domain(row), ledger)) != draft.conflicts:
                raise StandingChanged()
            if row.route == Route.AUTO and not self.invariants.auto_approval_left(rule, ledger, now):
                if draft.missing:
                    raise InvalidRequestError({"access": draft.missing})
                row.route = Route.PEOPLE  # the rule's auto-approvals are used up: people decide
            return [row, *self._submission(row, rule, draft.approvers)], []

        try:
            self.core.requests.guarded(row.requester, decide)
        except DuplicateError:
            raise InvalidRequestError({"access": "You already have a pending request for this."}) from None
        return to_domain(row)

    def _submission(self, row: Row, rule: Rule, approvers: list[str]) -> list[Any]:
        """What is written with a new request: its audit event and messages; when it needs no
        people (auto-approval, break-glass), its approval, and a bundle's items."""
        core, now = self.core, row.created_at
        by_people = row.route == Route.PEOPLE
        submitted = core.recorded(RequestSubmitted(
            request_id=row.id, actor=row.requester, rule=rule.name, entitlement=row.entitlement_id,
            connector=row.connector_id, duration=describe_duration(timedelta(seconds=row.duration_seconds)),
            justification=row.justification, ticket=row.ticket, approvers=tuple(approvers) if by_people else ()))
        if by_people:
            return submitted
        approved = advance(State.PENDING, Step.APPROVE)  # filed as approved: no people needed
        row.state, row.decided_at, row.attention_at = approved.value, now, None
        row.decided_by = row.requester if row.route == Route.BREAK_GLASS else SYSTEM
        return [*submitted, *self._approved_at_once(to_domain(row), rule), *bundle_item_rows(row)]

    def _approved_at_once(self, request: AccessRequest, rule: Rule) -> list[Any]:
        if request.route is Route.AUTO:
            return self.core.recorded(AutoApproved(request_id=request.id, rule=rule.name))
        reviewers = self.routing.fallback(request) or self.routing.break_glass_reviewers(request)
        return self.core.recorded(BreakGlassUsed(request_id=request.id, actor=request.requester, rule=rule.name,
                                                 justification=request.justification, reviewers=tuple(reviewers)))

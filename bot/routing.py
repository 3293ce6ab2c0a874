"""Who may decide a request, step by step: the rule's approvers, the fallback, escalation.

Answers from the rules in force (they change on a config reload) and the people the approver
entries name; it never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from bot.approvers import ApproverRouting
from bot.domain.request import AccessRequest
from bot.domain.rules import ApprovalStep, Conflict, Rule, RuleBook, first_unfillable, steps_for


@dataclass
class Routing:
    rules: Callable[[], RuleBook]
    approvers: ApproverRouting

    def rule(self, request: AccessRequest) -> Rule:
        return self.rules().named(request.rule)

    def approvers_of(self, request: AccessRequest) -> list[str]:
        """Who may decide the request before anyone has approved it."""
        return self.deciders(request, {})

    def deciders(self, request: AccessRequest, approved: Mapping[str, int]) -> list[str]:
        """Who may act now at the step the request is at: that step's approvers, less the
        requester and anyone who approved any step already (nobody counts twice); the fallback
        approvers as well when those are too few for the approvals the step still needs, and
        after escalation."""
        return self.progress(request, approved).deciders

    def progress(self, request: AccessRequest, approved: Mapping[str, int]) -> Progress:
        """Where a pending request stands: who approved which step, who may act now."""
        rule, steps = self.rule(request), self.steps(request)
        at = min(request.step, len(steps) - 1)
        needed = steps[at].approvals - sum(1 for step in approved.values() if step == at)
        people = [p for p in self.people_of(steps[at], request) if p not in approved]
        escalated = rule.escalate_after is not None and request.reminders >= rule.escalate_after
        if len(people) < needed or escalated:
            people += [p for p in self.fallback(request) if p not in people and p not in approved]
        return Progress(step=at, steps=len(steps), needed=max(needed, 0), deciders=people,
                        approved=dict(approved))

    def steps(self, request: AccessRequest) -> tuple[ApprovalStep, ...]:
        """The rule's steps.  For a bundle, a step left to "the owners" becomes one step per
        system in it: each system's owners agree to their part."""
        steps = steps_for(self.rule(request), self.conflict(request))
        if not request.is_bundle:
            return steps
        systems = sorted({item.connector_id for item in request.items})
        return tuple(expanded for step in steps for expanded in (
            [replace(step, connector=system) for system in systems] if not step.approvers else [step]))

    def step_people(self, request: AccessRequest, step: int) -> list[str]:
        steps = self.steps(request)
        return self.people_of(steps[min(step, len(steps) - 1)], request)

    def people_of(self, step: ApprovalStep, request: AccessRequest) -> list[str]:
        return self.people(step.approvers, request, step.connector)

    def fallback(self, request: AccessRequest) -> list[str]:
        fallback = self.rule(request).fallback
        return self.people(fallback, request) if fallback else []

    def break_glass_reviewers(self, request: AccessRequest) -> list[str]:
        """Who may review a break-glass use: the fallback approvers and the first step's."""
        fallback = self.fallback(request)
        return fallback + [p for p in self.step_people(request, 0) if p not in fallback]

    def people(self, entries, request: AccessRequest, connector_id: str | None = None) -> list[str]:
        """Person ids named by `entries` (the connector's owners if none), never the request's
        parties (its requester, and whoever filed it for them)."""
        people = self.approvers.resolve(entries, connector_id or request.connector_id)
        return [p for p in people if p not in request.parties]

    def approves_under_rule(self, request: AccessRequest, person: str) -> bool:
        """Whether the rule names `person` among its approvers, at any step or as a fallback
        (what `request_for: [approvers]` asks of whoever files a request for someone else)."""
        steps = [self.approvers.resolve(step.approvers, step.connector or request.connector_id)
                 for step in self.steps(request)]
        fallback = self.rule(request).fallback
        return any(person in people for people in steps) or (
            bool(fallback) and person in self.approvers.resolve(fallback, request.connector_id))

    def on_call_unknown(self, request: AccessRequest) -> str | None:
        """Why someone who may be on call for the step the request is at (or its fallback)
        cannot be asked or let decide now, if so: their on-call service cannot say who it is."""
        steps = self.steps(request)
        entries = (*steps[min(request.step, len(steps) - 1)].approvers, *self.rule(request).fallback)
        if (entry := self.approvers.unknown_on_call(entries)) is None:
            return None
        return (f"Latchkey cannot learn who is on call for {entry.schedule} right now, so whoever "
                "is cannot be asked or decide. Try again in a minute.")

    def conflict(self, request: AccessRequest) -> Conflict | None:
        return next((c for c in self.rules().conflicts if c.name == request.conflict), None)

    def missing_approvers(self, request: AccessRequest, approved: Mapping[str, int] | None = None
                          ) -> str | None:
        """Why the request could never be approved from here (None if it can be): each
        approval still needed must come from a different person (rules.first_unfillable), of the
        step's approvers or the fallback (who step in when a step has too few).  `approved`:
        person → the step they approved, for a request under way; checked before counting a
        click, so that a click that would leave a later step with nobody is refused instead of
        stranding the request."""
        approved = approved or {}
        steps, fallback = self.steps(request), self.fallback(request)
        needs = [(step.approvals - sum(1 for at in approved.values() if at == number),
                  [p for p in self.people_of(step, request) + fallback if p not in approved])
                 for number, step in enumerate(steps)][request.step:]
        short = first_unfillable(needs)
        if short is None:
            return None
        number = request.step + short
        if not needs[short][1] and not approved:
            return "Nobody but you can approve this, and nobody approves their own request."
        return (f"Step {number + 1} needs {steps[number].approvals} "
                f"approval{'s' if steps[number].approvals > 1 else ''} from people who have not "
                "approved another step, and too few people other than you can give them. "
                "Ask an admin to fix the policy.")


@dataclass(frozen=True)
class Progress:
    """Where a pending request stands, for whoever shows it."""

    step: int  # the step it is at (0-based)
    steps: int  # how many steps it has
    needed: int  # approvals still missing at this step
    deciders: list[str]  # who may approve or deny now
    approved: dict[str, int] = field(default_factory=dict)  # person → the step they approved

    def approvers_of_step(self, step: int) -> list[str]:
        return [person for person, at in self.approved.items() if at == step]

"""Who may decide a request, step by step: the rule's approvers, the fallback, escalation.

Answers from the rules in force (they change on a config reload) and the people the approver
entries name; it never changes anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from bot.approvers import ApproverRouting
from bot.domain.request import AccessRequest
from bot.domain.rules import ApprovalStep, Conflict, Rule, RuleBook, steps_for


@dataclass
class Routing:
    rules: Callable[[], RuleBook]
    approvers: ApproverRouting

    def rule(self, request: AccessRequest) -> Rule:
        return self.rules().named(request.rule)

    def approvers_of(self, request: AccessRequest) -> list[str]:
        """Who may decide the request now: its current step's approvers; the fallback
        approvers when none of those can (unreachable, or only the requester), and after
        escalation as well."""
        rule = self.rule(request)
        people = self.step_people(request, request.step)
        if not people or (rule.escalate_after is not None and request.reminders >= rule.escalate_after):
            people += [p for p in self.fallback(request) if p not in people]
        return people

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
        """Person ids named by `entries` (the connector's owners if none), never the requester."""
        people = self.approvers.resolve(entries, connector_id or request.connector_id)
        return [p for p in people if p != request.requester]

    def conflict(self, request: AccessRequest) -> Conflict | None:
        return next((c for c in self.rules().conflicts if c.name == request.conflict), None)

    def missing_approvers(self, request: AccessRequest) -> str | None:
        """Why the request could never be approved (too few people besides the requester)."""
        for number, step in enumerate(self.steps(request), start=1):
            people = self.people_of(step, request) or self.fallback(request)
            if len(people) < step.approvals:
                if not people:
                    return "Nobody but you can approve this, and nobody approves their own request."
                return (f"Step {number} needs {step.approvals} approvals but only {len(people)} "
                        "people other than you can give them. Ask an admin to fix the policy.")
        return None

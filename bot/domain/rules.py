"""Which rule governs a request, and what that rule asks for.

Rules are matched by connector, resource type and resource name (globs), first match wins, over
a default rule.  A rule says who approves (in one or more steps), who steps in when they cannot,
what may be asked for and how long, and when nobody needs to be asked at all (auto-approval,
break-glass).  Pure data and decisions: nothing here talks to Slack, a connector or the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import TypeVar

from bot.domain.kinds import KINDS, BreakGlass, Form, RequestFor, RuleKind, Ticket
from bot.domain.notify import Notify
from bot.domain.policy import Policy

K = TypeVar("K", bound=RuleKind)


@dataclass(frozen=True)
class ApprovalStep:
    """One round of approval.  No approvers named means the connector's owners."""

    approvers: tuple[str, ...] = ()  # person ids, emails, or Slack user groups (@handle / S…)
    approvals: int = 1  # distinct people of this step who must approve
    connector: str | None = None  # whose owners approve when nobody is named (default: the request's)


@dataclass(frozen=True)
class Target:
    """What a request is for, as rules see it."""

    connector_id: str
    resource_type: str
    resource_name: str


@dataclass(frozen=True)
class Match:
    """Globs on a target's connector, resource type and resource name; None matches anything
    (what a rule applies to, what an access review covers)."""

    connector: str | None = None
    resource_type: str | None = None
    resource: str | None = None

    def matches(self, target: Target) -> bool:
        wanted = ((self.connector, target.connector_id), (self.resource_type, target.resource_type),
                  (self.resource, target.resource_name))
        return all(glob is None or fnmatchcase(value.lower(), glob.lower()) for glob, value in wanted)


@dataclass(frozen=True)
class Rule:
    name: str
    policy: Policy
    steps: tuple[ApprovalStep, ...] = (ApprovalStep(),)
    connector: str | None = None  # globs; None matches anything
    resource_type: str | None = None
    resource: str | None = None
    fallback: tuple[str, ...] = ()  # asked when the approvers cannot be, or on escalation
    escalate_after: int | None = 2  # reminders before the fallback approvers are asked too
    kinds: tuple[RuleKind, ...] = ()  # what else it asks (bot/domain/kinds/); unlisted kinds: their default
    notify: Notify = Notify()  # where its approvers are asked

    def matches(self, target: Target) -> bool:
        if target.resource_type == BUNDLE and self.resource_type is None:
            return False  # a bundle is governed only by rules that say `type: bundle`
        return Match(self.connector, self.resource_type, self.resource).matches(target)

    def kind(self, kind: type[K]) -> K:
        """What this rule asks of that kind: its own, or the kind's default."""
        return next((mine for mine in self.kinds if isinstance(mine, kind)), None) or kind()

    def problems(self, form: Form) -> dict[str, str]:
        """What the requester must fix in the form, by field, under this rule's kinds."""
        found: dict[str, str] = {}
        for kind in KINDS:
            found.update(self.kind(kind).problems(form))
        return found

    def weaker_than(self, other: Rule) -> list[str]:
        """Where this rule asks less than `other` (a bundle's rule against an item's): each
        approval step of `other`, the ticket and justification it wants, its limits on time,
        and its bars on break-glass, auto-approval and unapproved extensions."""
        weaker = [f"it lacks the approval step of {_step_text(step)}" for step in other.steps
                  if not any(set(mine.approvers) == set(step.approvers) and mine.approvals >= step.approvals
                             for mine in self.steps)]
        if self.policy.max_duration > other.policy.max_duration:
            weaker.append("its max_duration is longer")
        if self.policy.max_total_duration > other.policy.max_total_duration:
            weaker.append("its max_total_duration is longer")
        weaker += [reason for kind in KINDS if (reason := self.kind(kind).weaker_than(other.kind(kind)))]
        return weaker


def _is_group(entry: str) -> bool:
    return entry.startswith("@") or (entry[:1] == "S" and entry[1:].isalnum())


def _step_text(step: ApprovalStep) -> str:
    who = ", ".join(step.approvers) or "the owners"
    return f"{who} ({step.approvals} approval{'s' if step.approvals > 1 else ''})"


@dataclass(frozen=True)
class EntitlementPattern:
    """`connector:name-glob`, e.g. `okta:finance-*`."""

    connector: str
    name: str

    @classmethod
    def parse(cls, text: str) -> EntitlementPattern:
        connector, sep, name = text.partition(":")
        if not sep or not connector or not name:
            raise ValueError(f"{text!r} should be written connector:name, e.g. okta:finance-*")
        return cls(connector, name)

    def matches(self, connector_id: str, name: str) -> bool:
        return fnmatchcase(connector_id, self.connector) and fnmatchcase(name.lower(), self.name.lower())

    def __str__(self) -> str:
        return f"{self.connector}:{self.name}"


@dataclass(frozen=True)
class Conflict:
    """Two entitlements nobody should hold together (separation of duties)."""

    name: str
    first: EntitlementPattern
    second: EntitlementPattern
    action: str = "refuse"  # or "approve": allowed after an extra step of approval
    approvers: tuple[str, ...] = ()  # that extra step's approvers

    def created_by(self, wanted: tuple[str, str], held: Iterable[tuple[str, str]]) -> bool:
        """Would holding `wanted` (connector id, name) next to `held` break this rule?"""
        held = list(held)
        for this, other in ((self.first, self.second), (self.second, self.first)):
            if this.matches(*wanted) and any(other.matches(*pair) for pair in held if pair != wanted):
                return True
        return False

    @property
    def extra_step(self) -> ApprovalStep:
        return ApprovalStep(self.approvers, 1)


BUNDLE = "bundle"  # the connector id and resource type under which bundles are requested


@dataclass(frozen=True)
class Bundle:
    """Several entitlements requested, approved, granted and taken back together."""

    name: str
    items: tuple[tuple[str, str], ...]  # (connector id, entitlement or resource name)
    description: str = ""

    @property
    def target(self) -> Target:
        return Target(BUNDLE, BUNDLE, self.name)


@dataclass(frozen=True)
class RuleBook:
    default: Rule
    rules: tuple[Rule, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    max_requests_per_hour: int = 20  # per requester; stops floods of DMs to approvers
    bundles: tuple[Bundle, ...] = ()

    def bundle(self, name: str) -> Bundle | None:
        return next((bundle for bundle in self.bundles if bundle.name == name), None)

    def bundles_matching(self, text: str) -> list[Bundle]:
        text = text.strip().casefold()
        return [bundle for bundle in self.bundles if text in bundle.name.casefold()]

    def rule_for(self, target: Target) -> Rule:
        return next((rule for rule in self.rules if rule.matches(target)), self.default)

    def named(self, name: str) -> Rule:
        """The rule a request was filed under; the default if a reload has removed it."""
        return next((rule for rule in self.rules if rule.name == name), self.default)

    def conflicts_for(self, wanted: tuple[str, str], held: Iterable[tuple[str, str]]) -> list[Conflict]:
        held = list(held)
        return [conflict for conflict in self.conflicts if conflict.created_by(wanted, held)]

    def offered_durations(self) -> tuple[timedelta, ...]:
        """Every duration some rule offers: the form checks the chosen one against the rule."""
        every = {d for rule in (self.default, *self.rules) for d in rule.policy.offered_durations()}
        return tuple(sorted(every))

    def unreviewable_break_glass(self, owners: dict[str, tuple[str, ...]]) -> list[str]:
        """Rules that allow break-glass where nobody but the requester might be left to review
        it: fewer than two people among the fallback and first-step approvers (the owners of
        each connector the rule can match, when it names no approvers).  A user group counts as
        enough; its members are known only when a request is made, and checked then."""
        problems = []
        for rule in (self.default, *self.rules):
            if not rule.kind(BreakGlass).allowed:
                continue
            named = rule.steps[0].approvers if rule.steps else ()
            for connector, entries in owners.items():
                if not named and rule.connector and not fnmatchcase(connector, rule.connector):
                    continue
                reviewers = set(rule.fallback) | set(named or entries)
                if len(reviewers) < 2 and not any(_is_group(entry) for entry in reviewers):
                    problems.append(f"rule {rule.name!r} allows break_glass, but only "
                                    f"{', '.join(sorted(reviewers)) or 'nobody'} could review it "
                                    f"(for connector {connector!r}), and nobody reviews their own: "
                                    "add a `fallback` or a second approver")
                    break
        return problems

    def weaker_bundles(self) -> list[str]:
        """Bundles whose rule asks less than the rule of one of their items, as far as the
        config alone tells (a rule that matches on resource type is checked when a bundle is
        requested, when the items' types are known)."""
        problems = []
        for bundle in self.bundles:
            rule = self.rule_for(bundle.target)
            for connector, name in bundle.items:
                item_rule = next((r for r in self.rules if r.resource_type is None
                                  and r.matches(Target(connector, "", name))), self.default)
                if item_rule is not rule and (weaker := rule.weaker_than(item_rule)):
                    problems.append(f"bundle {bundle.name!r} is weaker than its item "
                                    f"{connector}:{name}: its rule {rule.name!r} asks less than "
                                    f"rule {item_rule.name!r} ({'; '.join(weaker)})")
        return problems

    @property
    def break_glass_anywhere(self) -> bool:
        return any(rule.kind(BreakGlass).allowed for rule in (self.default, *self.rules))

    @property
    def request_for_anywhere(self) -> bool:
        """Whether some rule lets someone file a request for another person."""
        return any(rule.kind(RequestFor).allowed for rule in (self.default, *self.rules))

    @property
    def tickets_anywhere(self) -> bool:
        return any(rule.kind(Ticket).asked for rule in (self.default, *self.rules))


def steps_for(rule: Rule, conflict: Conflict | None) -> tuple[ApprovalStep, ...]:
    """A conflict that may be approved adds one last step for its approvers."""
    return rule.steps + ((conflict.extra_step,) if conflict and conflict.action == "approve" else ())


def first_unfillable(needs: Sequence[tuple[int, Sequence[str]]]) -> int | None:
    """The first step whose approvals cannot all be given, or None when every step can be.

    `needs`: per step, (approvals still needed, the people who may give them).  Nobody counts
    twice, not even across steps, so checking the steps one by one is not enough: [alice or
    bob] then [alice] works only if bob takes the first, [alice] then [alice] never.  This
    matches people to all the approvals at once (augmenting paths; steps and people are few).
    """
    slots = [step for step, (needed, _) in enumerate(needs) for _ in range(max(needed, 0))]
    holder: dict[str, int] = {}  # person → the slot they fill

    def place(slot: int, seen: set[str]) -> bool:
        for person in needs[slots[slot]][1]:
            if person not in seen:
                seen.add(person)
                if person not in holder or place(holder[person], seen):
                    holder[person] = slot
                    return True
        return False

    return next((slots[slot] for slot in range(len(slots)) if not place(slot, set())), None)

"""The policy section of the YAML file translated into the domain's RuleBook.

The policy is the default rule; each of its rules takes from it whatever the rule leaves unset.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, get_args

from bot.domain.kinds import KINDS
from bot.domain.notify import Notify, NotifyMode
from bot.domain.policy import Policy
from bot.domain.rules import (
    ApprovalStep,
    Bundle,
    Conflict,
    EntitlementPattern,
    Rule,
    RuleBook,
)

if TYPE_CHECKING:  # the schema validates with this translation, so it imports this module
    from collections.abc import Sequence

    from bot.config.policy import (
        BundleConfig,
        ConflictConfig,
        MatchConfig,
        PolicyConfig,
        RuleConfig,
        StepConfig,
    )


def to_rulebook(policy: PolicyConfig) -> RuleBook:
    return RuleBook(_rule(policy, "default", policy), tuple(_rule(policy, r.name, r, r.match) for r in policy.rules),
                    tuple(map(_conflict, policy.conflicts)), policy.max_requests_per_hour,
                    tuple(map(_bundle, policy.bundles)))


def _rule(policy: PolicyConfig, name: str, settings: PolicyConfig | RuleConfig,
          match: MatchConfig | None = None) -> Rule:
    def inherited(key: str) -> Any:
        # A rule's unset key falls back to the policy's own setting, and so does `null` for a key
        # the policy itself cannot leave empty (durations, max_duration …): there null can only
        # mean "as the policy"; for the others (remind_after, ticket …) it means "none".
        if key in settings.model_fields_set and (getattr(settings, key) is not None or _nullable(policy, key)):
            return getattr(settings, key)
        return getattr(policy, key)

    times = Policy(tuple(inherited("durations")), inherited("max_duration"),
                   remind_after=inherited("remind_after"),
                   pending_timeout=inherited("pending_timeout"),
                   warn_before=inherited("warn_before"), max_total=inherited("max_total_duration"))
    return Rule(
        name=name, policy=times, steps=_steps(policy, settings),
        connector=match.connector if match else None,
        resource_type=match.type if match else None,
        resource=match.resource if match else None,
        fallback=tuple(inherited("fallback") or ()),
        escalate_after=inherited("escalate_after"),
        kinds=tuple(kind.from_config(inherited(kind.key)) for kind in KINDS),
        notify=Notify(NotifyMode(inherited("notify")), inherited("approval_channel")))


def _steps(policy: PolicyConfig, settings: PolicyConfig | RuleConfig) -> tuple[ApprovalStep, ...]:
    """The rule's own steps; else its own approvers or approvals, the other one taken from the
    policy; else the policy's steps, or its one step of approvers and approvals."""
    if settings.steps:
        return _each(settings.steps)
    if {"approvers", "approvals"} & settings.model_fields_set:
        return (ApprovalStep(tuple(settings.approvers or policy.approvers or ()),
                             settings.approvals or policy.approvals),)
    if policy.steps:
        return _each(policy.steps)
    return (ApprovalStep(tuple(policy.approvers or ()), policy.approvals),)


def _each(steps: Sequence[StepConfig]) -> tuple[ApprovalStep, ...]:
    return tuple(ApprovalStep(tuple(step.approvers or ()), step.approvals) for step in steps)


def _conflict(conflict: ConflictConfig) -> Conflict:
    first, second = map(EntitlementPattern.parse, conflict.entitlements)
    return Conflict(conflict.name, first, second, conflict.action, tuple(conflict.approvers or ()))


def _bundle(bundle: BundleConfig) -> Bundle:
    items = tuple((p.connector, p.name) for p in map(EntitlementPattern.parse, bundle.items))
    return Bundle(bundle.name, items, bundle.description)


def _nullable(policy: PolicyConfig, key: str) -> bool:
    """Whether the policy's own `key` may be null (then a rule's null means "none")."""
    return type(None) in get_args(type(policy).model_fields[key].annotation)

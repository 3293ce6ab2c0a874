"""Auto-approval: members of some groups, or whoever is on call now, are approved at once, at
most so often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Self

from bot.domain.kinds.base import RuleKind
from bot.domain.on_call import OnCallCheck


@dataclass(frozen=True)
class AutoApproval(RuleKind):
    """Approve without asking anyone when the requester belongs to one of these groups, or is on
    call now as `on_call` asks (its use is counted, under the requester's lock, by
    bot/invariants.py)."""

    key = "auto_approve"
    okta_groups: tuple[str, ...] = ()  # Okta group names, as synced
    slack_groups: tuple[str, ...] = ()  # Slack user group handles or ids
    max_uses: int | None = None  # per requester and rule within `period`; None: no cap
    period: timedelta = timedelta(days=1)
    on_call: OnCallCheck | None = None  # whoever it finds on call is approved too

    @classmethod
    def from_config(cls, value: Any) -> Self:
        if not value:
            return cls()
        on_call = value.on_call and OnCallCheck(value.on_call.source, tuple(value.on_call.schedules),
                                                tuple(value.on_call.escalation_policies),
                                                value.on_call.max_level)
        return cls(tuple(value.okta_groups), tuple(value.slack_groups), value.max_uses, value.period,
                   on_call or None)

    @property
    def anyone(self) -> bool:
        """Whether it may approve anybody at all."""
        return bool(self.okta_groups or self.slack_groups or self.on_call)

    def within(self, other: AutoApproval) -> bool:
        """Does this approve no one, and no more often, than `other` would?"""
        return not self.anyone or (
            set(self.okta_groups) <= set(other.okta_groups) and set(self.slack_groups) <= set(other.slack_groups)
            and _on_call_within(self.on_call, other.on_call)
            and (other.max_uses is None or (self.max_uses is not None and self.max_uses <= other.max_uses
                                            and self.period >= other.period)))

    def weaker_than(self, other: Self) -> str | None:
        return None if self.within(other) else "it approves automatically where the item's rule does not"


def _on_call_within(mine: OnCallCheck | None, other: OnCallCheck | None) -> bool:
    """Does `mine` find no one on call whom `other` would not?"""
    if mine is None:
        return True
    if other is None or mine.source != other.source:
        return False
    levels_within = other.max_level is None or (mine.max_level is not None and mine.max_level <= other.max_level)
    return (set(mine.schedules) <= set(other.schedules)
            and set(mine.escalation_policies) <= set(other.escalation_policies) and levels_within)

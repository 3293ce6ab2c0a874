"""Auto-approval: members of some groups are approved at once, at most so often."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Self

from bot.domain.kinds.base import RuleKind


@dataclass(frozen=True)
class AutoApproval(RuleKind):
    """Approve without asking anyone when the requester belongs to one of these groups (its
    use is counted, under the requester's lock, by bot/invariants.py)."""

    key = "auto_approve"
    okta_groups: tuple[str, ...] = ()  # Okta group names, as synced
    slack_groups: tuple[str, ...] = ()  # Slack user group handles or ids
    max_uses: int | None = None  # per requester and rule within `period`; None: no cap
    period: timedelta = timedelta(days=1)

    @classmethod
    def from_config(cls, value: Any) -> Self:
        if not value:
            return cls()
        return cls(tuple(value.okta_groups), tuple(value.slack_groups), value.max_uses, value.period)

    @property
    def anyone(self) -> bool:
        """Whether it may approve anybody at all."""
        return bool(self.okta_groups or self.slack_groups)

    def within(self, other: AutoApproval) -> bool:
        """Does this approve no one, and no more often, than `other` would?"""
        return not self.anyone or (
            set(self.okta_groups) <= set(other.okta_groups) and set(self.slack_groups) <= set(other.slack_groups)
            and (other.max_uses is None or (self.max_uses is not None and self.max_uses <= other.max_uses
                                            and self.period >= other.period)))

    def weaker_than(self, other: Self) -> str | None:
        return None if self.within(other) else "it approves automatically where the item's rule does not"

"""Step-up MFA for the approver: under such a rule an approval (a break-glass review, an
extension's approval) counts only once the approver has confirmed it on their phone, with a
push Latchkey sends (Okta Verify).  A click that merely carries the approver's Slack session is
not enough for access this sensitive."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Self

from bot.domain.kinds.base import RuleKind


class StepUpMethod(Enum):
    """How the approver proves it is them (the value is the config's word)."""

    OKTA_VERIFY = "okta_verify"  # an Okta Verify push to the approver's phone


@dataclass(frozen=True)
class StepUp(RuleKind):
    key = "step_up"
    method: StepUpMethod | None = None  # None: a click is enough

    @classmethod
    def from_config(cls, value: Any) -> Self:
        return cls(method=StepUpMethod(value) if value else None)

    @property
    def required(self) -> bool:
        return self.method is not None

    def weaker_than(self, other: Self) -> str | None:
        if other.required and not self.required:
            return "it does not ask the approver to confirm on their phone (step_up)"
        return None

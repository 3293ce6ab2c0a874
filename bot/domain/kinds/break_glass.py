"""Break-glass: the requester may approve their own request in an emergency; others review it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from bot.domain.kinds.base import Form, RuleKind


@dataclass(frozen=True)
class BreakGlass(RuleKind):
    key = "break_glass"
    allowed: bool = False

    @classmethod
    def from_config(cls, value: Any) -> Self:
        return cls(allowed=bool(value))

    def problems(self, form: Form) -> dict[str, str]:
        if form.break_glass and not self.allowed:
            return {"break_glass": "Break-glass is not allowed for this access: ask for approval instead."}
        return {}

    def weaker_than(self, other: Self) -> str | None:
        return "it allows break-glass" if self.allowed and not other.allowed else None

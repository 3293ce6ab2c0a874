"""A request must say why (unless the rule waives it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from bot.domain.kinds.base import Form, RuleKind


@dataclass(frozen=True)
class Justification(RuleKind):
    key = "justification_required"
    required: bool = True

    @classmethod
    def from_config(cls, value: Any) -> Self:
        return cls(required=bool(value))

    def problems(self, form: Form) -> dict[str, str]:
        if self.required and not form.justification:
            return {"justification": "Say why you need this access."}
        return {}

    def weaker_than(self, other: Self) -> str | None:
        return "it does not require a justification" if other.required and not self.required else None

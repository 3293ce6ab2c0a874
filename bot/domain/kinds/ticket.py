"""A ticket reference: required, or checked against a pattern when given."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Self

from bot.domain.kinds.base import Form, RuleKind


@dataclass(frozen=True)
class Ticket(RuleKind):
    key = "ticket"
    required: bool = False
    pattern: str | None = None  # a full match is required when given

    @classmethod
    def from_config(cls, value: Any) -> Self:
        return cls(required=value.required, pattern=value.pattern) if value else cls()

    @property
    def asked(self) -> bool:
        """Whether the form asks for a ticket at all."""
        return self.required or self.pattern is not None

    def problems(self, form: Form) -> dict[str, str]:
        if not form.ticket:
            return {"ticket": "A ticket reference is required for this access."} if self.required else {}
        if self.pattern and not re.fullmatch(self.pattern, form.ticket):
            return {"ticket": f"That does not look like a ticket reference (expected {self.pattern})."}
        return {}

    def weaker_than(self, other: Self) -> str | None:
        return "it does not ask for the same ticket" if other.asked and self != other else None

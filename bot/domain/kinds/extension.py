"""Whether holders may extend their access without asking again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from bot.domain.kinds.base import RuleKind


@dataclass(frozen=True)
class ExtensionApproval(RuleKind):
    key = "extension_needs_approval"
    needed: bool = True

    @classmethod
    def from_config(cls, value: Any) -> Self:
        return cls(needed=bool(value))

    def weaker_than(self, other: Self) -> str | None:
        return "it lets extensions through without approval" if other.needed and not self.needed else None

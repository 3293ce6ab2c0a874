"""The one small interface every rule kind implements (see bot/domain/kinds/__init__.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Self


@dataclass(frozen=True)
class Form:
    """What a requester typed, as the rule kinds check it."""

    justification: str = ""
    ticket: str = ""
    break_glass: bool = False
    for_someone_else: bool = False  # filed for another person, who gets the access


@dataclass(frozen=True)
class RuleKind:
    """One thing a rule may ask of a request.  Built with no arguments, a kind asks what a rule
    that does not mention it asks; each hook's default takes no part in that transition."""

    key: ClassVar[str]  # its key in a rule's config (bot/config/policy.py `RuleSettings`)

    @classmethod
    def from_config(cls, value: Any) -> Self:
        """The kind from its key's validated config value (a bool, or its config model, or
        None where the rule leaves it unset)."""
        raise NotImplementedError

    def problems(self, form: Form) -> dict[str, str]:
        """What the requester must fix, by form field, when the request is filed."""
        return {}

    def weaker_than(self, other: Self) -> str | None:
        """Why a bundle's rule with this asks less than an item's rule with `other`, or None."""
        return None

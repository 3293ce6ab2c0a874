"""Signing the person out when the access ends, so that a session they already have does not
keep what was taken back (removing a group membership does not end Okta sessions)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from bot.domain.kinds.base import RuleKind


@dataclass(frozen=True)
class EndSessions(RuleKind):
    key = "end_sessions"
    enabled: bool = False
    oauth_tokens: bool = False  # also revoke the OAuth/OIDC tokens issued to them

    @classmethod
    def from_config(cls, value: Any) -> Self:
        if isinstance(value, bool) or value is None:
            return cls(enabled=bool(value))
        return cls(enabled=True, oauth_tokens=value.oauth_tokens)

    def weaker_than(self, other: Self) -> str | None:
        if (other.enabled and not self.enabled) or (other.oauth_tokens and not self.oauth_tokens):
            return "it does not sign the person out as the item's rule does when the access ends"
        return None

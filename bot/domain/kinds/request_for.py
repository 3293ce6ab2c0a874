"""Requests for someone else: who may file a request whose access goes to another person (the
beneficiary, who is the request's requester).  Nobody may unless a rule says so."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Self

from bot.domain.kinds.base import Form, RuleKind


class Filer(enum.StrEnum):
    """Who, besides the beneficiary, may file."""

    MANAGERS = "managers"  # the beneficiary's manager, as the directory (Okta's managerId) says
    APPROVERS = "approvers"  # an approver of the rule
    ANYONE = "anyone"


@dataclass(frozen=True)
class FilerStanding:
    """What is known of a filer when their right is checked: whether they are the beneficiary's
    manager (None: the directory could not say) and whether they approve under the rule."""

    manager: bool | None
    approver: bool


@dataclass(frozen=True)
class RequestFor(RuleKind):
    key = "request_for"
    filers: frozenset[Filer] = frozenset()

    @classmethod
    def from_config(cls, value: Any) -> Self:
        return cls(frozenset(Filer(each) for each in value or ()))

    @property
    def allowed(self) -> bool:
        """Whether anyone at all may file for someone else under this rule."""
        return bool(self.filers)

    def problems(self, form: Form) -> dict[str, str]:
        if form.for_someone_else and not self.allowed:
            return {"for": "Nobody may request this access for someone else: they must ask for it themselves."}
        return {}

    def refusal(self, standing: FilerStanding) -> str | None:
        """Why this filer may not file for the beneficiary, or None when they may (said of the
        beneficiary as "them").  A manager the directory could not confirm is refused: an
        unchecked right never passes."""
        if Filer.ANYONE in self.filers or (Filer.APPROVERS in self.filers and standing.approver):
            return None
        if Filer.MANAGERS in self.filers:
            if standing.manager:
                return None
            if standing.manager is None:
                return "Okta cannot say right now who their manager is; try again in a minute."
        return f"Only {self._who()} may request this access for someone else."

    def _who(self) -> str:
        names = {Filer.MANAGERS: "their manager (as Okta shows it)", Filer.APPROVERS: "its approvers"}
        return " or ".join(names[f] for f in (Filer.MANAGERS, Filer.APPROVERS) if f in self.filers) \
            or "the person themselves"

    def covers(self, filer: Filer) -> bool:
        return Filer.ANYONE in self.filers or filer in self.filers

    def weaker_than(self, other: Self) -> str | None:
        more = sorted(f.value for f in self.filers if not other.covers(f))
        return f"it lets {', '.join(more)} request for someone else where the item's rule does not" \
            if more else None

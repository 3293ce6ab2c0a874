"""A ticket reference: required, or checked against a pattern when given, and optionally
checked against the issue tracker (Jira) the ticket lives in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any, Self

from bot.domain.kinds.base import Form, RuleKind


class TicketStatus(Enum):
    """Where a ticket stands, as its tracker groups its statuses (Jira's status categories)."""

    TO_DO = "new"
    IN_PROGRESS = "indeterminate"
    DONE = "done"


@dataclass(frozen=True)
class TicketFacts:
    """A ticket as its tracker shows it when it is checked."""

    key: str
    summary: str
    status: str  # the status's own name, e.g. "In Review"
    category: TicketStatus
    url: str  # where a person opens it
    assignee_account: str | None = None  # None: unassigned
    assignee_email: str | None = None  # None also when the tracker hides it (privacy settings)


@dataclass(frozen=True)
class TrackerCheck:
    """What a rule asks of a ticket in its tracker, and where that tracker is."""

    site: str  # the tracker's base URL, which names it for the lookup (bot/ports.py TicketLookup)
    must_be_open: bool = True
    must_be_assigned_to_requester: bool = False


@dataclass(frozen=True)
class Ticket(RuleKind):
    key = "ticket"
    required: bool = False
    pattern: str | None = None  # a full match is required when given
    tracker: TrackerCheck | None = None  # checked there when given
    end_with_ticket: bool = False  # the access ends when the ticket is resolved

    @classmethod
    def from_config(cls, value: Any) -> Self:
        if not value:
            return cls()
        jira = value.jira
        tracker = TrackerCheck(str(jira.url), jira.must_be_open, jira.must_be_assigned_to_requester) \
            if jira else None
        return cls(required=value.required, pattern=value.pattern, tracker=tracker,
                   end_with_ticket=value.end_with_ticket)

    @property
    def asked(self) -> bool:
        """Whether the form asks for a ticket at all."""
        return self.required or self.pattern is not None or self.tracker is not None

    def problems(self, form: Form) -> dict[str, str]:
        if not form.ticket:
            return {"ticket": "A ticket reference is required for this access."} if self.required else {}
        if self.pattern and not re.fullmatch(self.pattern, form.ticket):
            return {"ticket": f"That does not look like a ticket reference (expected {self.pattern})."}
        return {}

    def tracker_problem(self, key: str, facts: TicketFacts | None, requester_email: str,
                        requester_account: str | None) -> str | None:
        """What is wrong with the ticket as its tracker shows it (None: found, and not yet
        resolved), for the form's ticket field.  `requester_account` is the requester's account
        in the tracker, needed only when it hides the assignee's email."""
        assert self.tracker is not None
        if facts is None:
            return f"There is no ticket {key}, or Latchkey may not see it."
        if self.tracker.must_be_open and facts.category is TicketStatus.DONE:
            return f"{facts.key} is {facts.status}: access needs a ticket that is still open."
        if self.tracker.must_be_assigned_to_requester and not assigned_to(facts, requester_email,
                                                                         requester_account):
            return f"{facts.key} is not assigned to you: access needs a ticket assigned to you."
        return None

    def weaker_than(self, other: Self) -> str | None:
        return "it does not ask for the same ticket" if other.asked and self != other else None


def assigned_to(facts: TicketFacts, email: str, account: str | None) -> bool:
    """Whether the ticket is assigned to the person with this email (or, where the tracker
    hides emails, this account)."""
    if facts.assignee_account is None:
        return False
    if facts.assignee_email is not None:
        return facts.assignee_email.casefold() == email.casefold() != ""
    return account is not None and account == facts.assignee_account

"""Who is on call, as the core reasons about it: the shifts an on-call service reports, what a
rule's auto-approval asks of them, and the approver entries that name a schedule.

Nothing here asks an on-call service (that is bot/ports.py `OnCall`); a service that cannot
answer is an OnCallUnknownError, and never counts as anyone being on call.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

ENTRY = re.compile(r"on_call:(?P<source>[a-z]+)/(?P<schedule>[^/\s]+)")


@dataclass(frozen=True)
class OnCallShift:
    """One person on call now, as a source reports them: through a schedule, an escalation
    policy, or both (PagerDuty names both; Opsgenie's schedules have no levels: level 1)."""

    email: str
    source: str  # the `on_call:` source that reported it: pagerduty, opsgenie
    schedule: str | None = None
    escalation_policy: str | None = None
    level: int = 1  # the escalation level; 1 is the first responder


@dataclass(frozen=True)
class OnCallCheck:
    """What an auto-approval asks: the requester is on call now in one of these schedules or
    escalation policies of `source`, at an escalation level of at most `max_level`."""

    source: str
    schedules: tuple[str, ...] = ()
    escalation_policies: tuple[str, ...] = ()
    max_level: int | None = None  # None: any level

    def shift_of(self, email: str, shifts: Iterable[OnCallShift]) -> OnCallShift | None:
        """The requester's qualifying shift (the lowest level, if several), or None."""
        mine = [shift for shift in shifts if email and shift.email.casefold() == email.casefold()
                and shift.source == self.source and self._covers(shift)
                and (self.max_level is None or shift.level <= self.max_level)]
        return min(mine, key=lambda shift: shift.level, default=None)

    def _covers(self, shift: OnCallShift) -> bool:
        return shift.schedule in self.schedules or shift.escalation_policy in self.escalation_policies


@dataclass(frozen=True)
class OnCallEntry:
    """An approver entry `on_call:<source>/<schedule>`: whoever that schedule has on call."""

    source: str
    schedule: str

    @classmethod
    def parse(cls, entry: str) -> OnCallEntry | None:
        """The entry, if it names an on-call schedule; None for any other approver entry."""
        match = ENTRY.fullmatch(entry)
        return cls(match["source"], match["schedule"]) if match else None

    def __str__(self) -> str:
        return f"on_call:{self.source}/{self.schedule}"

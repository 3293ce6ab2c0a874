"""Durations, and the clock of one rule: how long access may be held, when to remind and warn."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

_UNITS = {"m": "minutes", "h": "hours", "d": "days"}
_DURATION = re.compile(r"^\s*(\d+)\s*([mhd])\s*$")
# Nothing Latchkey handles lasts longer.  A bigger number is a typo or a tampered form, and
# would overflow timedelta (or a date after adding it) instead of being refused with words.
LONGEST = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """'90m', '4h', '1d' → timedelta; anything else (zero, or more than ten years included) is a
    ValueError that says what is accepted."""
    match = _DURATION.match(str(text))
    if not match or int(match.group(1)) == 0:
        raise ValueError(f"{str(text)[:40]!r} is not a duration: use a whole number with m, h or d, "
                         "e.g. 30m, 4h, 1d")
    count, unit = int(match.group(1)), _UNITS[match.group(2)]
    if count > LONGEST / timedelta(**{unit: 1}):
        raise ValueError(f"{str(text)[:40]!r} is too long: at most {format_duration(LONGEST)}")
    return timedelta(**{unit: count})


def format_duration(duration: timedelta) -> str:
    """The shortest exact spelling: 1d, 36h, 90m."""
    minutes = int(duration.total_seconds() // 60)
    for unit, size in (("d", 1440), ("h", 60)):
        if minutes % size == 0:
            return f"{minutes // size}{unit}"
    return f"{minutes}m"


def describe_duration(duration: timedelta) -> str:
    """Words for people: '1 day', '4 hours', '90 minutes'."""
    spelled = format_duration(duration)
    count, unit = int(spelled[:-1]), {"d": "day", "h": "hour", "m": "minute"}[spelled[-1]]
    return f"{count} {unit}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class Policy:
    durations: tuple[timedelta, ...]
    max_duration: timedelta
    remind_after: timedelta | None = timedelta(hours=4)  # first reminder; later ones back off
    pending_timeout: timedelta = timedelta(days=3)
    warn_before: timedelta | None = timedelta(minutes=15)  # before expiry
    max_total: timedelta | None = None  # the whole window from the first grant; None: max_duration

    @property
    def max_total_duration(self) -> timedelta:
        """How long access may be held in all, extensions included, without people approving."""
        return self.max_total or self.max_duration

    def first_attention(self, created_at: datetime) -> datetime:
        """When a new request first needs chasing: its first reminder, or its timeout."""
        timeout = created_at + self.pending_timeout
        return min(created_at + self.remind_after, timeout) if self.remind_after else timeout

    def next_reminder(self, created_at: datetime, now: datetime, reminders: int) -> datetime:
        """Reminders back off (1×, 2×, 4× the first gap …) and never go past the timeout."""
        timeout = created_at + self.pending_timeout
        if not self.remind_after:
            return timeout
        factor: int = 2 ** reminders  # typed: int ** int is Any to mypy (a negative power is a float)
        return min(now + self.remind_after * factor, timeout)

    def warning_at(self, granted_at: datetime, expires_at: datetime) -> datetime | None:
        """When to warn of the expiry; None when the access is too short to warn usefully."""
        if not self.warn_before or expires_at - granted_at <= 2 * self.warn_before:
            return None
        return expires_at - self.warn_before

    def offered_durations(self) -> tuple[timedelta, ...]:
        """The choices a requester sees: the configured ones, capped by the maximum."""
        return tuple(sorted(d for d in self.durations if d <= self.max_duration))

    def duration_problem(self, duration: timedelta | None) -> str | None:
        if duration is None:
            return "Choose how long you need the access."
        if duration > self.max_duration:
            return f"The longest you can ask for is {describe_duration(self.max_duration)}."
        if duration not in self.offered_durations():
            return "Choose one of the offered durations."
        return None

"""The small interfaces the core needs from the outside world.

The lifecycle is written against these, so it knows nothing of Slack, HTTP or SQL; the Slack
adapter, the connectors and the storage repositories plug in behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Real time plus an offset that tests (and the demo) move forward to skip a wait."""

    def __init__(self, offset: timedelta = timedelta()) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass(frozen=True)
class Person:
    """Someone acting on Latchkey: an opaque id (a Slack user id in practice) and an email."""

    id: str
    email: str | None
    name: str = ""


class Directory(Protocol):
    """Finds people; `person_for_email` returns None when nobody has that address.

    `members_of_group` takes a group's handle ("@security-team") or id ("S0123ABCD") and
    returns its members' person ids, or None when no enabled group goes by that name.
    """

    def person_for_email(self, email: str) -> Person | None: ...

    def members_of_group(self, group: str) -> list[str] | None: ...


class Notifier(Protocol):
    """Tells people what happened.

    The lifecycle asks for a `message()` describing an event and writes it in the same
    transaction as the state change it reports, so a crash can never keep the change and lose
    the message; `wake()` then asks for prompt delivery.  Kinds: request_submitted (approvers),
    approval_counted (approver, needed), request_approved, request_denied, request_cancelled,
    access_granted, provisioning_failed, access_revoked, revocation_failing (approvers),
    task_assigned (approvers, revoke), drift_detected (finding, approvers).
    """

    def message(self, request_id: str, kind: str, **args) -> object: ...

    def wake(self) -> None: ...

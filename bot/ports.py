"""The small interfaces the core needs from the outside world.

The lifecycle is written against these, so it knows nothing of Slack, HTTP or SQL; the Slack
adapter, the connectors and the storage repositories plug in behind them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol

from bot.domain.request import AccessRequest


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(timezone.utc)


class ShiftedClock:
    """Real time plus an offset that tests (and the demo) move forward to skip a wait."""

    def __init__(self, offset: timedelta = timedelta()) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass(frozen=True)
class Person:
    """Someone acting on Latchkey: an opaque id (a Slack user id in practice) and an email."""

    id: str
    email: str | None
    name: str = ""


class Directory(Protocol):
    """Finds people; `person_for_email` returns None when nobody has that address."""

    def person_for_email(self, email: str) -> Person | None: ...


class Notifier(Protocol):
    """Tells people what happened.  Must never raise: a failed message cannot undo a grant."""

    def request_submitted(self, request: AccessRequest, approvers: list[str]) -> None: ...

    def approval_counted(self, request: AccessRequest, approver: str, needed: int) -> None: ...

    def request_approved(self, request: AccessRequest) -> None: ...

    def request_denied(self, request: AccessRequest) -> None: ...

    def request_cancelled(self, request: AccessRequest) -> None: ...

    def access_granted(self, request: AccessRequest) -> None: ...

    def provisioning_failed(self, request: AccessRequest) -> None: ...

    def access_revoked(self, request: AccessRequest) -> None: ...

    def revocation_failing(self, request: AccessRequest, approvers: list[str]) -> None: ...

    def task_assigned(self, request: AccessRequest, approvers: list[str]) -> None:
        """Ask the approvers to grant (state provisioning) or take back (revoking) by hand."""

    def drift_detected(self, request: AccessRequest, finding: str, approvers: list[str]) -> None:
        """The target no longer matches what Latchkey did (see bot/drift.py)."""

"""A step-up challenge: the push Latchkey sent an approver to confirm one decision, as stored
while it waits on their phone and until its outcome is applied."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class Decision(Enum):
    """What the approver asked to do, which goes through once they confirm it."""

    APPROVE = "approve"
    REVIEW = "review"  # mark a break-glass use reviewed


class PushResult(Enum):
    """Where a push stands, as Okta's factor transaction says (`factorResult`)."""

    WAITING = "WAITING"
    SUCCESS = "SUCCESS"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"


class ChallengeState(Enum):
    """waiting ──SUCCESS──> passed ──decision applied (or refused)──> done
          └──REJECTED / TIMEOUT / lost──> failed"""

    WAITING = "waiting"  # sent (or being sent) to the phone
    PASSED = "passed"  # accepted; the decision is still to be applied
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Challenge:
    id: str
    request_id: str
    approver: str
    decision: Decision
    state: ChallengeState
    started_at: datetime
    poll: str | None = None  # where its outcome is read (None: the push is still being sent)

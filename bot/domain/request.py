"""An access request, its states, and the ONE table of transitions between them.

    pending ──approve──> approved ──claim──> provisioning ──activate──> active ──expire──> revoking ──finish──> revoked
       ├─deny──> denied                          └──fail──> failed
       ├─cancel──> cancelled
       ├─time_out──> timed_out   (nobody decided in time)
       └─decline──> cancelled    (the person a request was filed for does not want it)

    An extension is a request of its own for more time on active access:
    pending ──approve──> approved ──apply──> extended   (the access's expiry moved)
                             └──fail──> failed           (the access had ended meanwhile)

Stored state changes only through `advance()`, and the repository applies it as a
compare-and-set (`UPDATE … WHERE id = ? AND state = ?`), so two clicks, a Slack retry or a second
replica can never move a request twice.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta


class State(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    PROVISIONING = "provisioning"
    ACTIVE = "active"
    REVOKING = "revoking"
    REVOKED = "revoked"
    DENIED = "denied"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    FAILED = "failed"
    EXTENDED = "extended"  # an approved extension, applied to the access it extends


class Route(enum.StrEnum):
    """How a request was (or will be) approved."""

    PEOPLE = "people"  # its approvers decide
    AUTO = "auto"  # the rule approved it (auto-approval, or an extension that needs nobody)
    BREAK_GLASS = "break_glass"  # the requester did, in an emergency; someone reviews it after
    REVIEW = "review"  # not a request: an access review's decision to take access away, as a
    # revocation the ordinary revocation path drives (bot/usecases/reviews.py)


class ApprovalOutcome(enum.StrEnum):
    """What counting one approval did (the repository counts it under the request's row lock)."""

    COUNTED = "counted"  # more approvals needed at this step
    NEXT_STEP = "next_step"  # the step is approved; the request waits on the next one
    APPROVED = "approved"  # the last step is approved: so is the request
    DUPLICATE = "duplicate"  # this person approved already, at some step
    MOVED = "moved"  # the request is at another step than the approver was checked for
    CLOSED = "closed"  # no longer pending


class Step(enum.StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    CANCEL = "cancel"
    TIME_OUT = "time_out"
    CLAIM = "claim"  # a worker takes an approved request to provision it
    ACTIVATE = "activate"
    FAIL = "fail"
    EXPIRE = "expire"
    FINISH = "finish"
    APPLY = "apply"  # an approved extension moves its access's expiry
    DECLINE = "decline"  # the beneficiary of a request filed for them does not want it


TRANSITIONS: dict[tuple[State, Step], State] = {
    (State.PENDING, Step.APPROVE): State.APPROVED,
    (State.PENDING, Step.DENY): State.DENIED,
    (State.PENDING, Step.CANCEL): State.CANCELLED,
    (State.PENDING, Step.TIME_OUT): State.TIMED_OUT,
    (State.PENDING, Step.DECLINE): State.CANCELLED,
    (State.APPROVED, Step.CLAIM): State.PROVISIONING,
    (State.PROVISIONING, Step.ACTIVATE): State.ACTIVE,
    (State.PROVISIONING, Step.FAIL): State.FAILED,
    (State.ACTIVE, Step.EXPIRE): State.REVOKING,
    (State.REVOKING, Step.FINISH): State.REVOKED,
    (State.APPROVED, Step.APPLY): State.EXTENDED,
    (State.APPROVED, Step.FAIL): State.FAILED,  # an extension of access that has already ended
}

class IllegalTransition(Exception):
    def __init__(self, state: State, step: Step) -> None:
        super().__init__(f"cannot {step} a request that is {state}")
        self.state, self.step = state, step


def advance(state: State, step: Step) -> State:
    """The state `step` leads to from `state`, or IllegalTransition."""
    try:
        return TRANSITIONS[(state, step)]
    except KeyError:
        raise IllegalTransition(state, step) from None


def new_request_id() -> str:
    """A fresh request id: 12 random hex digits, short enough for a button's value."""
    return secrets.token_hex(6)


@dataclass(frozen=True)
class AccessRequest:
    id: str
    requester: str  # the requester's person id (opaque to the core; Slack user id in practice)
    requester_email: str
    account_id: str  # the requester's account in the target system
    connector_id: str
    entitlement_id: str
    entitlement_name: str
    duration: timedelta
    justification: str
    state: State
    created_at: datetime
    decided_by: tuple[str, ...] = ()
    decided_at: datetime | None = None
    decision_reason: str | None = None
    granted_at: datetime | None = None
    expires_at: datetime | None = None
    revoked_at: datetime | None = None
    preexisting: bool | None = None  # the account held the access before we granted it
    manual: bool = False  # a person grants and revokes it, following a task from Latchkey
    prior_detail: str | None = None  # the connector's note of what to restore at revocation
    # A worker holds it (provisioning, revoking) until then; after that another may take it over.
    lease_until: datetime | None = None
    attempts: int = 0
    last_error: str | None = None
    attention_at: datetime | None = None  # next reminder / timeout (pending), warning (active)
    reminders: int = 0
    rule: str = "default"  # the policy rule it was filed under
    step: int = 0  # the approval step it waits on
    conflict: str | None = None  # the separation-of-duties rule it breaks, if allowed with approval
    ticket: str | None = None
    # The ticket as its tracker showed it when the request was checked (rules that check tickets there).
    ticket_summary: str | None = None
    ticket_status: str | None = None
    ticket_url: str | None = None
    route: Route = Route.PEOPLE
    reviewed_by: str | None = None  # who reviewed a break-glass use
    extends: str | None = None  # for an extension: the request whose access it extends
    bundle: str | None = None  # for an item of a bundle: the bundle's request
    items: tuple[BundleItem, ...] = ()  # for a bundle: what it grants
    # Who filed it, when they filed it for someone else: the requester is then the beneficiary,
    # who gets the access.
    filed_by: str | None = None

    @property
    def is_bundle(self) -> bool:
        return bool(self.items)

    @property
    def parties(self) -> frozenset[str]:
        """Who it is by and for: none of them may decide it."""
        return frozenset(filter(None, (self.requester, self.filed_by)))


@dataclass(frozen=True)
class BundleItem:
    """One entitlement of a requested bundle, resolved when the request was made."""

    connector_id: str
    entitlement_id: str
    name: str
    account_id: str
    manual: bool = False

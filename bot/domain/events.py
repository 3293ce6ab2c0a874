"""What happens to requests (and to Latchkey), as typed events.

The use cases report every change as one of these.  Each event is written in the transaction of
the change it reports, twice over: as an entry in the append-only audit log (under its `action`,
the word stored there) and, if it has a `kind`, as an outbox message that the notifier delivers
(dispatching on the event's type).  The audit channel words each line from the event type too, so
the three readers of an event share one vocabulary that a typo cannot break at run time.

An event that moves a request through the transition table names its `transition`; the use
case's compare-and-set takes its target state from that step.

Stored forms: `action` and `kind` are the words existing audit and outbox rows hold, and the
fields are the keys of their detail, so stored events read back as the same types
(bot/domain/stored_events.py).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, ClassVar

from bot.domain.request import Step

SYSTEM = "latchkey"  # the actor of what Latchkey does by itself


class AuditAction(enum.StrEnum):
    """The word an event is stored under in the audit log (kept as existing rows hold it)."""

    SUBMITTED = "submitted"
    AUTO_APPROVED = "auto_approved"
    ON_CALL_UNKNOWN = "on_call_unknown"
    BREAK_GLASS = "break_glass"
    REVIEWED = "reviewed"
    EXTENSION_REQUESTED = "extension_requested"
    APPROVAL_COUNTED = "approval_counted"
    STEP_APPROVED = "step_approved"
    APPROVED = "approved"
    DENY = "deny"
    CANCEL = "cancel"
    DECLINED = "declined"
    TIME_OUT = "time_out"
    REMINDED = "reminded"
    ESCALATED = "escalated"
    CLAIM = "claim"
    ACTIVATE = "activate"
    FAIL = "fail"
    GRANT_RETRY = "grant_retry"
    APPLY = "apply"
    EXTENDED = "extended"
    EXPIRE = "expire"
    FINISH = "finish"
    REVOKE_RETRY = "revoke_retry"
    ENDED_EARLY = "ended_early"
    TICKET_RESOLVED = "ticket_resolved"
    DRIFT = "drift"
    ACCESS_RETURNED = "access_returned"
    REFUSED = "refused"
    REFUSED_MORE = "refused_more"
    CONFIG_LOADED = "config_loaded"
    CONFIG_REJECTED = "config_rejected"
    FEED_GAP = "feed_gap"
    STEP_UP_STARTED = "step_up_started"
    STEP_UP_PASSED = "step_up_passed"
    STEP_UP_FAILED = "step_up_failed"
    CHANNEL_UNREACHABLE = "channel_unreachable"
    REVIEW_STARTED = "review_started"
    REVIEW_KEPT = "review_kept"
    REVIEW_REVOKED = "review_revoked"
    REVIEW_ESCALATED = "review_escalated"
    REVIEW_CLOSED = "review_closed"


class MessageKind(enum.StrEnum):
    """The name an event is stored under in the outbox, for the notifier to deliver."""

    REQUEST_SUBMITTED = "request_submitted"
    ON_CALL_UNKNOWN = "on_call_unknown"
    EXTENSION_REQUESTED = "extension_requested"
    APPROVAL_COUNTED = "approval_counted"
    NEXT_STEP = "next_step"
    ESCALATED = "escalated"
    REMINDER = "reminder"
    REQUEST_APPROVED = "request_approved"
    REQUEST_DENIED = "request_denied"
    REQUEST_CANCELLED = "request_cancelled"
    BENEFICIARY_DECLINED = "beneficiary_declined"
    REQUEST_TIMED_OUT = "request_timed_out"
    BREAK_GLASS_USED = "break_glass_used"
    BREAK_GLASS_REVIEWED = "break_glass_reviewed"
    TASK_ASSIGNED = "task_assigned"
    ACCESS_GRANTED = "access_granted"
    PROVISIONING_FAILED = "provisioning_failed"
    ACCESS_EXTENDED = "access_extended"
    EXTENSION_FAILED = "extension_failed"
    EXTENSION_CLOSED = "extension_closed"
    EXPIRY_WARNING = "expiry_warning"
    ACCESS_REVOKED = "access_revoked"
    REVOCATION_FAILING = "revocation_failing"
    DRIFT_DETECTED = "drift_detected"
    TICKET_RESOLVED = "ticket_resolved"
    STEP_UP_STARTED = "step_up_started"
    STEP_UP_FAILED = "step_up_failed"
    REVIEW_ASSIGNED = "review_assigned"
    REVIEW_REMINDER = "review_reminder"


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something that happened: to which request (None for Latchkey itself), and who did it."""

    request_id: str | None = None
    actor: str = SYSTEM

    action: ClassVar[AuditAction | None] = None  # its audit log entry; None: not audited
    kind: ClassVar[MessageKind | None] = None  # its outbox message; None: nobody is told
    transition: ClassVar[Step | None] = None  # the step it reports, if it moves a request

    def outbox_key(self) -> str | None:
        """What its message is queued under: messages with one key are delivered in turn."""
        return self.request_id

    def detail(self) -> dict[str, Any]:
        """The fields besides the request and actor, as stored (JSON-ready)."""
        return {f.name: _stored(getattr(self, f.name)) for f in fields(self)
                if f.name not in ("request_id", "actor")}


def _stored(value: Any) -> Any:
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


# -- asking ------------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class RequestSubmitted(Event):
    """Filed; `approvers` are asked to decide (none when it needs no people)."""

    action, kind = AuditAction.SUBMITTED, MessageKind.REQUEST_SUBMITTED
    rule: str | None = None
    entitlement: str | None = None
    connector: str | None = None
    duration: str | None = None
    justification: str | None = None
    ticket: str | None = None
    approvers: tuple[str, ...] = ()
    # Filed for someone else: `actor` is the filer (`filed_by`), the access goes to `beneficiary`.
    filed_by: str | None = None
    beneficiary: str | None = None


@dataclass(frozen=True, kw_only=True)
class AutoApproved(Event):
    """Its rule approved it without people (the requester hears of it as submitted); when it
    was because the requester is on call, where and at which escalation level."""

    action = AuditAction.AUTO_APPROVED
    rule: str | None = None
    source: str | None = None  # the on-call service, e.g. pagerduty
    schedule: str | None = None
    escalation_policy: str | None = None
    level: int | None = None


@dataclass(frozen=True, kw_only=True)
class OnCallUnknown(Event):
    """Whether the requester is on call could not be learnt, so the rule's on-call
    auto-approval did not apply: people decide, and the requester is told why."""

    action, kind = AuditAction.ON_CALL_UNKNOWN, MessageKind.ON_CALL_UNKNOWN
    rule: str | None = None
    source: str | None = None
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class BreakGlassUsed(Event):
    """The requester approved their own request in an emergency; `reviewers` look it over."""

    action, kind = AuditAction.BREAK_GLASS, MessageKind.BREAK_GLASS_USED
    rule: str | None = None
    justification: str | None = None
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class BreakGlassReviewed(Event):
    action, kind = AuditAction.REVIEWED, MessageKind.BREAK_GLASS_REVIEWED


@dataclass(frozen=True, kw_only=True)
class ExtensionRequested(Event):
    """More time asked for on active access (`extends`); `approvers` are asked, if any."""

    action, kind = AuditAction.EXTENSION_REQUESTED, MessageKind.EXTENSION_REQUESTED
    extends: str | None = None
    duration: str | None = None
    justification: str | None = None
    approvers: tuple[str, ...] = ()


# -- deciding ----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class StepUpStarted(Event):
    """A push was sent to the approver (`actor`) to confirm their `decision` (approve or review)."""

    action, kind = AuditAction.STEP_UP_STARTED, MessageKind.STEP_UP_STARTED
    decision: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepUpPassed(Event):
    """The approver accepted the push: their `decision` now goes through the usual checks."""

    action = AuditAction.STEP_UP_PASSED  # the decision's own messages tell of it
    decision: str | None = None


@dataclass(frozen=True, kw_only=True)
class StepUpFailed(Event):
    """The approver's `decision` counts for nothing: the push was rejected, timed out, or
    could not be followed (`outcome`)."""

    action, kind = AuditAction.STEP_UP_FAILED, MessageKind.STEP_UP_FAILED
    decision: str | None = None
    outcome: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalCounted(Event):
    """One approval of a step that needs `needed`; `step` counts from 1."""

    action, kind = AuditAction.APPROVAL_COUNTED, MessageKind.APPROVAL_COUNTED
    step: int = 1
    needed: int = 1


@dataclass(frozen=True, kw_only=True)
class StepApproved(Event):
    """A step of several is approved; `next_approvers` are asked for the next."""

    action, kind = AuditAction.STEP_APPROVED, MessageKind.NEXT_STEP
    step: int = 1
    next_approvers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RequestApproved(Event):
    action, kind = AuditAction.APPROVED, MessageKind.REQUEST_APPROVED
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class RequestDenied(Event):
    action, kind, transition = AuditAction.DENY, MessageKind.REQUEST_DENIED, Step.DENY
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class RequestCancelled(Event):
    action, kind, transition = AuditAction.CANCEL, MessageKind.REQUEST_CANCELLED, Step.CANCEL


@dataclass(frozen=True, kw_only=True)
class BeneficiaryDeclined(Event):
    """The person a request was filed for does not want it (`actor`), before anything was
    granted; the request ends, and `filed_by` is told."""

    action, kind, transition = AuditAction.DECLINED, MessageKind.BENEFICIARY_DECLINED, Step.DECLINE
    filed_by: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExtensionClosed(RequestCancelled):
    """A pending extension closed because the access it would extend has ended."""

    kind = MessageKind.EXTENSION_CLOSED


@dataclass(frozen=True, kw_only=True)
class TimedOut(Event):
    """Nobody decided in time."""

    action, kind, transition = AuditAction.TIME_OUT, MessageKind.REQUEST_TIMED_OUT, Step.TIME_OUT


@dataclass(frozen=True, kw_only=True)
class Reminded(Event):
    action, kind = AuditAction.REMINDED, MessageKind.REMINDER
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class Escalated(Event):
    """The fallback `approvers` are asked too."""

    action, kind = AuditAction.ESCALATED, MessageKind.ESCALATED
    approvers: tuple[str, ...] = ()


# -- granting ----------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Claimed(Event):
    """A worker took an approved request to grant it."""

    action, transition = AuditAction.CLAIM, Step.CLAIM


@dataclass(frozen=True, kw_only=True)
class TaskAssigned(Event):
    """`approvers` are asked to grant (or, with `revoke`, take back) the access by hand."""

    kind = MessageKind.TASK_ASSIGNED
    approvers: tuple[str, ...] = ()
    revoke: bool = False


@dataclass(frozen=True, kw_only=True)
class AccessGranted(Event):
    action, kind, transition = AuditAction.ACTIVATE, MessageKind.ACCESS_GRANTED, Step.ACTIVATE
    preexisting: bool | None = None  # the account held it before: nothing was written


@dataclass(frozen=True, kw_only=True)
class ProvisioningFailed(Event):
    action, kind, transition = AuditAction.FAIL, MessageKind.PROVISIONING_FAILED, Step.FAIL
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class GrantRetrying(Event):
    action = AuditAction.GRANT_RETRY
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExtensionApplied(Event):
    """An approved extension moved the expiry of the access it `extends`."""

    action, kind, transition = AuditAction.APPLY, MessageKind.ACCESS_EXTENDED, Step.APPLY
    extends: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class AccessExtended(Event):
    """The access now ends at `expires_at`, `by` that extension (told through the extension)."""

    action = AuditAction.EXTENDED
    by: str | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ExtensionFailed(ProvisioningFailed):
    """An approved extension found the access already ended."""

    kind = MessageKind.EXTENSION_FAILED


# -- taking back -------------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class ExpiryWarned(Event):
    kind = MessageKind.EXPIRY_WARNING


@dataclass(frozen=True, kw_only=True)
class Expired(Event):
    """Its time is up: taking it back begins."""

    action, transition = AuditAction.EXPIRE, Step.EXPIRE


@dataclass(frozen=True, kw_only=True)
class EndedEarly(Event):
    action = AuditAction.ENDED_EARLY


@dataclass(frozen=True, kw_only=True)
class TicketResolved(Event):
    """The ticket the access was for was resolved, and its rule ends the access with it."""

    action, kind = AuditAction.TICKET_RESOLVED, MessageKind.TICKET_RESOLVED
    ticket: str | None = None
    status: str | None = None  # the ticket's status when it was found resolved


@dataclass(frozen=True, kw_only=True)
class AccessRevoked(Event):
    action, kind, transition = AuditAction.FINISH, MessageKind.ACCESS_REVOKED, Step.FINISH
    left_in_place: bool = False  # held before the request: nothing was removed
    signed_out: bool = False  # the holder's sessions were ended too (the rule's end_sessions)


@dataclass(frozen=True, kw_only=True)
class RevokeRetrying(Event):
    action = AuditAction.REVOKE_RETRY
    attempt: int | None = None
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class RevocationFailing(Event):
    """Taking it back keeps failing: its owners (`approvers`) are alerted."""

    kind = MessageKind.REVOCATION_FAILING
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DriftFound(Event):
    """The target system disagrees with what Latchkey granted or revoked; owners are told."""

    action, kind = AuditAction.DRIFT, MessageKind.DRIFT_DETECTED
    finding: str | None = None
    approvers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class AccessReturned(DriftFound):
    """Access Latchkey took back (or gave up granting) was found in place; `outcome` of removing it."""

    action = AuditAction.ACCESS_RETURNED
    outcome: str | None = None


@dataclass(frozen=True, kw_only=True)
class ApprovalChannelUnreachable(Event):
    """The request could not be posted in its rule's approval `channel` (`error`: Slack's
    answer, e.g. not_in_channel), so its approvers were asked by DM instead."""

    action = AuditAction.CHANNEL_UNREACHABLE
    channel: str | None = None
    error: str | None = None


# -- access reviews (bot/domain/reviews.py) ---------------------------------------------
# Their request_id is None, but for a revoke: the revocation record that takes the access back.
@dataclass(frozen=True, kw_only=True)
class ReviewStarted(Event):
    """A campaign took its snapshot: `items` holdings to review (`just_in_time` more listed
    apart), by `reviewers` people, by `due_at`."""

    action = AuditAction.REVIEW_STARTED
    campaign: str | None = None
    campaign_id: str | None = None
    items: int = 0
    just_in_time: int = 0
    reviewers: int = 0
    due_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class ReviewNotice(Event):
    """A message to one reviewer about one campaign, about no request: its messages are queued
    per reviewer and campaign, so they arrive in turn."""

    reviewer: str = ""
    campaign: str | None = None
    campaign_id: str | None = None
    due_at: datetime | None = None

    def outbox_key(self) -> str | None:
        return f"review-{self.campaign_id}-{self.reviewer}"[:32]


@dataclass(frozen=True, kw_only=True)
class ReviewAssigned(ReviewNotice):
    """`reviewer` has `items` holdings to review (one message per reviewer per campaign;
    `escalated`: handed over at the due date, when nobody had decided them)."""

    kind = MessageKind.REVIEW_ASSIGNED
    items: int = 0
    escalated: bool = False


@dataclass(frozen=True, kw_only=True)
class ReviewReminded(ReviewNotice):
    """`reviewer` still has `undecided` items in the campaign, due at `due_at`."""

    kind = MessageKind.REVIEW_REMINDER
    undecided: int = 0


@dataclass(frozen=True, kw_only=True)
class ItemKept(Event):
    """The reviewer (`actor`; latchkey when the due date decided) kept a holding."""

    action = AuditAction.REVIEW_KEPT
    campaign_id: str | None = None
    item_id: str | None = None
    entitlement: str | None = None
    connector: str | None = None
    holder: str | None = None  # the holder's email
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ItemRevoked(ItemKept):
    """The reviewer decided a holding must go; `request_id` is the revocation that removes it."""

    action = AuditAction.REVIEW_REVOKED


@dataclass(frozen=True, kw_only=True)
class ReviewEscalated(Event):
    """At the due date, `items` undecided holdings went to the fallback `reviewers`."""

    action = AuditAction.REVIEW_ESCALATED
    campaign: str | None = None
    campaign_id: str | None = None
    items: int = 0
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ReviewClosed(Event):
    """The campaign is over: `no_decision` items nobody decided got `on_no_decision`."""

    action = AuditAction.REVIEW_CLOSED
    campaign: str | None = None
    campaign_id: str | None = None
    no_decision: int = 0
    on_no_decision: str | None = None


# -- Latchkey itself ---------------------------------------------------------------------
@dataclass(frozen=True, kw_only=True)
class Refused(Event):
    """An attempt the policy or authorisation refused (`attempted`: the action or form)."""

    action = AuditAction.REFUSED
    attempted: str | None = None
    refusal: str | None = None


@dataclass(frozen=True, kw_only=True)
class RefusedMore(Event):
    """More refused attempts this minute, counted but not recorded one by one."""

    action = AuditAction.REFUSED_MORE
    per_minute: int | None = None


@dataclass(frozen=True, kw_only=True)
class ConfigLoaded(Event):
    action = AuditAction.CONFIG_LOADED
    fingerprint: str | None = None
    shape: dict[str, Any] | None = None  # the config with every secret masked
    changed: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class ConfigRejected(Event):
    action = AuditAction.CONFIG_REJECTED
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeFeedGap(Event):
    """A connector's change feed (`feed`: Okta's System Log) could not go on from where it was
    (`reason`), so a full sync of `connector` takes its place."""

    action = AuditAction.FEED_GAP
    connector: str | None = None
    feed: str | None = None
    reason: str | None = None

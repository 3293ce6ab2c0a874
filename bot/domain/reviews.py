"""Access reviews: a campaign asks reviewers, once per period, whether each holding in its scope
should stay.

    start ──> a snapshot of every holding in scope, one item each, with its reviewer
    each item:  undecided ──keep──> kept
                    └──────revoke──> revoked (taken back through its connector, read back:
                                      `revoked_at` is when the removal was verified)
    at the due date, undecided items get the campaign's `on_no_decision`: kept "no decision",
    revoked "no decision by the due date", or escalated once to the fallback reviewers.

Access Latchkey granted just in time (an active request) is listed apart, not reviewed: it ends
by itself.  Every decision is a compare-and-set (undecided → decided), so two clicks, two
replicas or a click racing the due date decide an item once.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

NO_DECISION = "no decision by the due date"  # the reason recorded when the due date decides


class ReviewDecision(enum.StrEnum):
    KEEP = "keep"
    REVOKE = "revoke"


class OnNoDecision(enum.StrEnum):
    """What the due date does with an item nobody decided."""

    KEEP = "keep"  # kept, recorded as "no decision"
    REVOKE = "revoke"  # revoked with the reason NO_DECISION
    ESCALATE = "escalate"  # given once to the fallback reviewers, for another due_in


def new_review_id() -> str:
    """A fresh campaign or item id: 12 random hex digits, short enough for a button's value."""
    return secrets.token_hex(6)


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str  # the `reviews:` entry it runs (one open campaign per name)
    started_at: datetime
    due_at: datetime
    closed_at: datetime | None = None
    on_no_decision: OnNoDecision = OnNoDecision.KEEP
    escalated_at: datetime | None = None  # when undecided items went to the fallback reviewers
    reminded_at: datetime | None = None  # when reviewers were last reminded

    @property
    def open(self) -> bool:
        return self.closed_at is None


@dataclass(frozen=True)
class ReviewItem:
    """One holding as it was when the campaign started, and what became of it."""

    id: str
    campaign_id: str
    connector_id: str
    entitlement_id: str
    entitlement_name: str
    account_id: str
    holder_email: str
    holder: str | None  # the holder's Slack id, when the directory knows them
    reviewer: str  # who decides it now ("" for just-in-time access, which nobody reviews)
    decision: ReviewDecision | None = None
    decided_by: str | None = None  # a reviewer, or "latchkey" when the due date decided
    decided_at: datetime | None = None
    reason: str | None = None
    revoked_at: datetime | None = None  # when the removal was verified in the target
    revoke_failing: bool = False  # taking it back has failed; it is being retried
    just_in_time: bool = False  # granted by Latchkey just in time: listed apart, not reviewed
    escalated: bool = False  # reassigned to the fallback reviewers at the due date
    request_id: str | None = None  # the revocation record a revoke decision made (and drives)

    @property
    def undecided(self) -> bool:
        return self.decision is None and not self.just_in_time


@dataclass(frozen=True)
class CampaignSummary:
    items: int  # holdings reviewed (just-in-time ones not counted)
    decided: int
    kept: int
    revoked: int  # decided revoke (whether or not the removal is verified yet)
    overdue: int  # not decided by a reviewer by the due date (undecided, or decided by it)
    just_in_time: int

    @classmethod
    def of(cls, campaign: Campaign, items: Iterable[ReviewItem], now: datetime) -> CampaignSummary:
        items = list(items)
        reviewed = [item for item in items if not item.just_in_time]
        late = campaign.due_at if campaign.closed_at is None else min(campaign.due_at, campaign.closed_at)
        return cls(
            items=len(reviewed),
            decided=sum(item.decision is not None for item in reviewed),
            kept=sum(item.decision is ReviewDecision.KEEP for item in reviewed),
            revoked=sum(item.decision is ReviewDecision.REVOKE for item in reviewed),
            overdue=sum(_overdue(item, late, now) for item in reviewed),
            just_in_time=len(items) - len(reviewed),
        )


def _overdue(item: ReviewItem, due_at: datetime, now: datetime) -> bool:
    if item.decided_at is None:
        return now >= due_at
    return item.decided_at >= due_at


class Holding(NamedTuple):
    """Access an account holds directly, as the last sync of its connector found it."""

    connector_id: str
    entitlement_id: str
    entitlement_name: str
    resource_type: str
    resource_name: str
    provisionable: bool
    account_id: str
    email: str


class ProgressPoint(NamedTuple):
    at: datetime
    decided: int  # items decided by then


def progress(campaign: Campaign, items: Iterable[ReviewItem]) -> list[ProgressPoint]:
    """The decided count over time (the report's chart): a point at the start, one per moment a
    decision was made, in time order."""
    times = sorted(item.decided_at for item in items if item.decided_at and not item.just_in_time)
    points = [ProgressPoint(campaign.started_at, 0)]
    for count, at in enumerate(times, start=1):
        if points[-1].at == at:
            points[-1] = ProgressPoint(at, count)
        else:
            points.append(ProgressPoint(at, count))
    return points


class Report(NamedTuple):
    """What the report of a campaign shows (unpacks as campaign, items, summary, progress)."""

    campaign: Campaign
    items: list[ReviewItem]
    summary: CampaignSummary
    progress: list[ProgressPoint]


class ReviewerWork(NamedTuple):
    """An open campaign as one reviewer sees it."""

    campaign: Campaign
    undecided: int
    total: int

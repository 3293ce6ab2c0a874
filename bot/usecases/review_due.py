"""What time does to access reviews: campaigns start on their schedule, reviewers are reminded,
and at the due date what nobody decided gets the campaign's `on_no_decision`.

Each step is a compare-and-set on the campaign (its `reminded_at`, `escalated_at` or
`closed_at`), written with what it does, so of several replicas (or a run repeated after a
crash) exactly one takes it.  A close decides the undecided items in batches, each under the
items' locks: the first with the close, the rest after it, by whichever run finds them left.  A scheduled start is a start like any other: a campaign whose
name is open already is not started again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.approvers import ApproverRouting
from bot.domain.events import SYSTEM, ReviewAssigned, ReviewClosed, ReviewEscalated, ReviewReminded
from bot.domain.review_spec import CampaignSpec
from bot.domain.reviews import NO_DECISION, Campaign, OnNoDecision, ReviewDecision, ReviewItem
from bot.ports import ItemChanges, ReviewStore
from bot.usecases.core import Core
from bot.usecases.review_decide import Revocations, decided
from bot.usecases.review_start import spread

log = logging.getLogger(__name__)

# Undecided items the due date decides per transaction: a campaign of tens of thousands must
# not hold the database (SQLite's one writer) for long; the campaign closes with the first.
CLOSE_BATCH = 1000


class ReviewDue:
    def __init__(self, core: Core, store: ReviewStore, revocations: Revocations, approvers: ApproverRouting,
                 email_of: Callable[[str], str | None], specs: Callable[[], Sequence[CampaignSpec]],
                 start: Callable[[CampaignSpec], Campaign]) -> None:
        self.core, self.store, self.revocations, self.approvers = core, store, revocations, approvers
        self.email_of, self.specs, self.start = email_of, specs, start
        self.since = core.clock.now()  # a cron schedule never run counts from here

    def run(self) -> datetime | None:
        """Do what is due now; the next moment something will be."""
        now = self.core.clock.now()
        for campaign in self.store.closing():  # a close that stopped half way (a crash)
            self._finish(campaign, now)
        upcoming = []
        for campaign in self.store.campaigns(open_only=True):
            spec = next((s for s in self.specs() if s.name == campaign.name), None)
            upcoming += [self._settle(campaign, spec, now), self._remind(campaign, spec, now)]
        upcoming += [self._start_if_due(spec, now) for spec in self.specs() if spec.schedule]
        return min(filter(None, upcoming), default=None)

    # -- schedules ---------------------------------------------------------------------------
    def _start_if_due(self, spec: CampaignSpec, now: datetime) -> datetime | None:
        assert spec.schedule is not None
        last = self.store.campaigns(open_only=False, name=spec.name)
        if last and last[0].closed_at is None:
            return None  # the next start counts from this one's, once it is over
        # Never run: a period starts at once, a cron expression at its next time.
        due = spec.schedule.next_after(last[0].started_at) if last else \
            now if spec.schedule.every else spec.schedule.next_after(self.since)
        if due > now:
            return due
        try:
            self.start(spec)
        except Exception:  # a sync that fails is tried again at the next run
            log.exception("the scheduled access review %s could not start", spec.name)
        return None

    # -- reminders ---------------------------------------------------------------------------
    def _remind(self, campaign: Campaign, spec: CampaignSpec | None, now: datetime) -> datetime | None:
        if spec is None or spec.remind_every is None:
            return None
        at = (campaign.reminded_at or campaign.started_at) + spec.remind_every
        if at >= deadline(campaign, spec):
            return None
        if at > now:
            return at
        waiting = [(reviewer, undecided) for _, reviewer, undecided, _ in
                   self.store.counts(campaign_id=campaign.id) if undecided and reviewer]
        also = [row for reviewer, undecided in waiting for row in self.core.recorded(ReviewReminded(
            reviewer=reviewer, campaign=campaign.name, campaign_id=campaign.id, undecided=undecided,
            due_at=deadline(campaign, spec)))]
        if self.store.move_campaign(campaign.id, {"reminded_at": campaign.reminded_at, "closed_at": None},
                                    {"reminded_at": now}, also):
            self.core.notifier.wake()
        return None

    # -- the due date ------------------------------------------------------------------------
    def _settle(self, campaign: Campaign, spec: CampaignSpec | None, now: datetime) -> datetime | None:
        due = deadline(campaign, spec)
        if due > now:
            return due
        if campaign.on_no_decision is OnNoDecision.ESCALATE and campaign.escalated_at is None and spec:
            # Looked up before the items are locked: the directory may write its cache, and
            # SQLite has one writer, which the lock holds.
            fallback = [(p, (self.email_of(p) or "").lower()) for p in self.approvers.resolve(spec.fallback, "")]
            self.store.settle(campaign.id, {"escalated_at": None, "closed_at": None}, {"escalated_at": now},
                              lambda c, items: self._escalated(c, spec, fallback, items))
        else:
            undecided = sum(waiting for _, _, waiting, _ in self.store.counts(campaign_id=campaign.id))
            closed = ReviewClosed(campaign=campaign.name, campaign_id=campaign.id, no_decision=undecided,
                                  on_no_decision=campaign.on_no_decision.value)
            if self.store.settle(campaign.id, {"closed_at": None}, {"closed_at": now, "open_name": None},
                                 lambda c, items: self._closed(c, items, now, closed), limit=CLOSE_BATCH):
                self._finish(campaign, now)
        self.core.notifier.wake()
        return None

    def _finish(self, campaign: Campaign, now: datetime) -> None:
        """Decide the rest of a closed campaign's undecided items, a batch at a time."""
        while self.store.settle_more(campaign.id, lambda c, items: self._closed(c, items, now), CLOSE_BATCH):
            pass
        self.core.wake(now)  # revocations the due date made are due now

    def _closed(self, campaign: Campaign, items: list[ReviewItem], now: datetime,
                closed: ReviewClosed | None = None) -> ItemChanges:
        """Undecided items get the campaign's `on_no_decision` (escalated ones are kept); the
        first batch is written with the close (`closed`: its event)."""
        decision = ReviewDecision.REVOKE if campaign.on_no_decision is OnNoDecision.REVOKE else ReviewDecision.KEEP
        changes, also = decided(items, campaign, decision, SYSTEM, NO_DECISION, now, self.core, self.revocations)
        return changes, [*also, *(self.core.recorded(closed) if closed else [])]

    def _escalated(self, campaign: Campaign, spec: CampaignSpec, fallback: list[tuple[str, str]],
                   items: list[ReviewItem]) -> ItemChanges:
        """Undecided items go to the fallback reviewers (`fallback`: person, email), but the
        holder, each told once."""
        changes: list[tuple[str, dict[str, object]]] = []
        for item in items:
            people = [p for p, email in fallback if p != item.holder and email != item.holder_email.lower()]
            if reviewer := spread(people, item.holder_email):
                changes.append((item.id, {"reviewer": reviewer, "escalated": True}))
        by_reviewer: dict[str, int] = {}
        for _, values in changes:
            by_reviewer[str(values["reviewer"])] = by_reviewer.get(str(values["reviewer"]), 0) + 1
        due = deadline(campaign, spec)
        also = self.core.recorded(ReviewEscalated(campaign=campaign.name, campaign_id=campaign.id,
                                                  items=len(changes), reviewers=tuple(sorted(by_reviewer))))
        for reviewer, count in sorted(by_reviewer.items()):
            also += self.core.recorded(ReviewAssigned(reviewer=reviewer, campaign=campaign.name,
                                                      campaign_id=campaign.id, items=count, due_at=due,
                                                      escalated=True))
        return changes, also


def deadline(campaign: Campaign, spec: CampaignSpec | None) -> datetime:
    """When undecided items get `on_no_decision`: the due date, or once escalated, another
    `due_in` after the escalation."""
    if campaign.escalated_at is None:
        return campaign.due_at
    return campaign.escalated_at + (spec.due_in if spec else campaign.due_at - campaign.started_at)


"""Access reviews: start a campaign over its scope, let reviewers keep or revoke each holding,
take revoked access back through the ordinary revocation path, and close the campaign at its
due date (bot/domain/reviews.py tells the life of an item).

Reached as `lifecycle.reviews`; the Slack side, the CLI and the report call only what is here.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from datetime import datetime

from bot.domain.errors import ReviewNotFoundError
from bot.domain.review_spec import CampaignSpec
from bot.domain.reviews import (
    Campaign,
    CampaignSummary,
    Report,
    ReviewDecision,
    ReviewerWork,
    ReviewItem,
    progress,
)
from bot.ports import ReviewStore
from bot.usecases.core import Core
from bot.usecases.review_decide import DecideReview
from bot.usecases.review_due import ReviewDue
from bot.usecases.review_start import StartReview

PER_PAGE = 10  # items on one page of a reviewer's list (a Slack modal holds 100 blocks)


class Reviews:
    def __init__(self, core: Core, store: ReviewStore, specs: Callable[[], Sequence[CampaignSpec]],
                 starts: StartReview, decisions: DecideReview, due: ReviewDue) -> None:
        self.core, self.store, self.specs = core, store, specs
        self.starts, self.decisions, self.due = starts, decisions, due

    def spec(self, name: str) -> CampaignSpec:
        """The configured access review `name`; ReviewNotFoundError naming those there are."""
        found = next((spec for spec in self.specs() if spec.name == name), None)
        if found is None:
            have = ", ".join(spec.name for spec in self.specs()) or "none"
            shown = name if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) else "of that name"
            raise ReviewNotFoundError(f"There is no access review {shown} in the configuration "
                                      f"(configured: {have}).")
        return found

    # -- starting -----------------------------------------------------------------------------
    def start(self, name: str) -> Campaign:
        """Start the configured campaign `name`: sync its scope afresh, snapshot every holding in
        it as an item with its reviewer (nobody reviews their own access), tell each reviewer
        once.  Already open (a second CLI run, another replica, the scheduler), it returns the
        open campaign and starts nothing.  ReviewNotFoundError for a name not configured."""
        return self.starts.start(self.spec(name))

    # -- reading --------------------------------------------------------------------------------
    def campaigns(self, open_only: bool = True) -> list[Campaign]:
        """Campaigns, newest first (only the open ones unless `open_only` is False)."""
        return self.store.campaigns(open_only=open_only)

    def campaign(self, campaign_id: str) -> Campaign:
        """One campaign by id; ReviewNotFoundError if there is none."""
        found = self.store.campaign(campaign_id) if _looks_like_id(campaign_id) else None
        if found is None:
            raise ReviewNotFoundError("There is no such access review.")
        return found

    def for_reviewer(self, reviewer: str) -> list[ReviewerWork]:
        """The open campaigns with items assigned to `reviewer`: (campaign, undecided, total)."""
        return [ReviewerWork(campaign, undecided, total)
                for campaign, _, undecided, total in self.store.counts(reviewer=reviewer)]

    def items(self, campaign_id: str, reviewer: str, page: int = 1,
              per_page: int = PER_PAGE) -> tuple[list[ReviewItem], int]:
        """One page (from 1; clamped into range) of the items assigned to `reviewer` in the
        campaign, undecided first, then by holder and entitlement; and how many pages there are
        (at least 1)."""
        per_page = max(1, per_page)
        counted = self.store.counts(reviewer=reviewer, campaign_id=campaign_id, open_only=False)
        pages = max(1, math.ceil(counted[0][3] / per_page)) if counted else 1
        page = min(max(1, page), pages)
        return self.store.items(campaign_id, reviewer, (page - 1) * per_page, per_page), pages

    def item(self, item_id: str) -> ReviewItem:
        """One item as it is now; ReviewNotFoundError if there is none."""
        found = self.store.item(item_id) if _looks_like_id(item_id) else None
        if found is None:
            raise ReviewNotFoundError("There is no such item to review (any more).")
        return found

    # -- deciding -------------------------------------------------------------------------------
    def decide(self, item_id: str, reviewer: str, decision: ReviewDecision, reason: str = "") -> ReviewItem:
        """Keep or revoke one item, as a compare-and-set (undecided → decided), checked now:
        NotYourItemError (assigned to someone else, or the reviewer's own), ItemDecidedError (decided first, by a
        click or the due date), ReasonRequiredError (a revoke without a reason),
        CampaignClosedError.  A revoke hands the access to the revocation path, which takes it
        back and reads it back (`revoked_at` is set once it is verified gone)."""
        return self.decisions.decide(item_id, reviewer, decision, reason)

    def keep_all(self, campaign_id: str, reviewer: str, item_ids: Sequence[str]) -> list[ReviewItem]:
        """Keep every listed item in one transaction (say, the page the reviewer sees); items
        decided meanwhile are skipped.  NotYourItemError if any is not the reviewer's (nothing
        is kept then), CampaignClosedError.  Returns the items it kept."""
        return self.decisions.keep_all(campaign_id, reviewer, item_ids)

    # -- reporting ------------------------------------------------------------------------------
    def report(self, name: str) -> Report:
        """The latest campaign called `name` (open or closed; a campaign id is taken too): every
        item, the summary and the decided count over time."""
        found = self.store.campaigns(open_only=False, name=name)
        by_id = self.store.campaign(name) if not found and _looks_like_id(name) else None
        if not found and by_id is None:
            shown = name if re.fullmatch(r"[a-z0-9][a-z0-9_-]{0,63}", name) else "of that name"
            raise ReviewNotFoundError(f"No access review {shown} has been started.")
        campaign = found[0] if found else by_id
        assert campaign is not None
        items = self.store.items(campaign.id)
        return Report(campaign, items, CampaignSummary.of(campaign, items, self.core.clock.now()),
                      progress(campaign, items))

    # -- the scheduler --------------------------------------------------------------------------
    def run_due(self) -> datetime | None:
        """Start campaigns whose schedule is due, remind reviewers, and apply `on_no_decision`
        to campaigns past their due date; returns when to run next.  (A revoked item's
        `revoked_at` needs nothing here: it is read from its revocation, verified there.)"""
        return self.due.run()


def _looks_like_id(text: str) -> bool:
    """Ids come back from clicks, which may be tampered with: never look up anything else."""
    return bool(re.fullmatch(r"[0-9a-f]{1,32}", text))

"""Access reviews: start a campaign over its scope, let reviewers keep or revoke each holding,
take revoked access back through the ordinary revocation path, and close the campaign at its
due date (bot/domain/reviews.py tells the life of an item).

Reached as `lifecycle.reviews`; the Slack side, the CLI and the report call only what is here.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain.reviews import Campaign, Report, ReviewDecision, ReviewerWork, ReviewItem
from bot.usecases.core import Core

PER_PAGE = 10  # items on one page of a reviewer's list (a Slack modal holds 100 blocks)


class Reviews:
    def __init__(self, core: Core) -> None:
        self.core = core

    # -- starting -----------------------------------------------------------------------------
    def start(self, name: str) -> Campaign:
        """Start the configured campaign `name`: sync its scope afresh, snapshot every holding in
        it as an item with its reviewer (nobody reviews their own access), tell each reviewer
        once.  Already open (a second CLI run, another replica, the scheduler), it returns the
        open campaign and starts nothing.  ReviewNotFoundError for a name not configured."""
        raise NotImplementedError

    # -- reading --------------------------------------------------------------------------------
    def campaigns(self, open_only: bool = True) -> list[Campaign]:
        """Campaigns, newest first (only the open ones unless `open_only` is False)."""
        raise NotImplementedError

    def campaign(self, campaign_id: str) -> Campaign:
        """One campaign by id; ReviewNotFoundError if there is none."""
        raise NotImplementedError

    def for_reviewer(self, reviewer: str) -> list[ReviewerWork]:
        """The open campaigns with items assigned to `reviewer`: (campaign, undecided, total)."""
        raise NotImplementedError

    def items(self, campaign_id: str, reviewer: str, page: int = 1,
              per_page: int = PER_PAGE) -> tuple[list[ReviewItem], int]:
        """One page (from 1; clamped into range) of the items assigned to `reviewer` in the
        campaign, undecided first, then by holder and entitlement; and how many pages there are
        (at least 1)."""
        raise NotImplementedError

    def item(self, item_id: str) -> ReviewItem:
        """One item as it is now; ReviewNotFoundError if there is none."""
        raise NotImplementedError

    # -- deciding -------------------------------------------------------------------------------
    def decide(self, item_id: str, reviewer: str, decision: ReviewDecision, reason: str = "") -> ReviewItem:
        """Keep or revoke one item, as a compare-and-set (undecided → decided), checked now:
        NotYourItemError (assigned to someone else), ItemDecidedError (decided first, by a
        click or the due date), ReasonRequiredError (a revoke without a reason),
        CampaignClosedError.  A revoke hands the access to the revocation path, which takes it
        back and reads it back (`revoked_at` is set once it is verified gone)."""
        raise NotImplementedError

    def keep_all(self, campaign_id: str, reviewer: str, item_ids: Sequence[str]) -> list[ReviewItem]:
        """Keep every listed item in one transaction (say, the page the reviewer sees); items
        decided meanwhile are skipped.  NotYourItemError if any is not the reviewer's (nothing
        is kept then), CampaignClosedError.  Returns the items it kept."""
        raise NotImplementedError

    # -- reporting ------------------------------------------------------------------------------
    def report(self, name: str) -> Report:
        """The latest campaign called `name` (open or closed; a campaign id is taken too): every
        item, the summary and the decided count over time."""
        raise NotImplementedError

    # -- the scheduler --------------------------------------------------------------------------
    def run_due(self) -> datetime | None:
        """Start campaigns whose schedule is due, remind reviewers, apply `on_no_decision` to
        campaigns past their due date, mark revoked items verified; returns when to run next."""
        raise NotImplementedError

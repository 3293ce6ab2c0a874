"""What Latchkey says in Slack about access reviews.  Layout lives in review_blocks.py.

Functions take core objects and return mrkdwn; user-supplied text (entitlement names, emails,
reasons) is escaped here.
"""

from __future__ import annotations

from bot.domain.events import SYSTEM
from bot.domain.reviews import Campaign, ReviewDecision, ReviewerWork, ReviewItem
from bot.slack.text import clip, escape, mention, when

NAMED_AT_MOST = 10  # entitlements named in a reviewer's summary; the rest are counted


def campaign_title(campaign: Campaign) -> str:
    return f"*Access review {escape(campaign.name)}*"


def summary(campaign: Campaign, items: list[ReviewItem], escalated: bool = False) -> str:
    """A reviewer's DM: how many people, holding which entitlements, due when."""
    reviewed = [item for item in items if not item.just_in_time]
    people = len({item.holder_email for item in reviewed})
    names = sorted({item.entitlement_name for item in reviewed})
    named = ", ".join(f"*{escape(name)}*" for name in names[:NAMED_AT_MOST])
    if len(names) > NAMED_AT_MOST:
        named += f" and {len(names) - NAMED_AT_MOST} more"
    why = "Nobody decided these by the due date, so they are yours now. " if escalated else ""
    return clip(f"{campaign_title(campaign)}: {why}{_count(len(reviewed), 'holding')} of "
                f"{_count(people, 'person', 'people')} to review ({named or 'nothing'}). "
                f"Keep or revoke each by {when(campaign.due_at)}.", 2900)


def standing(work: ReviewerWork) -> str:
    """Where a reviewer stands in a campaign: decided / total, and the due date."""
    decided = work.total - work.undecided
    done = " :white_check_mark: all decided" if not work.undecided else ""
    return (f"{campaign_title(work.campaign)}: {decided} of {work.total} decided, due "
            f"{when(work.campaign.due_at)}.{done}")


def page_heading(campaign: Campaign, page: int, pages: int) -> str:
    return f"{campaign_title(campaign)} · due {when(campaign.due_at)} · page {page} of {pages}"


def holder(item: ReviewItem) -> str:
    return mention(item.holder) if item.holder else escape(item.holder_email)


def row(item: ReviewItem) -> str:
    """One holding in the review list."""
    return clip(f"{holder(item)} holds *{escape(item.entitlement_name)}* ({escape(item.connector_id)})", 2900)


def outcome(item: ReviewItem) -> str:
    """How a decided item was decided, by whom and when; where the access stands."""
    if item.just_in_time:
        return "Granted just in time by Latchkey: it ends by itself, nothing to review."
    by = "the due date" if item.decided_by == SYSTEM else mention(item.decided_by or "")
    at = f" {when(item.decided_at)}" if item.decided_at else ""
    if item.decision is ReviewDecision.KEEP:
        return f":white_check_mark: Kept by {by}{at}."
    said = f":no_entry: Revoked by {by}{at}: {escape(clip(item.reason or '', 500))}"
    if item.revoked_at:
        return f"{said} Removed {when(item.revoked_at)}."
    return f"{said} {'Removal failing, still retried.' if item.revoke_failing else 'Being removed.'}"


def revoke_prompt(item: ReviewItem) -> str:
    return f"Take *{escape(item.entitlement_name)}* ({escape(item.connector_id)}) away from {holder(item)}?"


def kept_all(items: list[ReviewItem]) -> str:
    return f":white_check_mark: Kept {_count(len(items), 'holding')} on this page."


def kept(item: ReviewItem) -> str:
    return f":white_check_mark: Kept *{escape(item.entitlement_name)}* of {holder(item)}."


def revoked(item: ReviewItem) -> str:
    return f":no_entry: Revoking *{escape(item.entitlement_name)}* of {holder(item)}."


NOTHING_TO_REVIEW = "Nothing on this page to review."
CLOSED = "This access review is closed: nothing in it can be decided any more."
OPEN_AGAIN = "Open the access review from its message or the Home tab to turn its pages."
NOT_YOURS = "You have nothing to review in this access review."


def _count(number: int, one: str, many: str | None = None) -> str:
    return f"{number} {one if number == 1 else (many or one + 's')}"

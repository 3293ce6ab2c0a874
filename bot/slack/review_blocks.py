"""Block Kit for access reviews: the reviewer's DM, the paginated review modal, the revoke reason
form and the App Home section.  Pure functions from core objects to Block Kit, within Slack's
limits: a page of ROWS_PER_PAGE items is at most 2 blocks a row plus 5, far under a modal's 100;
block ids are unique (one per item), and action ids unique within each block.

Every button carries only an id (a campaign's, an item's) or a page number: who may act on it is
decided at click time by the Reviews use case, never by what the view shows.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from bot.domain.reviews import Campaign, ReviewerWork, ReviewItem
from bot.slack import review_wording as say
from bot.slack.blocks import _button, _context, _plain, _section

REVIEW_MODAL, REVOKE_MODAL = "review_list", "review_revoke_reason"
REVIEW_OPEN, REVIEW_KEEP, REVIEW_REVOKE = "review_open", "review_keep", "review_revoke"
REVIEW_KEEP_PAGE, REVIEW_PREVIOUS, REVIEW_NEXT = "review_keep_page", "review_previous", "review_next"
REVOKE_REASON = "revoke_reason"
ROWS_PER_PAGE = 20
HOME_LISTED_AT_MOST = 5  # campaigns on the Home tab: with its other sections, within 100 blocks


# -- the reviewer's DM ---------------------------------------------------------------------------
def review_dm(campaign: Campaign, items: list[ReviewItem], escalated: bool = False) -> dict:
    """The one DM a reviewer gets per campaign: the summary and Open review."""
    text = say.summary(campaign, items, escalated)
    return {"text": text, "blocks": [_section(text), _open_button(campaign, "review")]}


def _open_button(campaign: Campaign, block_id: str) -> dict:
    return {"type": "actions", "block_id": block_id, "elements": [
        _button("Open review", REVIEW_OPEN, campaign.id, "primary")]}


# -- the review modal ----------------------------------------------------------------------------
class Shown(NamedTuple):
    """What a review list (or a revoke form on top of one) was drawn for, kept in the view."""

    campaign_id: str = ""
    page: int = 1
    from_home: bool = False  # opened from the Home tab, which then shows the progress made
    item_id: str = ""  # the item a revoke form asks about


def review_page(campaign: Campaign, items: list[ReviewItem], page: int, pages: int,
                notice: str | None = None, from_home: bool = False) -> dict:
    """One page of the reviewer's items: Keep / Revoke on each undecided row, how each decided
    row was decided, Keep all on this page, Previous / Next."""
    blocks = [_section(say.page_heading(campaign, page, pages))]
    if notice:
        blocks.append(_context(notice))
    blocks.append({"type": "divider"})
    for item in items:
        blocks.append(_section(say.row(item)))
        if item.undecided:
            blocks.append({"type": "actions", "block_id": f"item-{item.id}", "elements": [
                _button("Keep", REVIEW_KEEP, item.id, "primary"),
                _button("Revoke", REVIEW_REVOKE, item.id, "danger")]})
        else:
            blocks.append(_context(say.outcome(item)))
    if not items:
        blocks.append(_section(say.NOTHING_TO_REVIEW))
    blocks += [{"type": "divider"}, *_page_actions(items, page, pages)]
    return {"type": "modal", "callback_id": REVIEW_MODAL, "title": _plain("Access review", 24),
            "close": _plain("Close", 24), "private_metadata": _metadata(Shown(campaign.id, page, from_home)),
            "blocks": blocks}


def closed_page(mrkdwn: str) -> dict:
    """What replaces a review list that cannot be drawn any more (the campaign closed)."""
    return {"type": "modal", "callback_id": REVIEW_MODAL, "title": _plain("Access review", 24),
            "close": _plain("Close", 24), "blocks": [_section(mrkdwn)]}


def _page_actions(items: list[ReviewItem], page: int, pages: int) -> list[dict]:
    undecided = [item.id for item in items if item.undecided]
    buttons = [_button("Keep all on this page", REVIEW_KEEP_PAGE, " ".join(undecided))] if undecided else []
    if page > 1:
        buttons.append(_button("Previous", REVIEW_PREVIOUS, str(page - 1)))
    if page < pages:
        buttons.append(_button("Next", REVIEW_NEXT, str(page + 1)))
    return [{"type": "actions", "block_id": "review_pages", "elements": buttons}] if buttons else []


def _metadata(shown: Shown) -> str:
    return json.dumps(shown._asdict())


def read_metadata(view: dict) -> Shown:
    """What a review view was drawn for; the defaults when it carries nothing readable."""
    try:
        data = json.loads(view.get("private_metadata") or "{}")
        return Shown(str(data.get("campaign_id") or ""), int(data.get("page") or 1),
                     data.get("from_home") is True, str(data.get("item_id") or ""))
    except (ValueError, TypeError, AttributeError):
        return Shown()


def revoke_modal(item: ReviewItem, below: Shown) -> dict:
    """Asks the reason for a revoke, pushed on top of the review list (Back returns to it)."""
    return {
        "type": "modal", "callback_id": REVOKE_MODAL, "title": _plain("Revoke access", 24),
        "submit": _plain("Revoke", 24), "close": _plain("Back", 24),
        "private_metadata": _metadata(below._replace(item_id=item.id)),
        "blocks": [
            _section(say.revoke_prompt(item)),
            {"type": "input", "block_id": REVOKE_REASON,
             "label": _plain("Why must it go? (kept in the audit trail)", 2000),
             "element": {"type": "plain_text_input", "action_id": REVOKE_REASON, "multiline": True,
                         "max_length": 1000}},
        ],
    }


# -- the App Home ----------------------------------------------------------------------------------
def home_section(works: list[ReviewerWork]) -> list[dict]:
    """The reviewer's open reviews, with progress and Open review; nothing when there are none."""
    if not works:
        return []
    blocks = [{"type": "divider"}, {"type": "header", "text": _plain("Access reviews", 150)}]
    for work in works[:HOME_LISTED_AT_MOST]:
        row = _section(say.standing(work))
        row["accessory"] = _button("Open review", REVIEW_OPEN, work.campaign.id,
                                   "primary" if work.undecided else None)
        blocks.append(row)
    return blocks

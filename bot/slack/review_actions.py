"""Access reviews in Slack: Open review (from the DM or the Home tab), Keep / Revoke per row,
Keep all on this page, Previous / Next, and the revoke reason form.

Every click is checked by the Reviews use case at click time, whatever the view showed; a refusal
is shown where the person clicked: at the top of the review list they clicked in (redrawn as it
is now), else privately, like any other button.
"""

from __future__ import annotations

from slack_bolt import App

from bot.domain.errors import CampaignClosedError, LatchkeyError, NotYourItemError
from bot.domain.reviews import ReviewDecision, ReviewItem
from bot.slack import review_blocks as rb
from bot.slack import review_wording as say
from bot.slack.actions import _tell
from bot.slack.context import Deps
from bot.slack.errors import explain, guarded
from bot.slack.home import publish_home
from bot.usecases.review_decide import check


def review_view(deps: Deps, campaign_id: str, reviewer: str, page: int = 1, notice: str | None = None,
                from_home: bool = False) -> dict:
    """The reviewer's review list at `page`, as it is now.  LatchkeyError when the campaign is
    unknown or closed, or holds nothing for `reviewer`."""
    reviews = deps.lifecycle.reviews
    campaign = reviews.campaign(campaign_id)  # ReviewNotFoundError
    if not any(work.campaign.id == campaign.id for work in reviews.for_reviewer(reviewer)):
        raise NotYourItemError(say.NOT_YOURS) if campaign.open else CampaignClosedError(say.CLOSED)
    items, pages = reviews.items(campaign.id, reviewer, page, rb.ROWS_PER_PAGE)
    return rb.review_page(campaign, items, min(max(page, 1), pages), pages, notice, from_home)


def register(app: App, deps: Deps) -> None:
    @app.action(rb.REVIEW_OPEN)
    @guarded
    def open_review(ack, body, action, respond, client):
        ack()
        clicker = body["user"]["id"]
        try:
            view = review_view(deps, str(action.get("value") or ""), clicker,
                               from_home=(body.get("view") or {}).get("type") == "home")
        except LatchkeyError as error:
            _tell(respond, client, body, deps, explain(error, deps, clicker, rb.REVIEW_OPEN, None))
            return
        client.views_open(trigger_id=body["trigger_id"], view=view)

    @app.action(rb.REVIEW_KEEP)
    @guarded
    def keep(ack, body, action, respond, client):
        ack()
        _acting(body, action, respond, client, deps, lambda item_id, reviewer: say.kept(
            deps.lifecycle.reviews.decide(item_id, reviewer, ReviewDecision.KEEP)))

    @app.action(rb.REVIEW_KEEP_PAGE)
    @guarded
    def keep_page(ack, body, action, respond, client):
        ack()
        campaign_id = rb.read_metadata(body.get("view") or {}).campaign_id
        _acting(body, action, respond, client, deps, lambda ids, reviewer: say.kept_all(
            deps.lifecycle.reviews.keep_all(campaign_id, reviewer, ids.split())))

    for action_id in (rb.REVIEW_PREVIOUS, rb.REVIEW_NEXT):
        app.action(action_id)(guarded(_turning_page(deps)))

    @app.action(rb.REVIEW_REVOKE)
    @guarded
    def revoke(ack, body, action, respond, client):
        ack()
        clicker = body["user"]["id"]
        try:
            item = _revocable(deps, str(action.get("value") or ""), clicker)
        except LatchkeyError as error:
            _refused(body, respond, client, deps, error, rb.REVIEW_REVOKE)
            return
        # On top of the list, so that Back returns to it; from anywhere else, on its own.
        opens = client.views_push if _in_review_list(body) else client.views_open
        below = rb.read_metadata(body.get("view") or {})
        opens(trigger_id=body["trigger_id"], view=rb.revoke_modal(item, below))

    @app.view(rb.REVOKE_MODAL)
    @guarded
    def submit_revoke(ack, body, view, client):
        reviewer = body["user"]["id"]
        below = rb.read_metadata(view)
        reason = _typed(view, rb.REVOKE_REASON)
        try:
            item = deps.lifecycle.reviews.decide(below.item_id, reviewer, ReviewDecision.REVOKE,
                                                 reason.strip())
        except LatchkeyError as error:  # no reason, decided meanwhile, not theirs, closed
            ack(response_action="errors", errors={
                rb.REVOKE_REASON: explain(error, deps, reviewer, rb.REVOKE_MODAL, None)})
            return
        ack()  # closes the reason form: the list below it is redrawn with the decision
        if view.get("previous_view_id"):
            client.views_update(view_id=view["previous_view_id"], view=review_view(
                deps, item.campaign_id, reviewer, below.page, say.revoked(item), below.from_home))
        if below.from_home:
            publish_home(client, deps, reviewer)


def _typed(view: dict, block_id: str) -> str:
    """What the person typed into the input `block_id` of `view` ("" if nothing, or not text)."""
    state = (((view.get("state") or {}).get("values") or {}).get(block_id) or {}).get(block_id) or {}
    value = state.get("value") if isinstance(state, dict) else None
    return value if isinstance(value, str) else ""


def _acting(body, action, respond, client, deps: Deps, act) -> None:
    """Run `act(value, clicker)`, which returns what to tell; redraw the list clicked in, with
    that notice or the refusal at its top."""
    clicker = body["user"]["id"]
    try:
        notice = act(str(action.get("value") or ""), clicker)
    except LatchkeyError as error:
        _refused(body, respond, client, deps, error, action.get("action_id", ""))
        return
    _redraw(body, respond, client, deps, notice)


def _turning_page(deps: Deps):
    def turn_page(ack, body, action, respond, client):
        ack()
        try:
            page = int(str(action.get("value")))
        except ValueError:
            page = 1
        _redraw(body, respond, client, deps, None, page)
    return turn_page


def _refused(body, respond, client, deps: Deps, error: LatchkeyError, attempted: str) -> None:
    clicker = body["user"]["id"]
    said = explain(error, deps, clicker, attempted, None)
    _redraw(body, respond, client, deps, f":warning: {said}" if _in_review_list(body) else said)


def _redraw(body, respond, client, deps: Deps, notice: str | None, page: int | None = None) -> None:
    """Redraw the review list the click came from, as it is now, with `notice` at its top.  A
    click from anywhere else (forged: the buttons live in the list) is told `notice` instead."""
    if not _in_review_list(body):
        _tell(respond, client, body, deps, notice or say.OPEN_AGAIN)
        return
    view, reviewer = body["view"], body["user"]["id"]
    shown = rb.read_metadata(view)
    try:
        redrawn = review_view(deps, shown.campaign_id, reviewer, page or shown.page, notice, shown.from_home)
    except LatchkeyError as error:  # closed meanwhile, or the metadata was tampered with
        redrawn = rb.closed_page(explain(error, deps, body["user"]["id"], "review_list", None))
    client.views_update(view_id=view["id"], view=redrawn)
    if shown.from_home and page is None:  # a decision, or a refusal: the Home tab shows progress
        publish_home(client, deps, reviewer)


def _in_review_list(body) -> bool:
    view = body.get("view")
    return isinstance(view, dict) and view.get("callback_id") == rb.REVIEW_MODAL and bool(view.get("id"))


def _revocable(deps: Deps, item_id: str, reviewer: str) -> ReviewItem:
    """The item, if `reviewer` may revoke it now, so that nobody is asked a reason for nothing:
    the use case's own check, which the decision repeats atomically when the reason comes."""
    reviews = deps.lifecycle.reviews
    item = reviews.item(item_id)  # ReviewNotFoundError
    check(reviews.campaign(item.campaign_id), item, reviewer)
    return item

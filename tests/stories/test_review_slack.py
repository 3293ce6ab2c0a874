"""Access reviews in Slack: each reviewer's one DM per campaign, the paginated review modal
(Keep, Revoke with a required reason, Keep all on this page, Previous / Next), refusals where the
person clicked, and the Home tab's progress, over real HTTP against the Slack and Okta sandboxes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bot.domain.reviews import ReviewDecision
from sandbox import blockkit
from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually, forge_click, soon
from tests.support.slack import texts

QUARTERLY = {"name": "quarterly", "scope": [{"connector": "okta", "type": "group"}],
             "reviewers": ["owners"], "fallback": [BOB, DAVE], "due_in": "7d"}


@pytest.fixture
def review_bot(make_bot):
    """A bot whose Okta owner is Alice alone, with the `quarterly` review of every Okta group
    (Bob and Dave review Alice's own access)."""
    return lambda **review: make_bot(owners=("alice@acme.com",), reviews=[{**QUARTERLY, **review}]).start()


def review_dms(slack, user) -> list[dict]:
    return [m for m in slack.dm(user) if "'review_open'" in str(m.get("blocks"))]


def open_review(slack, user=ALICE) -> dict:
    slack.click(user, "review_open")
    return eventually(lambda: slack.open_view(user))


def test_a_reviewer_gets_one_dm_and_keeps_a_holding(review_bot, slack, okta):
    """Given the campaign started (twice: a second start opens nothing), then Alice gets exactly
    one DM naming how many people hold what and by when; Open review lists Carol's prod-readers
    with Keep / Revoke; Keep records her decision, redraws the row as kept by her, and leaves
    the membership in Okta."""
    bot = review_bot()
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    assert reviews.start("quarterly").id == campaign.id
    dm, = eventually(lambda: review_dms(slack, ALICE))
    assert "quarterly" in texts([dm]) and "1 holding of 1 person" in texts([dm]) and "prod-readers" in texts([dm])

    modal = open_review(slack)
    assert not blockkit.view_problems(modal, "modal")
    assert "carol@acme.com" in texts([modal]) or f"<@{CAROL}>" in texts([modal])
    slack.click(ALICE, "review_keep")
    eventually(lambda: "Kept by" in texts([slack.open_view(ALICE)]))
    item, = reviews.items(campaign.id, ALICE)[0]
    assert (item.decision, item.decided_by) == ("keep", ALICE)
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["prod-readers"])
    assert len(review_dms(slack, ALICE)) == 1


def test_a_revoke_needs_a_reason_and_takes_the_access_away(review_bot, slack, okta):
    """Given Alice's review open, when she presses Revoke, a reason form opens on top of the list;
    a blank reason is refused under the field and decides nothing; with a reason the form closes,
    the list shows the revoke by her, Okta no longer holds Carol in prod-readers, and once that
    is read back the list, opened again, says when it was removed."""
    bot = review_bot()
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    eventually(lambda: review_dms(slack, ALICE))
    listed = open_review(slack)
    slack.click(ALICE, "review_revoke")
    form = eventually(lambda: (v := slack.open_view(ALICE)) and v["callback_id"] == "review_revoke_reason" and v)
    assert form["previous_view_id"] == listed["id"]

    slack.submit(ALICE, {"revoke_reason": "   "})
    assert "revoke_reason" in slack.view_errors(ALICE)
    assert slack.open_view(ALICE)["id"] == form["id"]
    assert reviews.items(campaign.id, ALICE)[0][0].decision is None

    slack.submit(ALICE, {"revoke_reason": "Left the <!channel> data team"})
    shown = eventually(lambda: (v := slack.open_view(ALICE)) and "Revoked by" in texts([v]) and v)
    assert shown["id"] == listed["id"] and "&lt;!channel&gt;" in texts([shown])
    soon(lambda: okta.ids["carol@acme.com"] not in okta.members(okta.ids["prod-readers"]))
    item = reviews.items(campaign.id, ALICE)[0][0]
    assert (item.decision, item.decided_by, item.reason) == ("revoke", ALICE, "Left the <!channel> data team")
    soon(lambda: [reviews.run_due(), reviews.item(item.id).revoked_at][-1])  # read back
    slack.click(ALICE, "review_open", message=review_dms(slack, ALICE)[0])  # opened again later
    soon(lambda: "Removed" in texts([slack.open_view(ALICE) or {}]))


def _holders(okta, people: int, groups: tuple[str, ...]) -> None:
    """`people` more Okta users, each in every one of `groups`."""
    for n in range(people):
        user = okta.add_user(f"holder{n:03d}@acme.com", f"Holder{n:03d}", "Acme")
        for group in groups:
            okta.add_member(okta.ids[group], user)


def test_paging_through_120_holdings_keeps_every_page_within_slack_limits(review_bot, slack, okta):
    """Given 120 holdings for Alice to review, then every page of the modal is a view Slack
    accepts (at most 100 blocks), Next and Previous walk through all of them, each holding shown
    exactly once, and Keep all on this page keeps exactly the holdings that page showed."""
    _holders(okta, 40, ("eng-admins", "billing-admins", "data-admins"))
    bot = review_bot(scope=[{"connector": "okta", "type": "group", "resource": "*-admins"}])
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    eventually(lambda: review_dms(slack, ALICE))
    view, seen = open_review(slack), []
    while True:
        assert not blockkit.view_problems(view, "modal") and len(view["blocks"]) <= 100
        seen += [b["block_id"] for b in view["blocks"] if b["block_id"].startswith("item-")]
        if not any(b["action_id"] == "review_next" for b in slack.buttons(view)):
            break
        slack.click(ALICE, "review_next")
        view = eventually(lambda previous=view: (v := slack.open_view(ALICE)) and v["hash"] != previous["hash"] and v)
    assert len(seen) == len(set(seen)) == 120
    assert "page 6 of 6" in texts([view])

    slack.click(ALICE, "review_previous")
    page5 = eventually(lambda: "page 5 of 6" in texts([slack.open_view(ALICE)]) and slack.open_view(ALICE))
    on_page = {b["block_id"].removeprefix("item-") for b in page5["blocks"] if b["block_id"].startswith("item-")}
    slack.click(ALICE, "review_keep_page")
    eventually(lambda: "Kept 20 holdings" in texts([slack.open_view(ALICE)]))
    items = [i for page in range(1, 3) for i in reviews.items(campaign.id, ALICE, page, 100)[0]]
    assert {i.id for i in items if i.decision == "keep"} == on_page


def test_someone_elses_click_is_refused_where_they_clicked(review_bot, slack, okta):
    """Given Alice's review, when Dave presses her Open review (a forged click), he is told he has
    nothing to review there and no modal opens; his forged Keep on her item, and Bob's Revoke,
    are refused, recorded as probes, and the item stays undecided."""
    bot = review_bot()
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    eventually(lambda: review_dms(slack, ALICE))
    item = reviews.items(campaign.id, ALICE)[0][0]
    forge_click(slack, DAVE, "review_open", campaign.id)
    eventually(lambda: "nothing to review" in str(slack.responses(DAVE)))
    assert slack.open_view(DAVE) is None
    forge_click(slack, DAVE, "review_keep", item.id)
    forge_click(slack, BOB, "review_revoke", item.id)
    eventually(lambda: "not yours to review" in str(slack.responses(BOB)) and len(slack.responses(DAVE)) == 2)
    assert "not yours to review" in str(slack.responses(DAVE)[-1])
    assert slack.open_view(BOB) is None
    assert reviews.item(item.id).decision is None
    probes = [(e.actor, json.loads(e.detail)) for e in bot.service.lifecycle.audit.events() if e.action == "refused"]
    assert {(actor, detail["attempted"], detail["refusal"]) for actor, detail in probes} == {
        (DAVE, "review_open", "not_the_reviewer"), (DAVE, "review_keep", "not_the_reviewer"),
        (BOB, "review_revoke", "not_the_reviewer")}


def test_a_refusal_inside_the_modal_is_shown_at_the_top_of_the_list(review_bot, slack, okta):
    """Given Alice's list open, when the item is decided elsewhere first (another device), her
    Keep is refused at the top of the list, which shows how it was decided."""
    bot = review_bot()
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    eventually(lambda: review_dms(slack, ALICE))
    open_review(slack)
    item = reviews.items(campaign.id, ALICE)[0][0]
    reviews.decide(item.id, ALICE, ReviewDecision.REVOKE, "Gone from the team")
    slack.click(ALICE, "review_keep")
    shown = eventually(lambda: ":warning:" in texts([slack.open_view(ALICE)]) and slack.open_view(ALICE))
    assert "Revoked by" in texts([shown]) and reviews.item(item.id).decision == "revoke"


def test_the_home_tab_shows_progress_and_reminders_reply_under_the_one_dm(review_bot, slack, okta, clock):
    """Given 2 holdings for Alice, the Home tab shows 0 of 2 decided and the due date with Open
    review; after she keeps one in the list opened there, the Home tab says 1 of 2; a reminder 3 days on replies in the DM's thread, and
    she still has one review DM."""
    bot = review_bot()
    okta.add_member(okta.ids["eng-admins"], okta.ids["dave@acme.com"])
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    dm, = eventually(lambda: review_dms(slack, ALICE))
    slack.open_home(ALICE)
    eventually(lambda: "0 of 2 decided" in texts([slack.home(ALICE) or {}]))
    home = slack.home(ALICE)
    assert not blockkit.view_problems(home, "home")
    slack.click(ALICE, "review_open", view=home)
    eventually(lambda: slack.open_view(ALICE))
    slack.click(ALICE, "review_keep")
    eventually(lambda: "Kept by" in texts([slack.open_view(ALICE)]))
    eventually(lambda: "1 of 2 decided" in texts([slack.home(ALICE)]))  # redrawn behind the list

    clock.advance(timedelta(days=3, minutes=1))
    reviews.run_due()
    replies = eventually(lambda: slack.replies(slack.workspace.dm_ids[ALICE], dm["ts"]))
    assert "still wait on your decision" in texts(replies) and "quarterly" in texts(replies)
    assert len(review_dms(slack, ALICE)) == 1
    assert reviews.for_reviewer(ALICE)[0].campaign.id == campaign.id


def test_an_escalation_to_someone_reviewing_already_replies_under_their_one_dm(review_bot, slack, okta, clock):
    """Given Alice's own eng-admins is reviewed by a fallback reviewer and Carol's prod-readers by
    Alice, when nobody decides Carol's by the due date and it escalates to that same fallback
    reviewer, then they still have one review DM, redrawn with both holdings, and a reply in its
    thread says the holding was handed to them; their list shows it with Keep / Revoke."""
    okta.add_member(okta.ids["eng-admins"], okta.ids["alice@acme.com"])
    bot = review_bot(on_no_decision="escalate", due_in="1d")
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    fallback = next(i.reviewer for i in reviews.report(campaign.id).items if i.holder_email == "alice@acme.com")
    dm, = eventually(lambda: review_dms(slack, fallback))
    assert "1 holding of 1 person" in texts([dm])

    clock.advance(timedelta(days=1, minutes=1))
    reviews.run_due()
    carols = next(i for i in reviews.report(campaign.id).items if i.holder_email == "carol@acme.com")
    assert (carols.reviewer, carols.escalated) == (fallback, True)
    replies = eventually(lambda: slack.replies(slack.workspace.dm_ids[fallback], dm["ts"]))
    assert "handed to you" in texts(replies)
    redrawn, = eventually(lambda: [m for m in review_dms(slack, fallback) if "2 holdings of 2 people" in texts([m])])
    assert redrawn["ts"] == dm["ts"]
    listed = open_review(slack, fallback)
    assert "prod-readers" in texts([listed]) and "review_revoke" in str(listed["blocks"])

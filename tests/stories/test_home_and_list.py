"""`/request-access list`, ending access early, and the App Home tab."""

from __future__ import annotations

from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.requests import pending_request
from tests.support.slack import ephemeral_answers, option_for, submit_form, texts


def test_list_shows_pending_and_active_with_their_actions(bot, slack, okta):
    """Given one active and one pending request, when Carol types `/request-access list`, then
    she alone sees both, with End now and Cancel."""
    first = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(first.id).state == "active")
    submit_form(slack, access=option_for(bot, "billing-admins"))
    slack.command(CAROL, text="list")
    answer = str(slack.responses(CAROL)[-1])
    assert "eng-admins" in answer and "yours until" in answer and "'End now'" in answer
    assert "billing-admins" in answer and "waiting for approval" in answer and "'Cancel'" in answer


def test_end_now_removes_the_access_at_once(bot, slack, okta):
    """Given active access, when Carol presses End now in her list, then the membership goes."""
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    slack.command(CAROL, text="list")
    slack.click(CAROL, "end_now")
    eventually(lambda: bot.request(request.id).state == "revoked")
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"])
    assert "ended_early" in [e.action for e in bot.service.lifecycle.audit.events(request.id)]


def test_only_the_holder_can_end_access_early(bot, slack, okta):
    """Given Carol's active access, when Bob sends End now for it, then it stays."""
    from tests.support.harness import forge_click

    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    forge_click(slack, BOB, "end_now", request.id)
    eventually(lambda: "Only the person who holds" in ephemeral_answers(slack, BOB))
    assert bot.request(request.id).state == "active"


def test_home_tab_lists_approvals_waiting_and_its_buttons_work(bot, slack, okta):
    """Given a pending request, when Alice opens the Home tab, then it shows the request with
    Approve; pressing it there grants the access and redraws her Home."""
    request = pending_request(bot, slack)
    slack.open_home(ALICE)
    home = eventually(lambda: slack.home(ALICE))
    assert "Waiting on you" in str(home) and "Deploy the INC-42 hotfix" in str(home)
    slack.click(ALICE, "approve", view=home)
    eventually(lambda: bot.request(request.id).state == "active")
    eventually(lambda: "Nothing is waiting" in str(slack.home(ALICE)))
    slack.open_home(CAROL)
    eventually(lambda: "yours until" in str(slack.home(CAROL)))


def test_a_retried_event_is_handled_once(bot, slack):
    """Given Slack re-sends an app_home_opened event (X-Slack-Retry-Num), then the bot answers
    200 and does not act on it again."""
    event = {"type": "app_home_opened", "user": BOB, "tab": "home", "channel": "D0BOB", "event_ts": "1.0"}
    assert slack.event(event, event_id="Ev0001").status_code == 200
    eventually(lambda: slack.home(BOB))
    publishes = len(slack.calls_to("POST", "/api/views.publish"))
    assert slack.event(event, event_id="Ev0001", retry_num=1).status_code == 200
    assert slack.event(event, event_id="Ev0002").status_code == 200
    eventually(lambda: len(slack.calls_to("POST", "/api/views.publish")) == publishes + 1)
    assert "Waiting on you" in texts([{"blocks": slack.home(BOB)["blocks"]}])

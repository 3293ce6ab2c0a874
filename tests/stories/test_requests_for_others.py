"""Requests filed for someone else, end to end over Slack HTTP with the Okta sandbox: a manager
(as Okta's managerId says) files for their report, an owner approves, and the report's own Okta
account holds the access, both told; someone else is refused in the form; the report declines
before the grant and nothing is granted; neither the filer nor the report can approve; a
manager changed in Okta before the approval is refused at the approval."""

from __future__ import annotations

import pytest

from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually, forge_click
from tests.support.slack import ask, asked, ephemeral_answers, texts

ONBOARDING = {"name": "onboarding", "match": {"resource": "eng-*"}, "request_for": ["managers"]}


@pytest.fixture
def managed(okta):
    """Dave manages Carol, as her Okta profile says."""
    okta.set_manager(okta.ids["carol@acme.com"], okta.ids["dave@acme.com"])
    return okta


def filed(bot) -> object:
    return eventually(lambda: bot.service.lifecycle.queries.in_states("pending"))[0]


def test_a_manager_files_for_their_report_who_gets_the_access_and_both_are_told(make_bot, slack, managed):
    """Given Dave manages Carol in Okta, when Dave files eng-admins for Carol and Alice approves,
    then Carol's Okta account is in eng-admins (Dave's is not), the audit names both, Carol got a
    Decline button and both hear of the grant."""
    okta = managed
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=DAVE, why="Carol starts on the platform team", **{"for": CAROL})
    request = filed(bot)
    assert (request.requester, request.filed_by) == (CAROL, DAVE)
    eventually(lambda: "'decline'" in str(slack.dm(CAROL)))
    eventually(lambda: f"<@{DAVE}> asks for *eng-admins* (okta) for <@{CAROL}>" in texts(slack.dm(ALICE)))
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    members = okta.members(okta.ids["eng-admins"])
    assert okta.ids["carol@acme.com"] in members and okta.ids["dave@acme.com"] not in members
    submitted = next(e for e in bot.service.lifecycle.audit.events(request.id) if e.action == "submitted")
    assert submitted.actor == DAVE and '"beneficiary": "U0CAROL"' in submitted.detail
    eventually(lambda: "You now have" in texts(slack.dm(CAROL)))
    eventually(lambda: f"On the request you filed for <@{CAROL}>" in texts(slack.dm(DAVE)))
    assert "'decline'" not in str(slack.dm(CAROL)[0].get("blocks"))  # redrawn: nothing left to decline


def test_someone_who_is_not_the_manager_is_refused_in_the_form(make_bot, slack, managed):
    """Given only managers may file for others, when Bob (not Carol's manager) files for her, then
    the form says so under the person picker and nothing is filed."""
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=BOB, **{"for": CAROL})
    errors = slack.view_errors(BOB)
    assert "Only their manager (as Okta shows it)" in errors["for"], errors
    assert bot.service.lifecycle.queries.in_states("pending") == [] and not asked(slack, ALICE)


def test_the_beneficiary_declines_before_the_grant_and_nothing_is_granted(make_bot, slack, managed):
    """Given Dave filed for Carol, when Carol presses Decline, then the request ends (audited),
    Alice's message loses its buttons, Dave is told, nothing is granted, and Alice's late
    Approve is only told it was declined."""
    okta = managed
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=DAVE, **{"for": CAROL})
    request = filed(bot)
    eventually(lambda: asked(slack, ALICE) and "'decline'" in str(slack.dm(CAROL)))
    slack.click(CAROL, "decline")
    eventually(lambda: bot.request(request.id).state == "cancelled")
    assert "declined" in [e.action for e in bot.service.lifecycle.audit.events(request.id)]
    eventually(lambda: not asked(slack, ALICE))
    eventually(lambda: f"<@{CAROL}> declined *eng-admins*" in texts(slack.dm(DAVE)))
    forge_click(slack, ALICE, "approve", request.id)
    eventually(lambda: f"declined by <@{CAROL}>, whom it was for" in ephemeral_answers(slack, ALICE))
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"])
    assert okta.membership_writes() == []


def test_a_decline_after_the_grant_is_refused_clearly(make_bot, slack, managed):
    """Given Dave filed for Carol and Alice approved it, when Carol presses Decline on her old
    message, then she is told it is too late and the access stays."""
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=DAVE, **{"for": CAROL})
    request = filed(bot)
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    forge_click(slack, CAROL, "decline", request.id)
    eventually(lambda: "too late to decline" in ephemeral_answers(slack, CAROL))
    assert bot.request(request.id).state == "active"


@pytest.mark.parametrize("clicker, words", [
    (DAVE, "Nobody can decide a request they filed for someone else."),
    (CAROL, "Nobody can decide their own request."),
])
def test_neither_the_filer_nor_the_beneficiary_can_approve(make_bot, slack, managed, clicker, words):
    """Given a rule whose approvers include Dave and Carol, when Dave files for Carol and either
    of them clicks Approve, then they are refused and the request still waits on Alice."""
    rule = {**ONBOARDING, "approvers": [DAVE, CAROL, ALICE]}
    bot = make_bot(rules=[rule]).start()
    ask(slack, "eng-admins", user=DAVE, **{"for": CAROL})
    request = filed(bot)
    eventually(lambda: asked(slack, ALICE))
    assert not asked(slack, DAVE) and not asked(slack, CAROL)  # neither is asked
    forge_click(slack, clicker, "approve", request.id)
    eventually(lambda: words in ephemeral_answers(slack, clicker))
    assert bot.request(request.id).state == "pending"


def test_a_manager_changed_in_okta_before_the_approval_is_refused_at_the_approval(make_bot, slack, managed):
    """Given Dave filed for Carol as her manager, when Okta names Bob as her manager before
    Alice approves, then Alice's approval is refused saying why, nothing is counted or granted."""
    okta = managed
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=DAVE, **{"for": CAROL})
    request = filed(bot)
    eventually(lambda: asked(slack, ALICE))
    okta.set_manager(okta.ids["carol@acme.com"], okta.ids["bob@acme.com"])
    slack.click(ALICE, "approve")
    eventually(lambda: "may not do so now" in ephemeral_answers(slack, ALICE))
    assert bot.request(request.id).state == "pending"
    assert bot.service.lifecycle.queries.approvals(request.id) == {}
    assert okta.membership_writes() == []


def test_an_okta_outage_at_the_approval_refuses_it(make_bot, slack, managed):
    """Given Dave filed for Carol as her manager, when Okta cannot answer at Alice's approval,
    then the approval is refused with try again, never let through."""
    okta = managed
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=DAVE, **{"for": CAROL})
    request = filed(bot)
    eventually(lambda: asked(slack, ALICE))
    okta.fail(503, times=1000, path="/api/v1/users")
    slack.click(ALICE, "approve")
    eventually(lambda: "try again in a minute" in ephemeral_answers(slack, ALICE), timeout=15)
    assert bot.request(request.id).state == "pending"


def test_the_beneficiarys_list_offers_decline_and_says_who_asked(make_bot, slack, managed):
    """Given Dave filed for Carol, when Carol types /request-access list, then the request is
    listed as asked for her by Dave, with Decline (not Cancel)."""
    bot = make_bot(rules=[ONBOARDING]).start()
    ask(slack, "eng-admins", user=DAVE, **{"for": CAROL})
    request = filed(bot)
    slack.command(CAROL, text="list")
    listing = eventually(lambda: ephemeral_answers(slack, CAROL))
    assert f"asked for you by <@{DAVE}>" in listing and "'decline'" in listing and "'cancel'" not in listing
    assert request.id in listing

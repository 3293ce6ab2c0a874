"""Step-up MFA: under a rule with `step_up: okta_verify`, an approval (a break-glass review, an
extension's approval) counts only once the approver accepts the Okta Verify push Latchkey sends."""

from __future__ import annotations

import pytest

from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually
from tests.support.requests import extension_asked, pending_request
from tests.support.slack import ask, ephemeral_answers, texts

STEP_UP = {"name": "admins", "match": {"resource": "eng-*"}, "step_up": "okta_verify"}


@pytest.fixture
def make_step_up_bot(make_bot, okta):
    """A bot whose eng-* rule asks for step-up, polling pushes every 0.1 s; Alice and Dave have
    Okta Verify on their phones, Bob has only SMS."""
    okta.factors.enroll(okta.ids["alice@acme.com"])
    okta.factors.enroll(okta.ids["dave@acme.com"])
    okta.factors.enroll(okta.ids["bob@acme.com"], factor_type="sms")

    def build(**rule):
        bot = make_bot(rules=[{**STEP_UP, **rule}])
        bot.settings = bot.settings.model_copy(update={"latchkey_step_up_poll_seconds": 0.1})
        return bot.start()
    return build


def _pushed(okta, email: str, count: int = 1) -> str:
    user = okta.ids[email]
    eventually(lambda: okta.factors.pushes(user) == count)
    return user


def _actions(bot, request_id: str) -> list[str]:
    return [e.action for e in bot.service.lifecycle.audit.events(request_id)]


def test_an_accepted_push_lets_the_approval_through_and_grants(make_step_up_bot, slack, okta):
    """Given Alice approves under the rule, then nothing counts until she accepts the push she is
    told of privately; once she does, the request is approved and Carol is in eng-admins."""
    bot = make_step_up_bot()
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    alice = _pushed(okta, "alice@acme.com")
    eventually(lambda: "Check your phone" in texts(slack.dm(ALICE)))
    assert bot.request(request.id).state == "pending"
    assert bot.service.lifecycle.queries.approvals(request.id) == {}

    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.request(request.id).state == "active")
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    actions = _actions(bot, request.id)
    assert actions.index("step_up_started") < actions.index("step_up_passed") < actions.index("approved")
    assert "Check your phone" not in texts(slack.dm(CAROL))  # the push is the approver's business


@pytest.mark.parametrize("answer, outcome", [("REJECTED", "the push was rejected"),
                                             ("TIMEOUT", "the push timed out")])
def test_a_rejected_or_unanswered_push_counts_for_nothing(make_step_up_bot, slack, okta, answer, outcome):
    """Given Alice approves, when she rejects the push (or lets it time out), then the request
    stays pending with no approval, the failure is audited, she is told, and a new click sends
    a new push."""
    bot = make_step_up_bot()
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    alice = _pushed(okta, "alice@acme.com")
    okta.factors.answer(alice, answer)
    eventually(lambda: "did not count" in texts(slack.dm(ALICE)))
    assert outcome in texts(slack.dm(ALICE))
    assert bot.request(request.id).state == "pending"
    assert bot.service.lifecycle.queries.approvals(request.id) == {}
    failed, = [e for e in bot.service.lifecycle.audit.events(request.id) if e.action == "step_up_failed"]
    assert failed.actor == ALICE and outcome in failed.detail
    assert okta.members(okta.ids["eng-admins"]) == set()

    slack.click(ALICE, "approve")
    _pushed(okta, "alice@acme.com", count=2)


def test_an_approver_without_a_push_factor_is_told_and_cannot_approve(make_step_up_bot, slack, okta):
    """Given Bob has only SMS in Okta, when he approves, then he is told at once why it cannot
    count, no push is sent, and the request waits on someone else."""
    bot = make_step_up_bot()
    request = pending_request(bot, slack)
    slack.click(BOB, "approve")
    eventually(lambda: "no active Okta Verify push" in ephemeral_answers(slack, BOB))
    assert okta.factors.sent == []
    assert bot.request(request.id).state == "pending"
    assert bot.service.lifecycle.queries.approvals(request.id) == {}
    failed, = [e for e in bot.service.lifecycle.audit.events(request.id) if e.action == "step_up_failed"]
    assert failed.actor == BOB and "no active Okta Verify push" in failed.detail
    slack.click(BOB, "approve")  # and trying again is refused the same way, not "already waiting"
    eventually(lambda: ephemeral_answers(slack, BOB).count("no active Okta Verify push") == 2)


def test_okta_refusing_the_push_is_told_at_the_click_and_a_later_click_works(make_step_up_bot, slack, okta):
    """Given Okta refusing the verify call once, when Alice approves, then she is told Okta cannot
    send the push now and nothing counts; her next click sends the push."""
    bot = make_step_up_bot()
    request = pending_request(bot, slack)
    okta.fail(403, times=1, path=r"/api/v1/users/[^/]+/factors/[^/]+/verify", method="POST")
    slack.click(ALICE, "approve")
    eventually(lambda: "cannot send the push" in ephemeral_answers(slack, ALICE))
    assert bot.service.lifecycle.queries.approvals(request.id) == {}
    slack.click(ALICE, "approve")
    alice = _pushed(okta, "alice@acme.com")
    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.request(request.id).state == "active")


def test_a_double_click_sends_one_push_and_approves_once(make_step_up_bot, slack, okta):
    """Given Alice clicks Approve twice while the push waits, then one push is sent, the second
    click is told it is on her phone, and accepting approves once."""
    bot = make_step_up_bot()
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    alice = _pushed(okta, "alice@acme.com")
    slack.click(ALICE, "approve")
    eventually(lambda: "already on your phone" in ephemeral_answers(slack, ALICE))
    assert okta.factors.pushes(alice) == 1
    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.request(request.id).state == "active")
    assert _actions(bot, request.id).count("approved") == 1
    assert _actions(bot, request.id).count("step_up_passed") == 1


def test_a_push_accepted_across_a_restart_approves_once(make_step_up_bot, slack, okta):
    """Given a push waiting when Latchkey restarts, when Alice accepts it, then the new process
    finds the stored challenge and approves, once."""
    bot = make_step_up_bot()
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    alice = _pushed(okta, "alice@acme.com")
    bot.restart()
    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.request(request.id).state == "active")
    assert _actions(bot, request.id).count("approved") == 1
    assert okta.factors.pushes(alice) == 1


def test_a_break_glass_review_needs_the_push_too(make_step_up_bot, slack, okta):
    """Given break-glass under the rule, when Dave (fallback) marks Carol's use reviewed, then it
    is recorded only once he accepts the push."""
    bot = make_step_up_bot(break_glass=True, fallback=[DAVE])
    ask(slack, "eng-admins", break_glass=["yes"])
    request = eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))[0]
    eventually(lambda: "Break-glass" in texts(slack.dm(DAVE)))
    slack.click(DAVE, "review")
    dave = _pushed(okta, "dave@acme.com")
    eventually(lambda: "Check your phone" in texts(slack.dm(DAVE)))
    assert bot.request(request.id).reviewed_by is None
    okta.factors.answer(dave, "SUCCESS")
    eventually(lambda: bot.request(request.id).reviewed_by == DAVE)
    assert "reviewed" in _actions(bot, request.id)


def test_an_extension_needs_the_push_to_be_approved(make_step_up_bot, slack, okta, clock):
    """Given Carol's access under the rule, when she asks for more time and Alice approves, then
    the expiry moves only once Alice accepts a second push."""
    bot = make_step_up_bot(warn_before="15m")
    original = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    alice = _pushed(okta, "alice@acme.com")
    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.request(original.id).state == "active")
    extension = extension_asked(bot, slack, clock)
    slack.click(ALICE, "approve", value=extension.id)
    _pushed(okta, "alice@acme.com", count=2)
    assert bot.request(extension.id).state == "pending"
    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.request(extension.id).state == "extended")

"""Pending requests are chased (reminders with backoff, then a timeout); holders are warned
before their access ends."""

from __future__ import annotations

from datetime import timedelta

from tests.support.config import CHASING
from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.requests import jump, pending_request
from tests.support.slack import ephemeral_answers, texts


def reminders(slack, user) -> int:
    return len([m for m in slack.dm(user) if "Reminder:" in texts([m])])


def test_reminders_back_off_then_the_request_times_out(make_bot, slack, okta, clock):
    """Given no decision, then approvers are reminded after 1h, 2h later, 4h later, and at 8h the
    request times out: Carol is told, buttons disappear, and a late Approve grants nothing."""
    bot = make_bot(policy=CHASING).start()
    request = pending_request(bot, slack)
    bobs_copy = slack.dm(BOB)[0]
    jump(bot, clock, timedelta(minutes=59))
    assert reminders(slack, BOB) == 0
    for count, gap in ((1, timedelta(minutes=2)), (2, timedelta(hours=2)), (3, timedelta(hours=4))):
        jump(bot, clock, gap)
        eventually(lambda: reminders(slack, ALICE) == count and reminders(slack, BOB) == count)
    jump(bot, clock, timedelta(hours=2))
    eventually(lambda: bot.request(request.id).state == "timed_out")
    eventually(lambda: "timed out" in texts(slack.dm(CAROL)))
    eventually(lambda: "'approve'" not in texts(slack.dm(BOB)))
    assert reminders(slack, BOB) == 3
    slack.click(BOB, "approve", message=bobs_copy, stale=True)
    eventually(lambda: "timed out" in ephemeral_answers(slack, BOB))
    assert okta.membership_writes() == []
    assert [e.action for e in bot.service.lifecycle.audit.events(request.id)].count("reminded") == 3


def test_an_approver_who_already_approved_is_not_reminded(make_bot, slack, okta, clock):
    """Given 2 approvals needed and Alice approved, then only Bob is reminded."""
    bot = make_bot(policy=CHASING, approvals=2).start()
    pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: "1 more approval needed" in texts(slack.dm(BOB)))
    jump(bot, clock, timedelta(hours=1, minutes=1))
    eventually(lambda: reminders(slack, BOB) == 1)
    assert reminders(slack, ALICE) == 0


def test_holder_is_warned_before_expiry_and_can_end_it_there(make_bot, slack, okta, clock):
    """Given 4h of access and warn_before 15m, then at 3h45m Carol gets one warning with End now,
    and pressing it removes the membership at once."""
    bot = make_bot(policy=CHASING).start()
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    jump(bot, clock, timedelta(hours=3, minutes=44))
    assert "ends" not in texts(slack.dm(CAROL))
    jump(bot, clock, timedelta(minutes=2))
    eventually(lambda: "end it now if you are done" in texts(slack.dm(CAROL)))
    jump(bot, clock, timedelta(minutes=1))
    assert len([m for m in slack.dm(CAROL) if "end it now if you are done" in texts([m])]) == 1
    slack.click(CAROL, "end_now")
    eventually(lambda: bot.request(request.id).state == "revoked")
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"])

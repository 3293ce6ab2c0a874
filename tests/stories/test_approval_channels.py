"""Approval channels, end to end over Slack HTTP: a rule with `approval_channel` and `notify`
posts each request once in the channel; any eligible approver decides there and the message is
redrawn in place; anyone else is refused privately and nothing changes; N-of-M and steps show
their progress in the same message; reminders are replies in its thread; a channel the app
cannot post in falls back to DMs and tells the operator."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.pagerduty import Level, PagerDutySandbox
from sandbox.server import Reply
from tests.support.config import CHASING
from tests.support.harness import ALICE, BOB, CAROL, DAVE, PEOPLE, Bot, eventually
from tests.support.requests import jump, pending
from tests.support.slack import asked, request_access, texts

CHANNEL = "C0APPROVE"


def in_channel(**policy) -> dict:
    return {"approval_channel": CHANNEL, "notify": "channel", **policy}


def start(make_bot, slack, bot_in_channel: bool = True, **config):
    slack.add_channel(CHANNEL, "access-approvals", members=(ALICE, BOB, CAROL, DAVE), bot=bot_in_channel)
    return make_bot(**config).start()


def posted(slack) -> dict:
    """The one message the channel shows, once it is there."""
    shown = eventually(lambda: slack.channel(CHANNEL))
    assert len(shown) == 1, shown
    return shown[0]


def shown_with(slack, words: str) -> dict:
    """The channel's one message, once it says `words`."""
    return eventually(lambda: next((m for m in [posted(slack)] if words in texts([m])), None))


def buttons(message) -> list[str]:
    return [e["action_id"] for block in message["blocks"] if block["type"] == "actions"
            for e in block["elements"]]


def private_answers(slack, user) -> str:
    return texts(slack.ephemerals(user))


def test_a_request_is_posted_once_in_the_channel_and_an_approver_decides_there(make_bot, slack, okta):
    """Given eng requests go to #access-approvals, when Carol asks, then the channel gets one
    message with Approve / Deny and no approver gets a DM; when Alice approves there, the same
    message shows the outcome without buttons, and Carol holds the group."""
    bot = start(make_bot, slack, policy=in_channel())
    request_access(slack)
    message = posted(slack)
    assert buttons(message) == ["approve", "deny"] and "asks for" in texts([message])
    eventually(lambda: "waiting for approval" in texts(slack.dm(CAROL)))
    assert slack.dm(ALICE) == [] and slack.dm(BOB) == []
    slack.click(ALICE, "approve", message=message)
    request = eventually(lambda: bot.service.lifecycle.queries.in_states("active"))[0]
    redrawn = shown_with(slack, "Approved by")
    assert redrawn["ts"] == message["ts"] and buttons(redrawn) == []
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert bot.request(request.id).state == "active"


def test_an_outsiders_click_is_refused_privately_and_changes_nothing(make_bot, slack, okta):
    """Given the request in the channel, when Dave (no approver) and Carol (the requester)
    press Approve there, then each alone is told why, the request stays pending, and the
    channel shows the same message with its buttons and nothing more."""
    bot = start(make_bot, slack, policy=in_channel())
    request_access(slack)
    message = posted(slack)
    slack.click(DAVE, "approve", message=message)
    slack.click(CAROL, "approve", message=message)
    eventually(lambda: slack.ephemerals(DAVE) and slack.ephemerals(CAROL))
    assert "You are not an approver for this access." in private_answers(slack, DAVE)
    assert "Nobody can decide their own request." in private_answers(slack, CAROL)
    assert [e["channel"] for e in slack.ephemerals(DAVE) + slack.ephemerals(CAROL)] == [CHANNEL, CHANNEL]
    assert slack.ephemerals(ALICE) == [] and slack.ephemerals(BOB) == []
    assert [r.state for r in bot.service.lifecycle.queries.in_states("pending")] == ["pending"]
    assert posted(slack) == message and okta.membership_writes() == []


def test_an_approver_denies_in_the_channel_and_an_outsider_cannot_even_open_the_form(make_bot, slack, okta):
    """Given the request in the channel, when Dave presses Deny there, then he alone is told he
    is no approver and no form opens; when Bob denies with a reason, the message shows the
    denial, escaped, without buttons."""
    bot = start(make_bot, slack, policy=in_channel())
    request_access(slack)
    message = posted(slack)
    slack.click(DAVE, "deny", message=message)
    eventually(lambda: "You are not an approver" in private_answers(slack, DAVE))
    assert slack.open_view(DAVE) is None
    slack.click(BOB, "deny", message=message)
    eventually(lambda: slack.open_view(BOB))
    slack.submit(BOB, {"reason": "Use <staging> first"})
    denied = shown_with(slack, f"Denied by <@{BOB}>")
    assert "Use &lt;staging&gt; first" in texts([denied]) and buttons(denied) == []
    assert bot.service.lifecycle.queries.in_states("denied") and okta.membership_writes() == []


def test_two_approvals_show_their_progress_in_place(make_bot, slack, okta):
    """Given 2 approvals, when Alice approves in the channel, then the message says she did and
    that it waits for 1 more from Bob, buttons still there; when Bob approves, it is granted."""
    bot = start(make_bot, slack, policy=in_channel(), approvals=2)
    request_access(slack)
    message = posted(slack)
    slack.click(ALICE, "approve", message=message)
    progress = shown_with(slack, "1 more approval")
    assert f"Approved by <@{ALICE}>; waiting for 1 more approval from <@{BOB}>" in texts([progress])
    assert buttons(progress) == ["approve", "deny"] and progress["ts"] == message["ts"]
    slack.click(ALICE, "approve", message=progress)  # a second click by the same person counts once
    eventually(lambda: slack.ephemerals(ALICE))
    assert bot.service.lifecycle.queries.in_states("pending")
    slack.click(BOB, "approve", message=progress)
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
    eventually(lambda: buttons(posted(slack)) == [])


def test_steps_move_on_in_the_same_message(make_bot, slack, okta):
    """Given step 1 by Alice then step 2 by Bob, when Bob presses first, he is refused
    privately; after Alice, the message says step 1 is done and now waits on Bob, who
    approves it there; the channel holds one message throughout."""
    rule = {"name": "two-steps", "steps": [{"approvers": [ALICE]}, {"approvers": [BOB]}]}
    bot = start(make_bot, slack, policy=in_channel(), rules=[rule])
    request_access(slack)
    message = posted(slack)
    assert "Step 1 of 2" in texts([message])
    slack.click(BOB, "approve", message=message)
    eventually(lambda: slack.ephemerals(BOB))
    slack.click(ALICE, "approve", message=message)
    second = shown_with(slack, "Step 2 of 2")
    assert f"Step 1 approved by <@{ALICE}>; waiting for approval from <@{BOB}>" in texts([second])
    slack.click(BOB, "approve", message=second)
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
    assert slack.dm(ALICE) == [] and slack.dm(BOB) == []


def test_a_reminder_is_a_reply_in_the_requests_thread(make_bot, slack, okta, clock):
    """Given reminders after an hour, when nobody decides, then the reminder is a reply in the
    request's thread naming Alice and Bob; the channel still shows one message, and nobody
    gets a DM."""
    bot = start(make_bot, slack, policy=in_channel(**CHASING))
    request_access(slack)
    message = posted(slack)
    jump(bot, clock, timedelta(hours=1, minutes=1))
    reply = eventually(lambda: slack.replies(CHANNEL, message["ts"]))[0]
    assert "Reminder:" in texts([reply]) and f"<@{ALICE}>, <@{BOB}>" in texts([reply])
    assert len(slack.channel(CHANNEL)) == 1 and slack.dm(ALICE) == []


def test_an_escalation_is_a_reply_in_the_thread_naming_the_fallback(make_bot, slack, okta, clock):
    """Given escalation to Dave after one unanswered reminder, when it comes, then the thread
    gets the escalation naming Dave, the message now lists him among whom it waits on, and his
    Approve in the channel grants the access."""
    bot = start(make_bot, slack, policy=in_channel(**CHASING, fallback=[DAVE], escalate_after=1))
    request_access(slack)
    message = posted(slack)
    jump(bot, clock, timedelta(hours=1, minutes=1))
    eventually(lambda: any("Escalated" in texts([m]) for m in slack.replies(CHANNEL, message["ts"])))
    escalated = next(m for m in slack.replies(CHANNEL, message["ts"]) if "Escalated" in texts([m]))
    assert f"<@{DAVE}>" in texts([escalated]) and slack.dm(DAVE) == []
    now = shown_with(slack, f"<@{DAVE}>")
    slack.click(DAVE, "approve", message=now)
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))


@pytest.mark.parametrize("channel, error", [(CHANNEL, "not_in_channel"), ("C0DELETED", "channel_not_found")])
def test_a_channel_the_app_cannot_post_in_falls_back_to_dms_and_the_operator_is_told(
        make_bot, slack, okta, channel, error):
    """Given nobody invited the app to the channel (or the channel is gone), when Carol asks,
    then Alice and Bob get DMs as usual, the audit log and the audit channel say the channel
    could not be used and why, and Alice's DM approves as always."""
    bot = start(make_bot, slack, bot_in_channel=False, audit_channel="C0GENERAL",
                policy={"approval_channel": channel, "notify": "channel"})
    request_access(slack)
    eventually(lambda: asked(slack, ALICE) and asked(slack, BOB))
    request = pending(bot)
    unreachable = [e for e in bot.service.lifecycle.audit.events(request.id) if e.action == "channel_unreachable"]
    assert len(unreachable) == 1 and error in unreachable[0].detail and channel in unreachable[0].detail
    line = eventually(lambda: [m for m in slack.messages("C0GENERAL") if "approval channel" in texts([m])])
    assert f"channel {channel}" in texts(line) and f"error: {error}" in texts(line)
    assert slack.messages(CHANNEL) == []
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")


def test_both_asks_by_dm_too_and_redraws_every_copy(make_bot, slack, okta):
    """Given notify: both, when Alice approves from her DM, then the channel's message is
    redrawn with the outcome too."""
    bot = start(make_bot, slack, policy=in_channel(notify="both"))
    request_access(slack)
    eventually(lambda: asked(slack, ALICE) and asked(slack, BOB))
    assert buttons(posted(slack)) == ["approve", "deny"]
    slack.click(ALICE, "approve")
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
    eventually(lambda: buttons(posted(slack)) == [] and "Approved by" in texts(slack.channel(CHANNEL)))


def test_a_private_channel_the_app_was_removed_from_never_holds_up_the_other_messages(make_bot, slack, okta):
    """Given notify: both in a private channel, when the app is removed from it after posting
    and Alice approves from her DM, then the access is granted and Carol and both approvers see
    the outcome, though the channel's copy can no longer be redrawn."""
    slack.add_channel("G0PRIVATE", "secret-approvals", members=(ALICE, BOB), private=True)
    bot = make_bot(policy={"approval_channel": "G0PRIVATE", "notify": "both"}).start()
    request_access(slack)
    eventually(lambda: slack.messages("G0PRIVATE") and asked(slack, ALICE) and asked(slack, BOB))
    slack.remove_from_channel("G0PRIVATE", slack.bot_user_id)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
    for person in (ALICE, BOB):
        eventually(lambda person=person: "Approved by" in texts(slack.dm(person)))
    eventually(lambda: "until" in texts(slack.dm(CAROL)))
    assert buttons(slack.messages("G0PRIVATE")[0]) == ["approve", "deny"]  # as it was


def test_a_delivery_retried_after_the_channel_post_does_not_post_it_again(make_bot, slack, okta, clock):
    """Given Slack fails the DM to Alice right after the channel post, when the delivery is
    retried, then the channel still has one message and both approvers get their DM."""
    bot = start(make_bot, slack, policy=in_channel(notify="both"))
    seen = []

    def third_fails(call):
        seen.append(call)
        return Reply.json(200, {"ok": False, "error": "fatal_error"}) if len(seen) == 3 else slack.route(call)
    slack.inject(third_fails, path="/api/chat.postMessage", times=3)
    request_access(slack)
    eventually(lambda: len(seen) == 3)
    jump(bot, clock, timedelta(seconds=5))  # past the outbox's backoff
    eventually(lambda: asked(slack, ALICE) and asked(slack, BOB))
    assert len(slack.messages(CHANNEL)) == 1 and buttons(posted(slack)) == ["approve", "deny"]


def test_two_replicas_post_it_once(make_bot, slack, okta, clock):
    """Given two replicas on one database, both delivering messages, when Slack is slow to
    answer the channel post, then the request is still posted once, and redrawn in place when
    Alice approves it there."""
    first = start(make_bot, slack, policy=in_channel())
    second = Bot(first.settings, first.config, clock, slack).start()
    try:
        slow = slack.hold(path="/api/chat.postMessage")
        request_access(slack)
        eventually(lambda: slack.calls_to("POST", r"/api/chat\.postMessage"))  # one replica is posting
        # Meanwhile neither replica can take the request's messages again.
        assert [bot.service.notifier.dispatcher.run_once() for bot in (first, second)] == [0, 0]
        slow.set()
        message = posted(slack)
        slack.click(ALICE, "approve", message=message)
        eventually(lambda: first.service.lifecycle.queries.in_states("active"))
        shown_with(slack, "Approved by")
        assert len(slack.messages(CHANNEL)) == 1
    finally:
        second.stop()


def test_a_click_in_the_channel_under_step_up_counts_only_once_the_push_is_accepted(make_bot, slack, okta):
    """Given eng-* asks for step-up and is decided in the channel, when Alice approves there,
    then nothing counts and the message is unchanged until she accepts the Okta Verify push;
    then it is approved and the message shows it."""
    okta.factors.enroll(okta.ids["alice@acme.com"])
    rule = {"name": "admins", "match": {"resource": "eng-*"}, "step_up": "okta_verify"}
    slack.add_channel(CHANNEL, "access-approvals", members=(ALICE, BOB, CAROL, DAVE))
    bot = make_bot(policy=in_channel(), rules=[rule])
    bot.settings = bot.settings.model_copy(update={"latchkey_step_up_poll_seconds": 0.1})
    bot.start()
    request_access(slack)
    message = posted(slack)
    slack.click(ALICE, "approve", message=message)
    alice = okta.ids["alice@acme.com"]
    eventually(lambda: okta.factors.pushes(alice) == 1)
    assert bot.service.lifecycle.queries.approvals(pending(bot).id) == {} and posted(slack) == message
    okta.factors.answer(alice, "SUCCESS")
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
    assert buttons(shown_with(slack, "Approved by")) == []


def test_a_handover_mid_request_shows_in_the_channel_and_its_thread(make_bot, slack, okta, clock, monkeypatch):
    """Given eng-* is approved by whoever PagerDuty's SECONDARY has on call (Dave) and decided in
    the channel, when the shift passes to Bob before anyone decides, then the next reminder
    names Bob in the thread, the message now waits on him, Dave's click there is refused, and
    Bob's grants the access."""
    monkeypatch.setenv("PAGERDUTY_TOKEN", "pd-channel-s3cret")
    with PagerDutySandbox({"pd-channel-s3cret"}) as pagerduty:
        for email in PEOPLE.values():
            pagerduty.add_user(email)
        pagerduty.add_schedule("SECONDARY", "dave@acme.com")
        pagerduty.add_policy("OPS", Level(schedules=["SECONDARY"]))  # PagerDuty's on-calls are per policy
        rule = {"name": "on-call-approves", "match": {"resource": "eng-*"},
                "approvers": ["on_call:pagerduty/SECONDARY"]}
        bot = start(make_bot, slack, policy=in_channel(**CHASING), rules=[rule],
                    on_call={"pagerduty": {"token": "${PAGERDUTY_TOKEN}", "url": pagerduty.url}})
        request_access(slack)
        message = shown_with(slack, f"Waiting for approval from <@{DAVE}>")
        pagerduty.hand_over("SECONDARY", "bob@acme.com")
        jump(bot, clock, timedelta(hours=1, minutes=1))
        reply = eventually(lambda: slack.replies(CHANNEL, message["ts"]))[0]
        assert "Reminder:" in texts([reply]) and f"<@{BOB}>" in texts([reply])
        now = shown_with(slack, f"Waiting for approval from <@{BOB}>")
        slack.click(DAVE, "approve", message=now)
        eventually(lambda: "not an approver" in private_answers(slack, DAVE))
        slack.click(BOB, "approve", message=now)
        eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
        assert slack.dm(BOB) == [] and slack.dm(DAVE) == [] and len(slack.channel(CHANNEL)) == 1
        bot.stop()

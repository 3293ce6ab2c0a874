"""Access Latchkey cannot grant through an API: approved requests become tasks for the owners."""

from __future__ import annotations

from datetime import timedelta

from tests.support.harness import ALICE, BOB, CAROL, eventually, forge_click
from tests.support.requests import pending_request
from tests.support.slack import ephemeral_answers, texts


def test_provisioning_off_turns_approval_into_a_task(make_bot, slack, okta, clock):
    """Given provisioning: false, when Alice approves, then the owners get a task with Done, Okta
    is never written, the grant starts when Bob presses Done, and at expiry a take-back task
    follows; Carol is told at each step."""
    bot = make_bot(provisioning=False).start()
    request = pending_request(bot, slack)
    assert "by hand" not in texts(slack.dm(CAROL))
    carols_waiting_copy = slack.dm(CAROL)[0]
    slack.click(ALICE, "approve")
    eventually(lambda: "Please give" in texts(slack.dm(BOB)))
    eventually(lambda: "grant it by hand" in texts(slack.dm(CAROL)))
    assert bot.request(request.id).state == "provisioning"

    clock.advance(timedelta(hours=1))  # nothing happens by itself while the task is open
    bot.service.scheduler.wake_at(clock.now())
    slack.click(CAROL, "cancel", stale=True, message=carols_waiting_copy)
    eventually(lambda: slack.responses(CAROL))
    assert bot.request(request.id).state == "provisioning"

    eventually(lambda: "Please give" in texts(slack.dm(ALICE)))
    alices_task_copy = _task(slack, ALICE)
    slack.click(BOB, "task_done")
    eventually(lambda: bot.request(request.id).state == "active")
    eventually(lambda: "granted you" in texts(slack.dm(CAROL)))
    eventually(lambda: "Granted by hand" in texts(slack.dm(ALICE)))
    slack.click(ALICE, "task_done", stale=True, message=alices_task_copy)
    eventually(lambda: "already done" in ephemeral_answers(slack, ALICE))

    clock.advance(timedelta(hours=5))
    eventually(lambda: "Please take" in texts(slack.dm(ALICE)))
    assert bot.request(request.id).state == "revoking"
    slack.click(ALICE, "task_done")
    eventually(lambda: bot.request(request.id).state == "revoked")
    eventually(lambda: "taken it back" in texts(slack.dm(CAROL)))
    assert okta.membership_writes() == []


def test_requester_cannot_mark_their_own_task_done(make_bot, slack, okta):
    """Given Carol is also an owner, when she presses Done on her own grant task, then she is refused."""
    bot = make_bot(provisioning=False, owners=(CAROL, BOB)).start()
    request = pending_request(bot, slack, approvers=(BOB,))
    slack.click(BOB, "approve")
    eventually(lambda: "Please give" in texts(slack.dm(BOB)))
    forge_click(slack, CAROL, "task_done", request.id)  # she was never sent the task
    eventually(lambda: "other than the requester" in ephemeral_answers(slack, CAROL))
    assert bot.request(request.id).state == "provisioning"


def _task(slack, user):
    return next(m for m in slack.dm(user) if "Task:" in texts([m]))

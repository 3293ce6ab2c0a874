"""Approve, deny, cancel: who may decide, what everyone sees, and that nothing happens twice."""

from __future__ import annotations

import threading

from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually, forge_click
from tests.support.requests import pending_request
from tests.support.slack import ephemeral_answers, texts


def test_two_owners_approving_at_once_grant_once(bot, slack, okta):
    """Given a pending request, when Alice and Bob click Approve at the same moment, then Okta
    sees exactly one membership write and the slower owner is told who approved first."""
    request = pending_request(bot, slack)
    barrier = threading.Barrier(2)

    def click(owner):
        barrier.wait()
        slack.click(owner, "approve", value=request.id)

    threads = [threading.Thread(target=click, args=(o,)) for o in (ALICE, BOB)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    eventually(lambda: bot.request(request.id).state == "active")
    assert len([c for c in okta.membership_writes() if c.method == "PUT"]) == 1
    winner, = bot.request(request.id).decided_by
    loser = BOB if winner == ALICE else ALICE
    eventually(lambda: f"Already approved by <@{winner}>" in ephemeral_answers(slack, loser))


def test_late_click_after_approval_gets_an_ephemeral(bot, slack, okta):
    """Given Alice approved, when Bob clicks Approve on his (stale) copy, then only he is told."""
    request = pending_request(bot, slack)
    bobs_message = slack.dm(BOB)[-1]
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    forge_click(slack, BOB, "approve", request.id)  # the button as it was before the update
    eventually(lambda: "Already approved by <@U0ALICE>" in ephemeral_answers(slack, BOB))
    assert len(okta.membership_writes()) == 1
    assert bobs_message["ts"] == slack.dm(BOB)[-1]["ts"]  # Bob's DM was updated in place


def test_non_owner_cannot_approve(bot, slack, okta):
    """Given a pending request, when Dave (not an owner) sends a click for it, then he is refused
    and the request stays pending with Okta untouched."""
    request = pending_request(bot, slack)
    assert forge_click(slack, DAVE, "approve", request.id).status_code == 200
    eventually(lambda: "not an approver" in ephemeral_answers(slack, DAVE))
    assert bot.request(request.id).state == "pending"
    assert okta.membership_writes() == []


def test_nobody_approves_their_own_request(make_bot, slack, okta):
    """Given Carol is an owner too, when she approves her own request, then she is refused."""
    bot = make_bot(owners=(CAROL, BOB)).start()
    request = pending_request(bot, slack, approvers=(BOB,))
    assert "Approve" not in texts(slack.dm(CAROL))  # she is not even asked
    forge_click(slack, CAROL, "approve", request.id)
    eventually(lambda: "own request" in ephemeral_answers(slack, CAROL))
    assert bot.request(request.id).state == "pending"
    assert okta.membership_writes() == []


def test_deny_asks_for_a_reason_and_tells_the_requester(bot, slack, okta):
    """Given a pending request, when Bob denies it with a reason, then Carol sees the reason and
    every owner's DM shows the denial without buttons."""
    request = pending_request(bot, slack)
    slack.click(BOB, "deny")
    eventually(lambda: slack.open_view(BOB))
    slack.submit(BOB, {"reason": "   "})
    assert "reason" in slack.view_errors(BOB)
    assert bot.request(request.id).state == "pending"
    slack.submit(BOB, {"reason": "Use the <staging> cluster & ask again"})
    eventually(lambda: bot.request(request.id).state == "denied")
    eventually(lambda: "Use the &lt;staging&gt; cluster &amp; ask again" in texts(slack.dm(CAROL)))
    for owner in (ALICE, BOB):
        eventually(lambda: "Denied by <@U0BOB>" in texts(slack.dm(owner)))
        assert "'approve'" not in texts(slack.dm(owner))
    assert okta.membership_writes() == []


def test_requester_cancels_and_a_later_approval_is_refused(bot, slack, okta):
    """Given a pending request, when Carol cancels it, then owners' buttons disappear and a late
    approval (from a stale message) grants nothing."""
    request = pending_request(bot, slack)
    slack.click(CAROL, "cancel")
    eventually(lambda: bot.request(request.id).state == "cancelled")
    eventually(lambda: "Cancelled" in texts(slack.dm(ALICE)) and "'approve'" not in texts(slack.dm(ALICE)))
    forge_click(slack, ALICE, "approve", request.id)
    eventually(lambda: "cancelled" in ephemeral_answers(slack, ALICE))
    assert okta.membership_writes() == []


def test_only_the_requester_can_cancel(bot, slack):
    """Given Carol's pending request, when Dave sends a Cancel for it, then it stays pending."""
    request = pending_request(bot, slack)
    forge_click(slack, DAVE, "cancel", request.id)
    eventually(lambda: "Only the requester" in ephemeral_answers(slack, DAVE))
    assert bot.request(request.id).state == "pending"


def test_two_approvals_needed(make_bot, slack, okta):
    """Given a policy of 2 approvals, when Alice approves then Bob, then the grant waits for Bob;
    Alice's own DM loses its buttons and says whom it waits on."""
    bot = make_bot(approvals=2).start()
    request = pending_request(bot, slack)
    alices_copy = slack.dm(ALICE)[-1]
    slack.click(ALICE, "approve")
    eventually(lambda: "1 more approval needed" in texts(slack.dm(BOB)))
    assert bot.request(request.id).state == "pending" and okta.membership_writes() == []
    eventually(lambda: "You approved; waiting for 1 more approval from <@U0BOB>" in texts(slack.dm(ALICE)))
    assert not slack.buttons(slack.dm(ALICE)[-1])
    # a second click (from the copy her client showed before) does not count twice
    slack.click(ALICE, "approve", message=alices_copy, stale=True)
    eventually(lambda: "already approved" in ephemeral_answers(slack, ALICE))
    assert bot.request(request.id).state == "pending"
    slack.click(BOB, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert len(okta.membership_writes()) == 1


def test_a_broken_click_gets_an_answer_with_an_error_id(bot, slack):
    """Given a click payload without a button value (tampered), then Slack still gets a prompt
    200, the clicker is shown an error id, and the request is untouched."""
    import json
    import time
    from urllib.parse import urlencode

    request = pending_request(bot, slack)
    channel = slack.workspace.dm_id(ALICE)
    payload = {"type": "block_actions", "user": {"id": ALICE}, "team": {"id": "T0LATCHKEY"},
               "api_app_id": "A0LATCHKEY", "actions": [{"action_id": "approve", "type": "button"}],
               "response_url": f"{slack.url}/response/{slack.workspace.issue_response_url(ALICE, channel, None)}"}
    started = time.monotonic()
    response = slack.post_raw(urlencode({"payload": json.dumps(payload)}).encode(),
                              "application/x-www-form-urlencoded")
    assert response.status_code == 200 and time.monotonic() - started < 1
    eventually(lambda: "error id" in ephemeral_answers(slack, ALICE))
    assert bot.request(request.id).state == "pending"


def test_cancel_after_approval_is_refused_politely(bot, slack, okta):
    """Given Alice approved, when Carol presses Cancel on her stale message, then she is told it
    was already approved and the access stays."""
    request = pending_request(bot, slack)
    carols_copy = slack.dm(CAROL)[0]
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    slack.click(CAROL, "cancel", message=carols_copy, stale=True)
    eventually(lambda: "Already approved by <@U0ALICE>" in ephemeral_answers(slack, CAROL))
    assert bot.request(request.id).state == "active"

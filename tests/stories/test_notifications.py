"""Messages are never lost: a Slack outage delays them, and a grant never waits for them."""

from __future__ import annotations

from tests.support.harness import ALICE, CAROL, eventually
from tests.support.requests import pending_request
from tests.support.slack import texts


def test_slack_outage_delays_messages_but_not_the_grant(bot, slack, okta, clock):
    """Given Slack fails every chat call for a while, when Alice approves, then Okta gets the
    membership at once, and Carol's messages arrive once Slack is back, in order."""
    from datetime import timedelta

    pending_request(bot, slack)
    slack.fail("chat.postMessage", error="service_unavailable", times=3)
    slack.fail("chat.update", error="service_unavailable", times=3)
    slack.click(ALICE, "approve")
    eventually(lambda: okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"]))
    outbox = bot.service.notifier.dispatcher._outbox
    eventually(lambda: outbox.pending() > 0 and slack.calls_to("POST", "/api/chat.update"))
    for _ in range(12):  # skip each backoff wait instead of sleeping through it
        if outbox.pending() == 0:
            break
        clock.advance(timedelta(minutes=1))
        bot.service.notifier.dispatcher.poke()
        eventually(lambda: outbox.pending() == 0 or outbox.next_due() > clock.now())
    assert outbox.pending() == 0
    assert len(slack.calls_to("POST", "/api/chat.update")) > 3  # it did retry
    assert "You now have" in texts(slack.dm(CAROL))
    assert "Approved by <@U0ALICE>" in texts(slack.dm(ALICE))


def test_messages_queued_before_a_restart_are_delivered_after_it(bot, slack, okta):
    """Given the bot stops while a message is still queued, then it is sent after the restart."""
    request = pending_request(bot, slack)
    bot.service.notifier.dispatcher.stop(drain_for=0)  # as if the process died right now
    bot.service.lifecycle.cancel(request.id, CAROL)
    assert "Cancelled" not in texts(slack.dm(ALICE))
    bot.restart()
    eventually(lambda: "Cancelled" in texts(slack.dm(ALICE)))

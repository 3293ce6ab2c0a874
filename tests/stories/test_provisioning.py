"""Granting and revoking against Okta: rate limits, failures, restarts, and access held before."""

from __future__ import annotations

from datetime import timedelta

from sandbox.server import Reply
from tests.support.harness import ALICE, BOB, CAROL, MEMBERSHIP, eventually
from tests.support.requests import approved, pending_request
from tests.support.slack import texts


def test_okta_rate_limit_then_success(bot, slack, okta):
    """Given Okta answers the membership write with 429, when Alice approves, then Latchkey waits
    for X-Rate-Limit-Reset, retries, and Carol ends up in the group once."""
    okta.rate_limit(times=1, path=MEMBERSHIP, reset_in=1)
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active", timeout=10)
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert len(okta.calls_to("PUT", MEMBERSHIP)) == 2  # the refused one and the retry
    assert len(okta.membership_writes()) == 1


def test_okta_outage_ends_in_failed_and_everyone_is_told(make_bot, slack, okta, clock):
    """Given Okta keeps answering 503, when approved, then after 3 rounds of retries the request
    is failed, Carol and the owners are told, and nothing is retried any more."""
    bot = make_bot(max_attempts=1).start()  # one try per call, so each round fails at once
    okta.fail(status=503, times=1000, path=MEMBERSHIP)
    request = approved(bot, slack)
    for attempt in (1, 2):  # each round is retried after a backoff; skip the wait
        eventually(lambda: bot.request(request.id).attempts == attempt)
        clock.advance(timedelta(minutes=10))
        bot.service.scheduler.wake_at(clock.now())
    eventually(lambda: bot.request(request.id).state == "failed")
    assert len(okta.calls_to("PUT", MEMBERSHIP)) == 3
    assert "503" in bot.request(request.id).last_error
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))
    eventually(lambda: "granting failed" in texts(slack.dm(BOB)))
    assert okta.members(okta.ids["eng-admins"]) == set()


def test_restart_across_expiry(bot, slack, okta, clock):
    """Given active access, when the bot is down while it expires, then it is revoked within
    seconds of start-up and Carol is told."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    bot.stop()
    clock.advance(timedelta(hours=5))
    bot.start()
    eventually(lambda: okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"]), timeout=5)
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))
    assert [c.method for c in okta.membership_writes()] == ["PUT", "DELETE"]


def test_revocation_happens_within_five_seconds_of_expiry(make_bot, slack, okta, clock):
    """Given the safety-net sweep is far off, then the timer set at the expiry alone removes the
    membership, less than 5 s after the expiry time."""
    bot = make_bot(sweep_seconds=3600).start()
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    expires_at = bot.request(request.id).expires_at
    clock.advance(expires_at - clock.now() - timedelta(seconds=1))  # one second before expiry
    bot.service.scheduler.wake_at(expires_at)  # the clock jumped: re-arm the timer from it
    eventually(lambda: bot.request(request.id).state == "revoked", timeout=6)
    lag = bot.request(request.id).revoked_at - expires_at
    assert timedelta(0) <= lag < timedelta(seconds=5), lag


def test_access_gained_meanwhile_is_never_revoked(bot, slack, okta, clock):
    """Given Carol is added to eng-admins in Okta after she asked, when her request is approved
    and expires, then Latchkey leaves her membership in place and tells her why."""
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    request = pending_request(bot, slack)
    okta.add_member(group, carol)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert bot.request(request.id).preexisting is True
    eventually(lambda: "already had it" in texts(slack.dm(CAROL)))
    clock.advance(timedelta(hours=5))
    eventually(lambda: bot.request(request.id).state == "revoked")
    assert carol in okta.members(group)
    assert okta.membership_writes() == []
    eventually(lambda: "stays in place" in texts(slack.dm(CAROL)))


def test_failing_revocation_keeps_trying_and_alerts_the_owners(bot, slack, okta, clock):
    """Given Okta refuses the removal, then Latchkey retries with backoff, alerts the owners
    after 3 failures, and removes the membership once Okta recovers."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    okta.fail(status=403, times=3, path=MEMBERSHIP, method="DELETE")
    clock.advance(timedelta(hours=5))
    for attempt in (1, 2, 3):
        eventually(lambda: bot.request(request.id).attempts == attempt)
        clock.advance(timedelta(minutes=15))
        bot.service.scheduler.wake_at(clock.now())
    eventually(lambda: "cannot remove" in texts(slack.dm(ALICE)))
    eventually(lambda: bot.request(request.id).state == "revoked")
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"])


def test_revocation_is_read_back_and_retried_when_the_access_is_still_there(bot, slack, okta, clock):
    """Given Okta answers the removal with 204 but keeps the membership once, then Latchkey notices
    on reading it back, retries, and only then calls the request revoked."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    okta.inject(lambda call: Reply(204), path=MEMBERSHIP, method="DELETE", times=1)  # says done, did nothing
    clock.advance(timedelta(hours=5))
    eventually(lambda: bot.request(request.id).attempts == 1)
    assert "still shows" in bot.request(request.id).last_error
    assert bot.request(request.id).state == "revoking"
    clock.advance(timedelta(minutes=15))
    bot.service.scheduler.wake_at(clock.now())
    eventually(lambda: bot.request(request.id).state == "revoked")
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"])


def test_access_that_comes_back_after_revocation_is_removed_and_reported(bot, slack, okta, clock):
    """Given revoked access that someone re-added in Okta, when the periodic read-back runs, then
    Latchkey removes it again and tells the owners."""
    import httpx

    from tests.support.harness import OKTA_TOKEN

    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    clock.advance(timedelta(hours=5))
    eventually(lambda: bot.request(request.id).state == "revoked")
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    httpx.put(f"{okta.url}/api/v1/groups/{group}/users/{carol}", headers={"Authorization": f"SSWS {OKTA_TOKEN}"})
    assert bot.service.lifecycle.verify_revocations() == [request.id]
    assert carol not in okta.members(group)
    eventually(lambda: "came back" in texts(slack.dm(ALICE)))
    assert bot.service.lifecycle.verify_revocations() == []

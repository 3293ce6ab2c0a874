"""Okta outages during grant and revoke: timeouts (answers slower than the client's `timeout`)
and 429 storms.  Bounded retries with backoff, then a visible failed state; a failing
revocation keeps retrying and alerts the owners until it succeeds; the requester and the owners
are always told; a write whose answer was lost is never made twice, and never left behind.

(tests/stories/test_provisioning.py covers a single 429, a 503 outage, a refused removal and a
removal Okta claims but does not make.)
"""

from __future__ import annotations

import itertools
import threading
import time
from datetime import timedelta

import pytest

from sandbox.okta import OktaError
from tests.resilience.support import build_bot
from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.requests import approved
from tests.support.slack import texts

MEMBERSHIP = r"/api/v1/groups/[^/]+/users/[^/]+"
TIMEOUT = 0.3  # the Okta client's timeout in these tests (the default is 10 s)


@pytest.fixture
def outage_bot(tmp_path, okta, slack, clock):
    """A started bot whose Okta client gives up on an answer after TIMEOUT, trying each call
    twice (so an outage round takes about a second)."""
    bot = build_bot(tmp_path, okta, slack, clock, okta_timeout=TIMEOUT, max_attempts=2).start()
    yield bot
    bot.stop()


class Recorder:
    """Okta calls as they arrive (method, path, monotonic time), answered by `answer(call)`."""

    def __init__(self, okta, answer, path: str = ".*", method: str = ".*") -> None:
        self.calls: list[tuple[str, str, float]] = []
        self._lock = threading.Lock()

        def hook(call):
            with self._lock:
                self.calls.append((call.method, call.path, time.monotonic()))
            return answer(call)

        okta.inject(hook, path=path, method=method, times=10**9)

    def gaps(self) -> list[float]:
        times = [t for _, _, t in self.calls]
        return [b - a for a, b in itertools.pairwise(times)]


def slow(okta, seconds: float):
    """An answer that takes `seconds`, after which Okta has done the work all the same."""
    def answer(call):
        time.sleep(seconds)
        return okta.route(call)
    return answer


def rate_limited(reset_in: int = 1):
    """Okta's 429 with X-Rate-Limit-Reset `reset_in` seconds ahead (as sandbox.okta.rate_limit)."""
    from email.utils import formatdate

    def answer(call):
        now = int(time.time())
        reply = OktaError(429, "E0000047").reply()
        reply.headers.update({"Date": formatdate(now, usegmt=True), "X-Rate-Limit-Limit": "600",
                              "X-Rate-Limit-Remaining": "0", "X-Rate-Limit-Reset": str(now + reset_in)})
        return reply
    return answer


def next_round(bot, clock, request_id: str, attempts: int) -> None:
    """Wait for the lifecycle's round `attempts` to fail, then skip its backoff."""
    eventually(lambda: bot.request(request_id).attempts >= attempts, timeout=15)
    clock.advance(timedelta(minutes=15))
    bot.service.scheduler.wake_at(clock.now())


def changes(okta, group: str, user: str) -> tuple[list[str], int]:
    """Membership writes that changed something, replayed from 'not a member', and repeats."""
    member, changed, repeats = False, [], 0
    for call in okta.membership_writes():
        if call.path != f"/api/v1/groups/{group}/users/{user}":
            continue
        if (call.method == "PUT") != member:
            changed.append(call.method)
            member = call.method == "PUT"
        else:
            repeats += 1
    return changed, repeats


# -- grant ----------------------------------------------------------------------------------------
def test_okta_timing_out_during_a_grant_ends_in_failed_and_everyone_is_told(outage_bot, slack, okta, clock):
    """Given every Okta answer takes longer than the client's timeout, when Alice approves, then
    each call is tried twice with backoff, the grant is retried for 3 rounds, and then the
    request is failed, Carol and the owners are told, and nothing was written."""
    bot = outage_bot
    recorder = Recorder(okta, slow(okta, TIMEOUT * 3))
    request = approved(bot, slack)
    for attempt in (1, 2):
        next_round(bot, clock, request.id, attempt)
    eventually(lambda: bot.request(request.id).state == "failed", timeout=15)
    assert "Timeout" in bot.request(request.id).last_error
    assert len(recorder.calls) == 3 * 2  # 3 rounds of one read, tried twice each
    assert min(recorder.gaps()[0::2]) >= 0.5 + TIMEOUT  # timeout, then backoff before the retry
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))
    eventually(lambda: "granting failed" in texts(slack.dm(BOB)))
    time.sleep(TIMEOUT * 4)  # the last slow answers arrive
    assert okta.membership_writes() == []
    assert bot.service.lifecycle.audit.has(request.id, "fail")


def test_a_grant_whose_answer_was_lost_is_made_once(outage_bot, slack, okta, clock):
    """Given Okta makes the membership but answers too late (the client timed out), when the
    grant is retried, then Latchkey sees the membership is there and writes nothing more: one
    write changed Okta; the request is active and Carol is told."""
    bot = outage_bot
    Recorder(okta, slow(okta, TIMEOUT * 3), path=MEMBERSHIP, method="PUT")
    request = approved(bot, slack)
    next_round(bot, clock, request.id, 1)
    eventually(lambda: bot.request(request.id).state == "active", timeout=15)
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    assert changes(okta, group, carol)[0] == ["PUT"]
    eventually(lambda: "You now have" in texts(slack.dm(CAROL)))


def refuse_twice_then(okta, last_round):
    """Membership PUTs: rounds 1 and 2 (two tries each) get a 503; round 3 gets `last_round`."""
    calls = [0]

    def answer(call):
        calls[0] += 1
        return OktaError(503, "E0000009").reply() if calls[0] <= 4 else last_round(call)

    Recorder(okta, answer, path=MEMBERSHIP, method="PUT")
    return calls


def test_a_grant_okta_made_although_it_answered_an_error_is_taken_back(outage_bot, slack, okta, clock):
    """Given Okta refuses the membership write for two rounds and in the last one makes it but
    answers 503 all the same, when Latchkey gives up on the grant, then it takes the membership
    back before it calls the request failed: nobody keeps access nobody granted."""
    bot = outage_bot

    def made_but_503(call):
        okta.route(call)
        return OktaError(503, "E0000009").reply()

    refuse_twice_then(okta, made_but_503)
    request = approved(bot, slack)
    for attempt in (1, 2):
        next_round(bot, clock, request.id, attempt)
    eventually(lambda: bot.request(request.id).state == "failed", timeout=15)
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    assert carol not in okta.members(group)
    assert changes(okta, group, carol)[0] == ["PUT", "DELETE"]
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))


def test_a_grant_that_lands_after_latchkey_gave_up_is_found_and_taken_back(outage_bot, slack, okta, clock):
    """Given Okta refuses the membership write for two rounds and in the last one makes it only
    after the client timed out, when Latchkey has given up (failed), then the read-back of
    recent revocations and failed grants finds the membership, removes it and tells the owners."""
    bot = outage_bot
    calls = refuse_twice_then(okta, slow(okta, TIMEOUT * 3))
    request = approved(bot, slack)
    for attempt in (1, 2):
        next_round(bot, clock, request.id, attempt)
    eventually(lambda: bot.request(request.id).state == "failed", timeout=15)
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    eventually(lambda: calls[0] == 6 and carol in okta.members(group), timeout=5)  # it landed
    assert bot.service.lifecycle.verify_revocations() == [request.id]
    assert carol not in okta.members(group)
    eventually(lambda: "gave up granting it" in texts(slack.dm(ALICE)))
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))
    assert bot.service.lifecycle.verify_revocations() == []


def test_a_429_storm_during_a_grant_is_waited_out_then_fails_visibly(outage_bot, slack, okta, clock):
    """Given Okta answers every call with 429 for a long time, when Alice approves, then
    Latchkey waits for X-Rate-Limit-Reset between tries, gives the grant up after 3 rounds and
    tells everyone; once the storm is over, nothing more is tried."""
    bot = outage_bot
    recorder = Recorder(okta, rate_limited(reset_in=1))
    request = approved(bot, slack)
    for attempt in (1, 2):
        next_round(bot, clock, request.id, attempt)
    eventually(lambda: bot.request(request.id).state == "failed", timeout=20)
    assert "429" in bot.request(request.id).last_error
    assert len(recorder.calls) == 3 * 2
    assert min(recorder.gaps()[0::2]) >= 0.9  # waited for the window to reset
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))
    eventually(lambda: "granting failed" in texts(slack.dm(ALICE)))
    with okta.lock:
        okta._faults.clear()  # the storm is over
    time.sleep(1)
    assert len(okta.calls_to("GET", r"/api/v1/users/[^/]+/groups")) == 6
    assert okta.membership_writes() == []


# -- revoke ---------------------------------------------------------------------------------------
def test_a_429_storm_during_a_revocation_alerts_the_owners_and_is_outlasted(outage_bot, slack, okta, clock):
    """Given active access, when Okta answers everything with 429 for three rounds of the
    revocation, then Latchkey keeps retrying with backoff, alerts the owners after the third
    failed round, and removes the membership (once) as soon as the storm is over."""
    bot = outage_bot
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    storm, refused = rate_limited(reset_in=1), [0]

    def answer(call):  # three rounds of two tries each are refused; then the storm is over
        refused[0] += 1
        return storm(call) if refused[0] <= 3 * 2 else okta.route(call)

    recorder = Recorder(okta, answer)
    clock.advance(timedelta(hours=5))
    for attempt in (1, 2, 3):
        next_round(bot, clock, request.id, attempt)
    eventually(lambda: "cannot remove" in texts(slack.dm(ALICE)))
    eventually(lambda: "cannot remove" in texts(slack.dm(BOB)))
    eventually(lambda: bot.request(request.id).state == "revoked", timeout=15)
    assert min(recorder.gaps()[0:6:2]) >= 0.9  # waited for the window to reset
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    assert changes(okta, group, carol) == (["PUT", "DELETE"], 0)
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))


def test_a_revocation_whose_answer_was_lost_is_made_once(outage_bot, slack, okta, clock):
    """Given Okta removes the membership but answers too late, when the revocation is retried,
    then Latchkey reads that it is gone and calls it revoked: one write changed Okta."""
    bot = outage_bot
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    Recorder(okta, slow(okta, TIMEOUT * 3), path=MEMBERSHIP, method="DELETE")
    clock.advance(timedelta(hours=5))
    next_round(bot, clock, request.id, 1)
    eventually(lambda: bot.request(request.id).state == "revoked", timeout=15)
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    assert changes(okta, group, carol)[0] == ["PUT", "DELETE"]
    assert carol not in okta.members(group)
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))

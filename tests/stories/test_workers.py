"""Grants and revocations run on the worker pool, not on the thread that took the click."""

from __future__ import annotations

import threading
from datetime import timedelta

from bot.usecases.core import LEASE
from bot.usecases.due import DUE_BATCH
from sandbox.server import Reply
from tests.support.harness import ALICE, CAROL, eventually
from tests.support.requests import pending_request
from tests.support.stored import stored_request


def test_approve_returns_while_okta_is_still_busy(bot, slack, okta):
    """Given Okta does not answer yet, when Alice's approval is counted, then approve() returns at
    once (the Slack listener thread is free again) and the grant follows once Okta answers."""
    request = pending_request(bot, slack)
    gate = threading.Event()
    okta.inject(lambda call: Reply(504) if not gate.wait(30) else okta.route(call),
                path=r"/api/v1/users/[^/]+/groups", times=1)
    approved = bot.service.lifecycle.approve(request.id, ALICE)
    assert approved.state == "approved"
    gate.set()
    eventually(lambda: bot.request(request.id).state == "active")
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])


def test_one_run_works_off_more_than_one_batch(make_bot, okta, clock):
    """Given more expired grants than one batch holds, when the worker runs once, then every one
    of them is revoked in that run."""
    bot = make_bot(sweep_seconds=3600).start()  # only the start-up sweep; this test runs the rest
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    okta.add_member(group, carol)
    now = clock.now()
    for n in range(2 * DUE_BATCH + 1):
        bot.service.lifecycle.requests.add(stored_request(
            now - timedelta(hours=2), id=f"old{n:03d}", requester=CAROL,
            requester_email="carol@acme.com", account_id=carol, entitlement_id=f"group:{group}:member",
            state="active", granted_at=now - timedelta(hours=2),
            expires_at=now - timedelta(minutes=n + 1), preexisting=False))
    bot.service.lifecycle.run_due()
    assert bot.service.lifecycle.queries.count_by_state().get("revoked") == 2 * DUE_BATCH + 1
    assert carol not in okta.members(group)


def _expired_grants(bot, okta, clock, count: int) -> list[str]:
    """`count` expired grants of eng-admins to different Okta users, in place in Okta."""
    group, now = okta.ids["eng-admins"], clock.now()
    ids = []
    for n in range(count):
        account = okta.add_user(f"abandoned{n}@acme.com")
        okta.add_member(group, account)
        ids.append(f"gone{n:03d}")
        bot.service.lifecycle.requests.add(stored_request(
            now - timedelta(hours=2), id=ids[-1], requester=f"U0GONE{n:03d}",
            requester_email=f"abandoned{n}@acme.com", account_id=account,
            entitlement_id=f"group:{group}:member", state="active", granted_at=now - timedelta(hours=2),
            expires_at=now - timedelta(minutes=n + 1), preexisting=False))
    return ids


def test_a_batch_claimed_by_a_worker_that_died_is_revoked_after_its_lease(make_bot, okta, clock):
    """Given a batch of expired grants claimed by a worker (another replica, say) that then died,
    when the worker runs, then it leaves them alone while the lease runs, and once it has run
    out revokes each exactly once, with one 'expire' and one 'finish' event each."""
    bot = make_bot(sweep_seconds=3600).start()  # only the start-up sweep; this test runs the rest
    lifecycle = bot.service.lifecycle
    ids = _expired_grants(bot, okta, clock, 3)
    died = lifecycle.due.claim_revocations(clock.now() + LEASE)  # the claim, then nothing
    assert sorted(r.id for r in died) == ids
    writes = len(okta.membership_writes())
    lifecycle.run_due()
    assert {lifecycle.queries.get(i).state for i in ids} == {"revoking"}
    assert len(okta.membership_writes()) == writes
    clock.advance(LEASE + timedelta(seconds=1))
    lifecycle.run_due()
    assert {lifecycle.queries.get(i).state for i in ids} == {"revoked"}
    assert [w.method for w in okta.membership_writes()[writes:]] == ["DELETE"] * 3
    for request_id in ids:
        assert [e.action for e in lifecycle.audit.events(request_id)] == ["expire", "finish"]

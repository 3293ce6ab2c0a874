"""A rule with `end_sessions` signs the holder out of Okta when the access ends, so a session
opened while they held it keeps nothing; without it (the default) their sessions stay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.support.harness import ALICE, CAROL, eventually
from tests.support.slack import request_access, texts


def _granted_then_expired(bot, slack, okta, clock, told: bool = True) -> str:
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    request_access(slack)
    eventually(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])
    slack.click(ALICE, "approve")
    # Granted in Okta first, then recorded as active: wait for both.
    request_id = eventually(lambda: bot.service.lifecycle.queries.in_states("active"))[0].id
    assert carol in okta.members(group)
    okta.sign_in(carol, tokens=2)  # she signs in while she holds the access
    clock.advance(timedelta(hours=4, seconds=1))
    eventually(lambda: carol not in okta.members(group))
    if told:
        eventually(lambda: "has ended" in texts(slack.dm(CAROL)))
    return request_id


@pytest.mark.parametrize("end_sessions, left", [
    (True, (0, 2)),  # her sessions end; her OAuth tokens stay
    ({"oauth_tokens": True}, (0, 0)),  # and her tokens are revoked too
])
def test_the_holder_is_signed_out_when_the_access_ends(make_bot, slack, okta, clock, end_sessions, left):
    """Given a rule with end_sessions, when Carol's access expires, then the membership is removed,
    her Okta sessions (and, if asked, tokens) are ended, she is told why, and the audit says so."""
    bot = make_bot(rules=[{"name": "admins", "match": {"resource": "eng-*"}, "end_sessions": end_sessions}]).start()
    request_id = _granted_then_expired(bot, slack, okta, clock)
    assert okta.signed_in(okta.ids["carol@acme.com"]) == left
    eventually(lambda: "signed out everywhere" in texts(slack.dm(CAROL)))
    finish, = [e for e in bot.service.lifecycle.audit.events(request_id) if e.action == "finish"]
    assert '"signed_out": true' in finish.detail


def test_sessions_stay_where_the_rule_does_not_ask(bot, slack, okta, clock):
    """Given the default rule (end_sessions off), when the access expires, then her sessions stay
    and nothing tells her she was signed out."""
    request_id = _granted_then_expired(bot, slack, okta, clock)
    assert okta.signed_in(okta.ids["carol@acme.com"]) == (1, 2)
    assert "signed out" not in texts(slack.dm(CAROL))
    finish, = [e for e in bot.service.lifecycle.audit.events(request_id) if e.action == "finish"]
    assert '"signed_out": false' in finish.detail


def test_sessions_that_cannot_be_ended_are_retried_like_the_revocation(make_bot, slack, okta, clock):
    """Given Okta refusing the sign-out once (the app lacked okta.users.manage, say), when the access expires, then the revocation is tried
    again and finishes with her signed out: the access is never recorded revoked with her
    sessions left open."""
    bot = make_bot(rules=[{"name": "admins", "match": {"resource": "eng-*"}, "end_sessions": True}]).start()
    okta.fail(403, times=1, path=f"/api/v1/users/{okta.ids['carol@acme.com']}/sessions", method="DELETE")
    request_id = _granted_then_expired(bot, slack, okta, clock, told=False)
    audit = bot.service.lifecycle.audit
    eventually(lambda: "revoke_retry" in [e.action for e in audit.events(request_id)])
    assert bot.service.lifecycle.queries.get(request_id).state == "revoking"  # not finished: she is still signed in
    assert okta.signed_in(okta.ids["carol@acme.com"]) == (1, 2)
    clock.advance(timedelta(minutes=1))
    eventually(lambda: bot.service.lifecycle.queries.get(request_id).state == "revoked", timeout=10)
    assert okta.signed_in(okta.ids["carol@acme.com"]) == (0, 2)

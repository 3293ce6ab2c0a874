"""The whole loop against an Okta org reached over OAuth alone: a service app's DPoP-bound
tokens, API tokens switched off in the sandbox, and Okta dropping the token halfway."""

from __future__ import annotations

from datetime import timedelta

from tests.support.harness import ALICE, CAROL, eventually
from tests.support.okta_oauth import oauth_entry, pem, public_jwk, rsa_key
from tests.support.slack import request_access, texts


def test_request_approve_grant_and_expire_over_oauth_and_dpop(make_bot, slack, okta, clock, monkeypatch):
    """Given an Okta org that refuses API tokens and a service app Latchkey signs in as, when
    Carol asks for eng-admins and Alice approves, then Carol is added, and at expiry removed;
    each time Okta has dropped the token before, Latchkey gets a new one and goes on."""
    okta.ssws_enabled = False
    app = okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")})
    monkeypatch.setenv("OKTA_PRIVATE_KEY", pem(rsa_key("app")))
    bot = make_bot(okta_auth=oauth_entry(app)).start()
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]

    request_access(slack)
    eventually(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])
    okta.oauth.expire_tokens()  # the token dies between the request and the approval
    slack.click(ALICE, "approve")
    eventually(lambda: carol in okta.members(group))
    eventually(lambda: "You now have" in texts(slack.dm(CAROL)))

    okta.oauth.expire_tokens()  # and again before the access ends
    clock.advance(timedelta(hours=4, seconds=1))
    eventually(lambda: carol not in okta.members(group))
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))

    request_id = bot.service.lifecycle.queries.in_states("revoked")[0].id
    assert [e.action for e in bot.service.lifecycle.audit.events(request_id)][-2:] == ["expire", "finish"]
    api_calls = [c for c in okta.calls if c.path.startswith("/api/")]
    assert api_calls and all(c.headers["authorization"].startswith("DPoP ") and c.headers.get("dpop")
                             for c in api_calls)
    assert okta.oauth.issued >= 3  # the first token, and one after each time Okta dropped it
    assert [c.method for c in okta.membership_writes()] == ["PUT", "DELETE"]


def test_the_key_is_rotated_in_okta_while_access_is_held(make_bot, slack, okta, clock, monkeypatch):
    """Given Latchkey configured with the app's current key and the next one, when the admin
    registers the next key in Okta and deletes the old one while Carol holds access (and Okta
    drops the token), then Latchkey signs in with the next key and revokes on time."""
    okta.ssws_enabled = False
    app = okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")})
    monkeypatch.setenv("OKTA_PRIVATE_KEY", pem(rsa_key("app")))
    monkeypatch.setenv("OKTA_NEXT_PRIVATE_KEY", pem(rsa_key("next")))
    bot = make_bot(okta_auth={"type": "oauth", "client_id": app, "keys": [
        {"key_id": "k1", "private_key": "${OKTA_PRIVATE_KEY}"},
        {"key_id": "k2", "private_key": "${OKTA_NEXT_PRIVATE_KEY}"}]}).start()
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    request_access(slack)
    eventually(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])
    slack.click(ALICE, "approve")
    # Granted in Okta first, then recorded as active (its expiry counted from then): wait for
    # both, or the clock may move before the expiry is set.
    eventually(lambda: bot.service.lifecycle.queries.in_states("active"))
    assert carol in okta.members(group)

    okta.add_app_key(app, "k2", public_jwk(rsa_key("next"), "k2"))  # the rotation, in Okta
    okta.remove_app_key(app, "k1")
    okta.oauth.expire_tokens()
    clock.advance(timedelta(hours=4, seconds=1))
    # Refused with the old key, then a token with the new one (and its DPoP nonce): more round
    # trips than a plain revocation, so a loaded machine gets longer.
    eventually(lambda: carol not in okta.members(group), timeout=15)
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)), timeout=15)
    assert bot.service.lifecycle.queries.in_states("revoked")

"""The Okta sandbox's authorization server and resource checks answer as Okta documents them:
private_key_jwt client assertions, DPoP proofs and nonces, the scopes an app was granted, the
scope each endpoint needs, and what a service app without an admin role sees.  Assertions and
proofs are built here by hand (tests/support/okta_oauth.py), not by Latchkey's client."""

from __future__ import annotations

import time

import httpx
import jwt
import pytest
from jwt.algorithms import ECAlgorithm

from sandbox.okta import OktaSandbox
from tests.support.okta_oauth import (
    ALL_SCOPES,
    READ_SCOPES,
    client_assertion,
    dpop_proof,
    ec_key,
    public_jwk,
    rsa_key,
    token_form,
)

KID = "key-2026-01"


@pytest.fixture
def okta():
    with OktaSandbox(page_size=3) as sandbox:
        sandbox.add_user("ada@acme.com")
        sandbox.add_group("Finance")
        yield sandbox


@pytest.fixture
def app(okta) -> str:
    return okta.add_service_app({KID: public_jwk(rsa_key("app"), KID)})


@pytest.fixture
def http(okta):
    with httpx.Client(base_url=okta.url) as client:
        yield client


@pytest.fixture
def proof_key():
    return ec_key()


def token_url(okta) -> str:
    return f"{okta.url}/oauth2/v1/token"


def ask_token(http, okta, app, proof_key, *, nonce=None, assertion=None, scopes=ALL_SCOPES, proof=...):
    assertion = assertion or client_assertion(rsa_key("app"), KID, app, token_url(okta))
    if proof is ...:
        proof = dpop_proof(proof_key, "POST", token_url(okta), nonce=nonce)
    headers = {"DPoP": proof} if proof else {}
    return http.post("/oauth2/v1/token", data=token_form(assertion, scopes), headers=headers)


def nonce_of(http, okta, app, proof_key) -> str:
    return ask_token(http, okta, app, proof_key).headers["DPoP-Nonce"]


def token_for(http, okta, app, proof_key, scopes=ALL_SCOPES) -> str:
    nonce = nonce_of(http, okta, app, proof_key)
    answer = ask_token(http, okta, app, proof_key, nonce=nonce, scopes=scopes)
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def resource(http, okta, token, proof_key, method="GET", path="/api/v1/groups", **proof_args):
    proof = dpop_proof(proof_key, proof_args.pop("htm", method),
                       proof_args.pop("htu", okta.url + path),
                       access_token=proof_args.pop("ath_of", token), **proof_args)
    return http.request(method, path, headers={"Authorization": f"DPoP {token}", "DPoP": proof})


def test_the_first_token_request_asks_for_a_nonce_and_the_second_gets_a_dpop_token(okta, app, http, proof_key):
    """Given a DPoP proof without a nonce, then Okta's 400 use_dpop_nonce with a DPoP-Nonce
    header; with that nonce, a DPoP token for an hour with the scopes asked for."""
    first = ask_token(http, okta, app, proof_key)
    assert first.status_code == 400
    assert first.json() == {"error": "use_dpop_nonce",
                            "error_description": "Authorization server requires nonce in DPoP proof."}
    second = ask_token(http, okta, app, proof_key, nonce=first.headers["DPoP-Nonce"])
    assert second.status_code == 200
    body = second.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == ("DPoP", 3600, " ".join(ALL_SCOPES))


def test_a_token_holds_only_the_asked_scopes_the_app_was_granted(okta, http, proof_key):
    """Given an app granted read scopes only, when it asks for read and manage scopes, then
    Okta issues the token all the same, with the read scopes alone."""
    reader = okta.add_service_app({KID: public_jwk(rsa_key("app"), KID)}, scopes=READ_SCOPES)
    nonce = nonce_of(http, okta, reader, proof_key)
    answer = ask_token(http, okta, reader, proof_key, nonce=nonce)
    assert answer.status_code == 200 and answer.json()["scope"].split() == list(READ_SCOPES)


def _assertion(case: str, okta, app: str) -> str:
    """A client assertion that is wrong in one way."""
    url, key = token_url(okta), rsa_key("app")
    if case == "signed with another key":
        return client_assertion(rsa_key("stranger"), KID, app, url)
    if case == "an unknown key id":
        return client_assertion(key, "other-kid", app, url)
    if case == "another audience":
        return client_assertion(key, KID, app, f"{okta.url}/oauth2/default/v1/token")
    if case == "expired":
        return client_assertion(key, KID, app, url, lifetime=-10)
    if case == "valid for two hours":
        return client_assertion(key, KID, app, url, lifetime=7200)
    assert case == "about another client"
    claims = jwt.decode(client_assertion(key, KID, app, url), options={"verify_signature": False})
    return jwt.encode({**claims, "sub": "0oaSomebodyElse"}, key, algorithm="RS256", headers={"kid": KID})


@pytest.mark.parametrize("case, description", [
    ("signed with another key", "The client_assertion signature is invalid."),
    ("an unknown key id", "The client_assertion signature is invalid."),
    ("another audience", "The audience claim for client_assertion must be the endpoint invoked for the request."),
    ("expired", "The client_assertion token is expired."),
    ("valid for two hours", "The client_assertion token has an expiration too far into the future."),
    ("about another client", "The client_assertion 'iss' and 'sub' claims must be the client_id."),
])
def test_a_bad_client_assertion_is_invalid_client(okta, app, http, proof_key, case, description):
    """Given a client assertion Okta must not trust, then 401 invalid_client saying why."""
    nonce = nonce_of(http, okta, app, proof_key)
    answer = ask_token(http, okta, app, proof_key, nonce=nonce, assertion=_assertion(case, okta, app))
    assert answer.status_code == 401
    assert answer.json() == {"error": "invalid_client", "error_description": description}


def test_a_replayed_client_assertion_is_refused(okta, app, http, proof_key):
    """Given a client assertion that already got a token, when it is sent again (with a new
    proof), then invalid_client: each assertion is good once."""
    assertion = client_assertion(rsa_key("app"), KID, app, token_url(okta))
    nonce = nonce_of(http, okta, app, proof_key)
    assert ask_token(http, okta, app, proof_key, nonce=nonce, assertion=assertion).status_code == 200
    again = ask_token(http, okta, app, proof_key, nonce=nonce, assertion=assertion)
    assert again.status_code == 401 and again.json()["error"] == "invalid_client"


def test_a_rotated_key_works_once_registered_and_the_old_one_stops_when_removed(okta, app, http, proof_key):
    """Given the app's key and a second one registered, then both sign; once the first is
    removed from the app, only the second does."""
    okta.add_app_key(app, "key-2026-07", public_jwk(rsa_key("next"), "key-2026-07"))
    nonce = nonce_of(http, okta, app, proof_key)
    new = client_assertion(rsa_key("next"), "key-2026-07", app, token_url(okta))
    assert ask_token(http, okta, app, proof_key, nonce=nonce, assertion=new).status_code == 200
    okta.remove_app_key(app, KID)
    old = client_assertion(rsa_key("app"), KID, app, token_url(okta))
    assert ask_token(http, okta, app, proof_key, nonce=nonce, assertion=old).status_code == 401


@pytest.mark.parametrize("change, description", [
    ({"method": "GET"}, "The DPoP proof 'htm' claim must be POST."),
    ({"url": "https://elsewhere.example/oauth2/v1/token"}, "'htu' claim must be"),
    ({"iat_shift": -600}, "'iat' claim is too far from now"),
    ({"private_jwk": True}, "'jwk' header must be a public key"),
])
def test_a_bad_dpop_proof_at_the_token_endpoint_is_invalid_dpop_proof(okta, app, http, proof_key, change, description):
    """Given a token request whose proof was made for another method or URL, long ago, or
    that carries the private key, then 400 invalid_dpop_proof saying why."""
    nonce = nonce_of(http, okta, app, proof_key)
    jwk = ECAlgorithm.to_jwk(proof_key, as_dict=True) if change.get("private_jwk") else None
    proof = dpop_proof(proof_key, change.get("method", "POST"), change.get("url", token_url(okta)),
                       nonce=nonce, iat=time.time() + change.get("iat_shift", 0), jwk=jwk)
    answer = ask_token(http, okta, app, proof_key, proof=proof)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_dpop_proof"
    assert description in answer.json()["error_description"]


def test_a_replayed_proof_and_a_missing_proof_are_refused(okta, app, http, proof_key):
    """Given a proof already used, or none at all for an app that requires DPoP, then 400
    invalid_dpop_proof; a proof without the nonce gets the nonce challenge instead."""
    nonce = nonce_of(http, okta, app, proof_key)
    proof = dpop_proof(proof_key, "POST", token_url(okta), nonce=nonce)
    assert ask_token(http, okta, app, proof_key, proof=proof).status_code == 200
    replayed = ask_token(http, okta, app, proof_key, proof=proof)
    missing = ask_token(http, okta, app, proof_key, proof=None)
    no_nonce = ask_token(http, okta, app, proof_key)
    assert replayed.json()["error"] == missing.json()["error"] == "invalid_dpop_proof"
    assert missing.json()["error_description"] == "The DPoP proof JWT header is missing."
    assert no_nonce.json()["error"] == "use_dpop_nonce" and no_nonce.headers["DPoP-Nonce"] == nonce


def test_an_app_that_does_not_require_dpop_gets_a_bearer_token_without_a_proof(okta, http, proof_key):
    bearer_app = okta.add_service_app({KID: public_jwk(rsa_key("app"), KID)}, require_dpop=False)
    answer = ask_token(http, okta, bearer_app, proof_key, proof=None)
    assert answer.status_code == 200 and answer.json()["token_type"] == "Bearer"
    token = answer.json()["access_token"]
    assert http.get("/api/v1/groups", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_a_resource_call_with_a_good_proof_is_answered(okta, app, http, proof_key):
    token = token_for(http, okta, app, proof_key)
    answer = resource(http, okta, token, proof_key)
    assert answer.status_code == 200 and [g["profile"]["name"] for g in answer.json()] == ["Finance"]


@pytest.mark.parametrize("change, description", [
    ({"htm": "POST"}, "'htm' claim must be GET"),
    ({"htu": "http://127.0.0.1:1/api/v1/groups"}, "'htu' claim must be"),
    ({"ath_of": "some-other-token"}, "'ath' claim does not match"),
])
def test_a_bad_proof_on_a_resource_call_is_401_invalid_dpop_proof(okta, app, http, proof_key, change, description):
    """Given a proof for another method, URL or token, then 401 with Okta's error body and a
    DPoP challenge naming invalid_dpop_proof."""
    token = token_for(http, okta, app, proof_key)
    answer = resource(http, okta, token, proof_key, **change)
    assert answer.status_code == 401 and answer.json()["errorCode"] == "E0000011"
    challenge = answer.headers["WWW-Authenticate"]
    assert challenge.startswith("DPoP algs=") and 'error="invalid_dpop_proof"' in challenge
    assert description in challenge


def test_a_proof_is_good_once_and_only_from_the_bound_key(okta, app, http, proof_key):
    token = token_for(http, okta, app, proof_key)
    proof = dpop_proof(proof_key, "GET", okta.url + "/api/v1/groups", access_token=token)
    headers = {"Authorization": f"DPoP {token}", "DPoP": proof}
    assert http.get("/api/v1/groups", headers=headers).status_code == 200
    assert http.get("/api/v1/groups", headers=headers).status_code == 401  # jti replayed
    stolen = resource(http, okta, token, ec_key())  # a valid proof, by somebody else's key
    as_bearer = http.get("/api/v1/groups", headers={"Authorization": f"Bearer {token}"})
    assert stolen.status_code == as_bearer.status_code == 401


def test_a_missing_scope_is_403_insufficient_scope_as_okta_sends_it(okta, app, http, proof_key):
    """Given a token without okta.groups.manage, when it adds a member, then 403 with no body
    and Okta's challenge naming the scope the endpoint needs."""
    token = token_for(http, okta, app, proof_key, scopes=READ_SCOPES)
    group = okta.add_group("Ops")
    user = okta.add_user("bo@acme.com")
    answer = resource(http, okta, token, proof_key, "PUT", f"/api/v1/groups/{group}/users/{user}")
    assert answer.status_code == 403 and answer.content == b""
    challenge = answer.headers["WWW-Authenticate"]
    assert f'realm="{okta.url}"' in challenge and 'scope="okta.groups.manage"' in challenge
    assert 'error="insufficient_scope"' in challenge
    assert 'error_description="The access token provided does not contain the required scopes."' in challenge
    assert okta.members(group) == set()


def test_an_expired_token_is_401_invalid_token(okta, app, http, proof_key):
    okta.oauth.token_lifetime = 1
    token = token_for(http, okta, app, proof_key)
    okta.oauth.clock = lambda: time.time() + 2
    answer = resource(http, okta, token, proof_key)
    assert answer.status_code == 401 and answer.json()["errorCode"] == "E0000011"
    assert 'error="invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_required_resource_nonce_is_asked_for_with_a_401(okta, app, http, proof_key):
    """Given the resource side requires a nonce (RFC 9449 §9), then a proof without it gets
    401 use_dpop_nonce with a DPoP-Nonce header, and one with it is answered."""
    okta.oauth.require_resource_nonce = True
    token = token_for(http, okta, app, proof_key)
    challenged = resource(http, okta, token, proof_key)
    assert challenged.status_code == 401 and 'error="use_dpop_nonce"' in challenged.headers["WWW-Authenticate"]
    answered = resource(http, okta, token, proof_key, nonce=challenged.headers["DPoP-Nonce"])
    assert answered.status_code == 200


def test_an_app_without_an_admin_role_sees_no_users_and_is_refused_the_rest(okta, http, proof_key):
    """Given a service app holding no admin role, then the user list is 200 and empty (as Okta
    answers it), other reads are 403 E0000006, and it may still read its own (empty) roles."""
    lonely = okta.add_service_app({KID: public_jwk(rsa_key("app"), KID)}, roles=())
    token = token_for(http, okta, lonely, proof_key)
    users = resource(http, okta, token, proof_key, path="/api/v1/users")
    groups = resource(http, okta, token, proof_key, path="/api/v1/groups")
    own_roles = resource(http, okta, token, proof_key, path=f"/oauth2/v1/clients/{lonely}/roles")
    assert (users.status_code, users.json()) == (200, [])
    assert groups.status_code == 403 and groups.json()["errorCode"] == "E0000006"
    assert (own_roles.status_code, own_roles.json()) == (200, [])


def test_an_app_reads_its_own_admin_roles(okta, app, http, proof_key):
    token = token_for(http, okta, app, proof_key)
    roles = resource(http, okta, token, proof_key, path=f"/oauth2/v1/clients/{app}/roles").json()
    assert [(r["type"], r["assignmentType"], r["status"]) for r in roles] == [("SUPER_ADMIN", "CLIENT", "ACTIVE")]


def test_ssws_can_be_switched_off(okta, http):
    headers = {"Authorization": "SSWS okta-test-token"}
    assert http.get("/api/v1/groups", headers=headers).status_code == 200
    okta.ssws_enabled = False
    refused = http.get("/api/v1/groups", headers=headers)
    assert refused.status_code == 401 and refused.json()["errorCode"] == "E0000011"


def test_ending_a_users_sessions_needs_okta_users_manage(okta, app, http, proof_key):
    """Given a token with only the read scopes, when it ends a user's sessions, then 403 naming
    okta.users.manage, and the sessions stay."""
    user = okta.add_user("bo@acme.com")
    okta.sign_in(user)
    token = token_for(http, okta, app, proof_key, scopes=READ_SCOPES)
    answer = resource(http, okta, token, proof_key, "DELETE", f"/api/v1/users/{user}/sessions")
    assert answer.status_code == 403 and 'scope="okta.users.manage"' in answer.headers["WWW-Authenticate"]
    assert okta.signed_in(user) == (1, 0)

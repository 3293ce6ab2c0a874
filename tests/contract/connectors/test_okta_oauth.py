"""The Okta client over OAuth 2.0 for a service app, against the sandbox: a private_key_jwt
token with the DPoP nonce dance, a DPoP proof on every call, tokens cached and renewed once
(also under concurrency), a refused token renewed and the call retried once, key rotation in
either order, and nothing secret in a repr or an error."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import jwt
import pytest

from connectors.base import PermissionDeniedError
from connectors.okta.app_keys import load_app_key
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.oauth import OktaOAuth
from connectors.okta.oauth_capabilities import DEFAULT_SCOPES
from sandbox.okta import OktaSandbox
from sandbox.server import Reply
from tests.support.connectors import MAX_ATTEMPTS, drain, error_texts
from tests.support.okta_oauth import READ_SCOPES, pem, private_jwk_text, public_jwk, rsa_key

TOKEN_CALLS = "/oauth2/v1/token"


class Clock:
    """The client's monotonic clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    with OktaSandbox(page_size=2) as sandbox:
        sandbox.ssws_enabled = False
        for name in ("Finance", "Legal", "Ops"):
            sandbox.add_group(name)
        sandbox.add_user("ada@acme.com")
        yield sandbox


@pytest.fixture
def app(okta) -> str:
    return okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def connect(okta, app, clock, waits):
    """An Okta client for the app, with these keys (key id → key name) and options."""
    opened: list[OktaClient] = []

    def build(keys=(("k1", "app"),), client_id=None, **options) -> OktaClient:
        app_keys = [load_app_key(pem(rsa_key(name)), kid) for kid, name in keys]
        auth = OktaOAuth(okta.url, client_id or app, app_keys, options.pop("scopes", DEFAULT_SCOPES),
                         clock=clock, **options)
        client = OktaClient(okta.url, auth, max_attempts=MAX_ATTEMPTS, sleep=waits.append)
        opened.append(client)
        return client

    yield build
    for client in opened:
        client.close()


def group_names(client: OktaClient) -> list[str]:
    return sorted(g["profile"]["name"] for g in drain_groups(client))


def drain_groups(client: OktaClient) -> list[dict]:
    groups, cursor = [], None
    while True:
        page, cursor = client.list_groups(cursor)
        groups += page
        if cursor is None:
            return groups


def test_the_client_gets_a_dpop_token_after_the_nonce_dance_and_proves_every_call(okta, connect):
    """Given a service app that requires DPoP, when the client lists groups over two pages,
    then it asked for a token twice (the nonce dance) and got one, and each call carried
    `Authorization: DPoP` and a proof of its own."""
    client = connect()
    assert group_names(client) == ["Finance", "Legal", "Ops"]
    token_calls = okta.calls_to("POST", TOKEN_CALLS)
    assert [c.headers.get("dpop") is not None for c in token_calls] == [True, True]
    assert okta.oauth.issued == 1
    calls = okta.calls_to("GET", "/api/v1/groups")
    assert len(calls) == 2 and all(c.headers["authorization"].startswith("DPoP ") for c in calls)
    assert len({c.headers["dpop"] for c in calls}) == 2


def test_a_token_is_cached_and_renewed_shortly_before_it_expires(okta, connect, clock):
    """Given tokens that last 600 s, then calls within the first 540 s share one token, and a
    call after that (a minute before expiry) gets a new one first."""
    okta.oauth.token_lifetime = 600
    client = connect()
    client.get_group(okta_group(client))
    clock.now += 539
    client.list_groups()
    assert okta.oauth.issued == 1
    clock.now += 2
    client.list_groups()
    assert okta.oauth.issued == 2


def okta_group(client: OktaClient) -> str:
    return client.list_groups()[0][0]["id"]


def test_eight_threads_at_expiry_make_one_token_request(okta, connect, clock):
    """Given 8 threads calling at once while the token endpoint is slow, first with no token
    and then with an expired one, then each time exactly one token is fetched."""
    client = connect()
    for round_ in (1, 2):
        okta.inject(slowly(okta), path=TOKEN_CALLS, times=2)
        start = threading.Barrier(8)
        errors: list[BaseException] = []

        def call():
            start.wait()
            try:
                client.list_groups()
            except BaseException as exc:  # surfaced by the assertion below
                errors.append(exc)

        threads = [threading.Thread(target=call) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert errors == [] and okta.oauth.issued == round_
        clock.now += 3600


def slowly(okta: OktaSandbox):
    """A token endpoint that takes 0.3 s to answer, so the callers' requests overlap."""
    def answer(call):
        time.sleep(0.3)
        return okta.route(call)
    return answer


def test_a_refused_token_is_renewed_once_and_the_call_retried(okta, connect):
    """Given Okta forgets the token (expired early), then the next call gets a 401, fetches a
    new token and succeeds; given Okta refuses every token, the call fails after one retry."""
    client = connect()
    client.list_groups()
    okta.oauth.expire_tokens()
    assert client.list_groups()[0]
    assert okta.oauth.issued == 2
    okta.inject(lambda call: Reply.json(401, {"errorCode": "E0000011", "errorSummary": "Invalid token provided"}),
                path="/api/v1/groups", times=100)
    before = len(okta.calls_to("GET", "/api/v1/groups"))
    with pytest.raises(PermissionDeniedError, match="401 E0000011"):
        client.list_groups()
    assert len(okta.calls_to("GET", "/api/v1/groups")) - before == 2 and okta.oauth.issued == 3


def test_a_resource_nonce_challenge_is_answered(okta, connect):
    okta.oauth.require_resource_nonce = True
    client = connect()
    assert group_names(client) == ["Finance", "Legal", "Ops"]
    calls = okta.calls_to("GET", "/api/v1/groups")
    assert len(calls) == 3  # the challenged call, its retry with the nonce, the second page


def test_keys_rotate_the_new_one_listed_second(okta, app, connect):
    """Given keys [old, new] both registered, then the old one signs; once Okta drops the old
    key, the next token is signed by the new one, and the old is not tried again."""
    okta.add_app_key(app, "k2", public_jwk(rsa_key("next"), "k2"))
    client = connect(keys=(("k1", "app"), ("k2", "next")))
    client.list_groups()
    okta.remove_app_key(app, "k1")
    okta.oauth.expire_tokens()
    client.list_groups()
    okta.oauth.expire_tokens()
    client.list_groups()
    signed_by = [jwt.get_unverified_header(httpx.QueryParams(c.body.decode())["client_assertion"])["kid"]
                 for c in okta.calls_to("POST", TOKEN_CALLS)]
    assert okta.oauth.issued == 3
    assert signed_by == ["k1", "k1",  # the nonce dance
                         "k1", "k2",  # the old key refused, the new one accepted
                         "k2"]  # the new key from then on


def test_keys_rotate_the_new_one_listed_first_before_okta_knows_it(okta, app, connect):
    """Given keys [new, old] where Okta knows only the old one yet, then calls work (the new
    key is refused, the old one used)."""
    client = connect(keys=(("k2", "next"), ("k1", "app")))
    assert group_names(client) == ["Finance", "Legal", "Ops"]
    assert client.oauth.key_in_use.key_id == "k1"


def test_a_key_okta_does_not_know_fails_clearly_without_showing_the_key(okta, connect):
    client = connect(keys=(("k1", "stranger"),))
    texts = error_texts([client.list_groups])
    assert any("Okta refused the client assertion" in t and "key 'k1'" in t and
               "The client_assertion signature is invalid." in t for t in texts)
    secret_line = pem(rsa_key("stranger")).splitlines()[3]
    assert not any(secret_line in t for t in texts)
    assert not any(secret_line in repr(x) for x in (client, client.transport, client.oauth))


def test_a_missing_scope_fails_naming_the_scope(okta, connect):
    """Given a token without okta.groups.manage, when adding a member, then the error says
    insufficient_scope and names the scope the endpoint needs."""
    client = connect(scopes=READ_SCOPES)
    group, user = okta_group(client), okta.add_user("bo@acme.com")
    with pytest.raises(PermissionDeniedError, match=r"403 insufficient_scope: .* \(needs okta.groups.manage\)"):
        client.add_member(group, user)


def test_a_bearer_token_is_sent_as_bearer_without_a_proof(okta, connect):
    """Given an app that does not require DPoP and a client with dpop off, then tokens are
    Bearer tokens and calls carry no DPoP header."""
    bearer_app = okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")}, require_dpop=False)
    client = connect(client_id=bearer_app, dpop=False)
    client.list_groups()
    [call] = okta.calls_to("GET", "/api/v1/groups")
    assert call.headers["authorization"].startswith("Bearer ") and "dpop" not in call.headers


def test_a_jwk_key_works_as_well_as_pem(okta, app, connect):
    auth = OktaOAuth(okta.url, app, [load_app_key(private_jwk_text(rsa_key("app"), "k1"))], DEFAULT_SCOPES)
    client = OktaClient(okta.url, auth)
    try:
        assert client.list_groups()[0]
    finally:
        client.close()


def test_an_app_without_an_admin_role_fails_the_account_sync(okta, connect):
    """Given an app with no admin role, Okta shows it no users; listing accounts is then a
    refusal that says why, never an empty org."""
    lonely = okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")}, roles=())
    connector = OktaConnector(connect(client_id=lonely))
    with pytest.raises(PermissionDeniedError, match="sees no users: it probably has no admin role"):
        drain(connector.list_accounts)


def test_a_refused_network_call_for_a_token_is_retried(okta, connect, waits):
    """Given the token endpoint answers 503 twice, then the call is retried like any other."""
    okta.fail(503, times=2, path=TOKEN_CALLS)
    client = connect()
    assert client.list_groups()[0] and len(waits) == 2


def test_the_token_request_is_form_encoded_with_a_client_assertion(okta, app, connect):
    connect().list_groups()
    call = okta.calls_to("POST", TOKEN_CALLS)[-1]
    form = httpx.QueryParams(call.body.decode())
    assert form["grant_type"] == "client_credentials" and form["scope"] == " ".join(DEFAULT_SCOPES)
    assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_every_client_of_the_process_proves_with_the_one_dpop_key(okta, connect):
    """Given two clients (two connectors, or one rebuilt at a reload), then every proof they
    send carries the same public key, and never a private member."""
    connect().list_groups()
    connect().list_groups()
    keys = [jwt.get_unverified_header(c.headers["dpop"])["jwk"] for c in okta.calls if "dpop" in c.headers]
    assert len(keys) == 6 and all(key == keys[0] for key in keys) and "d" not in keys[0]

"""The Celigo connector against the Celigo sandbox over real HTTP: sync every page, grant and
revoke an account role by read-modify-write that restores exactly the prior record, retry
429/5xx as Celigo asks, and report what the token may not do."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator

import httpx
import pytest

from connectors.base import (
    ConnectorError,
    GrantOutcome,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    Prior,
    RateLimitedError,
    Resource,
    RevokeOutcome,
    TransientError,
)
from connectors.celigo.client import CeligoClient, celigo_base_url
from connectors.celigo.connector import CeligoConnector
from connectors.http import FIRST_BACKOFF, RATE_LIMIT_JITTER
from sandbox.celigo import CeligoSandbox
from sandbox.server import Reply
from tests.support.connectors import MAX_ATTEMPTS, drain, error_texts, url_with_no_listener

TOKEN = "celigo-admin-secret-3c8e1f"  # distinctive, so a leak into a message is easy to spot
READ_ONLY = "celigo-read-only-secret-9d2a7b"
NO_USERS = "celigo-no-users-secret-5e6f40"
PAGE = 3
SHARE = r"/v1/ashares/[^/]+"
ADMIN_ROLE = "role:administrator:assigned"
SHARE_KEYS = ("ada", "bob", "dan", "olga", "pending", "off", "user0", "user1")
INTEGRATIONS = 7


@pytest.fixture
def celigo() -> Iterator[CeligoSandbox]:
    tokens = {TOKEN: "admin", READ_ONLY: "read_only", NO_USERS: "no_users"}
    with CeligoSandbox(page_size=PAGE, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def org(celigo: CeligoSandbox) -> dict[str, str]:
    """8 shares (monitor, admin, manage, integration-only, pending, disabled, 2 more) and
    7 integrations; Ada has manage on Orders, Olga (integration-only) monitor on Orders."""
    ids = {"ada": celigo.add_share("Ada@Example.com", "Ada Lovelace", "monitor",
                                   accountMFARequired=True, allowToEditRetryData=True),
           "bob": celigo.add_share("bob@example.com", "Bob", "administrator"),
           "dan": celigo.add_share("dan@example.com", "Dan", "manage"),
           "olga": celigo.add_share("olga@example.com", "Olga", None),
           "pending": celigo.add_share("new@example.com", accepted=False),
           "off": celigo.add_share("off@example.com", "Off", disabled=True)}
    ids |= {f"user{i}": celigo.add_share(f"user{i}@example.com") for i in range(2)}
    ids["orders"] = celigo.add_integration("Orders", "NetSuite orders",
                                           access={ids["ada"]: "manage", ids["olga"]: "monitor"})
    ids |= {f"int{i}": celigo.add_integration(f"Integration {i}") for i in range(6)}
    return ids


def make_connector(celigo: CeligoSandbox, waits: list[float],
                   token: str = TOKEN) -> CeligoConnector:
    client = CeligoClient(celigo.url, token, max_attempts=MAX_ATTEMPTS, sleep=waits.append)
    return CeligoConnector(client)


@pytest.fixture
def connector(celigo, waits, closing) -> CeligoConnector:
    return closing(make_connector(celigo, waits))


def resource(connector: CeligoConnector, type: str, resource_id: str) -> Resource:
    found = drain(lambda cursor: connector.list_resources(type, cursor))
    return next(r for r in found if r.id == resource_id)


def without_timestamp(share: dict) -> dict:
    return {key: value for key, value in share.items() if key != "lastModified"}


# -- sync ---------------------------------------------------------------------------------------
def test_accounts_sync_every_page_in_the_fewest_calls(celigo, org, connector):
    """Given 8 shares and page size 3, when draining accounts, then 3 calls bring all 8 with lower-cased emails and active flags."""
    accounts = {a.id: a for a in drain(connector.list_accounts)}
    assert len(celigo.calls_to("GET", "/v1/ashares")) == math.ceil(len(SHARE_KEYS) / PAGE)
    assert set(accounts) == {org[key] for key in SHARE_KEYS}
    ada = accounts[org["ada"]]
    assert (ada.email, ada.display_name, ada.active) == ("ada@example.com", "Ada Lovelace", True)
    assert [accounts[org[k]].active for k in ("pending", "off", "olga")] == [False, False, True]


def test_integrations_and_their_access_sync_every_page(celigo, org, connector):
    """Given 7 integrations and 8 shares, when draining integrations and Orders' grants, then 3 + 3 calls bring them all as sync-only entitlements."""
    integrations = drain(lambda cursor: connector.list_resources("integration", cursor))
    assert len(integrations) == INTEGRATIONS
    assert len(celigo.calls_to("GET", "/v1/integrations")) == math.ceil(INTEGRATIONS / PAGE)
    orders = next(r for r in integrations if r.id == org["orders"])
    assert (orders.name, orders.description) == ("Orders", "NetSuite orders")
    grants = drain(lambda cursor: connector.list_grants(orders, cursor))
    assert len(celigo.calls_to("GET", "/v1/ashares")) == math.ceil(len(SHARE_KEYS) / PAGE)
    assert {(g.entitlement_id, g.account_id) for g in grants} == {
        (f"integration:{org['orders']}:manage", org["ada"]),
        (f"integration:{org['orders']}:monitor", org["olga"])}
    entitlements = connector.list_entitlements(orders)
    assert [e.slug for e in entitlements] == ["manage", "monitor"]
    assert not any(e.requestable or e.provisionable for e in entitlements)


def test_roles_are_three_fixed_resources_with_grants_from_shares(celigo, org, connector):
    """Given one administrator, when listing roles and the administrator grants, then 3 roles come without a call and Bob holds administrator."""
    roles = drain(lambda cursor: connector.list_resources("role", cursor))
    assert [r.id for r in roles] == ["administrator", "manage", "monitor"] and not celigo.calls
    [entitlement] = connector.list_entitlements(roles[0])
    assert (entitlement.id, entitlement.requestable, entitlement.provisionable) == (
        ADMIN_ROLE, True, True)
    grants = drain(lambda cursor: connector.list_grants(roles[0], cursor))
    assert [(g.entitlement_id, g.account_id) for g in grants] == [(ADMIN_ROLE, org["bob"])]


def test_find_account_ignores_case_and_reads_later_pages(org, connector):
    """Given Ada on page 1 and user1 on page 3, when searching in other cases or for a stranger, then the match is exact."""
    assert connector.find_account("ADA@example.COM").id == org["ada"]
    assert connector.find_account("User1@Example.com").id == org["user1"]
    assert connector.find_account("nobody@example.com") is None


# -- grant and revoke ---------------------------------------------------------------------------
@pytest.mark.parametrize("who, previous", [("ada", "monitor"), ("olga", None)])
def test_grant_then_revoke_restores_the_exact_prior_record(celigo, org, connector, who, previous):
    """Given a monitor or integration-only user with per-integration access, when granting then revoking administrator, then the whole record is as before."""
    before = celigo.share(org[who])
    prior = connector.prior(ADMIN_ROLE, org[who])
    assert (prior.held, json.loads(prior.detail)) == (False, {"accessLevel": previous})
    assert connector.grant(ADMIN_ROLE, org[who]) is GrantOutcome.GRANTED
    during = celigo.share(org[who])
    assert during["accessLevel"] == "administrator"
    assert {k: v for k, v in without_timestamp(during).items() if k != "accessLevel"} == {
        k: v for k, v in without_timestamp(before).items() if k != "accessLevel"}
    assert connector.revoke(ADMIN_ROLE, org[who], prior) is RevokeOutcome.REVOKED
    assert without_timestamp(celigo.share(org[who])) == without_timestamp(before)


def test_prior_is_held_when_the_user_has_that_exact_role(org, connector):
    """Given Bob is an administrator, when reading prior for administrator and for monitor, then only the first is held."""
    assert connector.prior(ADMIN_ROLE, org["bob"]).held
    assert not connector.prior("role:monitor:assigned", org["bob"]).held
    assert connector.has_grant(ADMIN_ROLE, org["bob"])


def test_repeated_grant_and_revoke_are_already_done(celigo, org, connector):
    """Given a grant, when granting twice and revoking twice, then the repeats are ALREADY_* and write nothing."""
    user = org["user0"]
    prior = connector.prior(ADMIN_ROLE, user)
    outcomes = [connector.grant(ADMIN_ROLE, user), connector.grant(ADMIN_ROLE, user),
                connector.revoke(ADMIN_ROLE, user, prior), connector.revoke(ADMIN_ROLE, user, prior)]
    assert outcomes == [GrantOutcome.GRANTED, GrantOutcome.ALREADY_GRANTED,
                        RevokeOutcome.REVOKED, RevokeOutcome.ALREADY_REVOKED]
    assert len(celigo.share_writes()) == 2 and celigo.share(user)["accessLevel"] == "monitor"


def test_a_grant_never_lowers_access(celigo, org, connector):
    """Given Dan has manage, when granting monitor, then ALREADY_GRANTED and nothing is written."""
    assert connector.grant("role:monitor:assigned", org["dan"]) is GrantOutcome.ALREADY_GRANTED
    assert celigo.share(org["dan"])["accessLevel"] == "manage" and celigo.share_writes() == []


def test_revoke_leaves_a_level_someone_else_changed_since(celigo, org, connector):
    """Given an admin grant that someone then changed to manage in Celigo, when revoking, then ALREADY_REVOKED and manage stays."""
    prior = connector.prior(ADMIN_ROLE, org["ada"])
    connector.grant(ADMIN_ROLE, org["ada"])
    changed = {**celigo.share(org["ada"]), "accessLevel": "manage"}
    with httpx.Client(base_url=celigo.url, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        assert http.put(f"/v1/ashares/{org['ada']}", json=changed).status_code == 204
    assert connector.revoke(ADMIN_ROLE, org["ada"], prior) is RevokeOutcome.ALREADY_REVOKED
    assert celigo.share(org["ada"])["accessLevel"] == "manage"
    assert len(celigo.share_writes()) == 2  # our grant and the change by hand, nothing after


@pytest.mark.parametrize("detail", [None, "", "{}", '{"accessLevel": "owner"}', "not json"])
def test_revoke_without_a_usable_prior_refuses_to_guess(celigo, org, connector, detail):
    """Given a granted role and a missing or bad Prior.detail, when revoking, then InvalidRequestError and the role stays."""
    connector.grant(ADMIN_ROLE, org["ada"])
    with pytest.raises(InvalidRequestError, match="Prior.detail"):
        connector.revoke(ADMIN_ROLE, org["ada"], Prior(held=False, detail=detail))
    assert celigo.share(org["ada"])["accessLevel"] == "administrator"


@pytest.mark.parametrize("entitlement", [
    "integration:{orders}:manage", "role:owner:assigned", "role:administrator:member",
    "group:g1:member", "role:administrator", "role::assigned"])
def test_sync_only_and_unknown_entitlements_are_invalid(celigo, org, connector, entitlement):
    """Given an integration entitlement or a malformed/unknown id, when granting or revoking, then InvalidRequestError and no write."""
    entitlement = entitlement.format(orders=org["orders"])
    held = Prior(held=False, detail=json.dumps({"accessLevel": "monitor"}))
    with pytest.raises(InvalidRequestError):
        connector.grant(entitlement, org["ada"])
    with pytest.raises(InvalidRequestError):
        connector.revoke(entitlement, org["ada"], held)
    assert celigo.share_writes() == []


def test_unknown_account_is_not_found(org, connector):
    """Given a share id Celigo does not know, when granting or revoking, then NotFoundError."""
    prior = Prior(held=False, detail=json.dumps({"accessLevel": "monitor"}))
    with pytest.raises(NotFoundError):
        connector.grant(ADMIN_ROLE, "65f0000000000000000000ff")
    with pytest.raises(NotFoundError):
        connector.revoke(ADMIN_ROLE, "65f0000000000000000000ff", prior)


# -- pagination and retries ---------------------------------------------------------------------
def test_next_link_is_followed_on_our_own_host_only(celigo, org, connector):
    """Given a next link naming another host, when paging, then page 2 is asked of the sandbox with that query."""
    foreign = '<https://elsewhere.example/v1/ashares?skip=3&limit=1000>; rel="next"'
    celigo.inject(lambda _call: Reply.json(200, [], {"Link": foreign}), path="/v1/ashares")
    first = connector.list_accounts()
    second = connector.list_accounts(first.next_cursor)
    assert first.next_cursor == "skip=3&limit=1000" and len(second.items) == PAGE
    assert celigo.calls_to("GET", "/v1/ashares")[1].query == {"skip": ["3"], "limit": ["1000"]}


def test_next_link_to_another_path_is_refused(celigo, org, connector):
    """Given a next link to a different endpoint, when paging, then ConnectorError instead of wandering."""
    celigo.inject(lambda _call: Reply.json(200, [], {"Link": '</v1/flows?skip=3>; rel="next"'}),
                  path="/v1/ashares")
    with pytest.raises(ConnectorError, match="next link"):
        connector.list_accounts()


def test_429_waits_retry_after_then_succeeds(celigo, org, connector, waits):
    """Given one 429 with Retry-After 2, when listing accounts, then the client waits 2 s (+ jitter) and gets the page."""
    celigo.rate_limit(times=1, path="/v1/ashares", retry_after=2)
    page = connector.list_accounts()
    assert len(page.items) == PAGE and len(celigo.calls_to("GET", "/v1/ashares")) == 2
    assert len(waits) == 1 and 2 <= waits[0] <= 2 + RATE_LIMIT_JITTER


def test_5xx_then_success_backs_off(celigo, org, connector, waits):
    """Given one 503 on the share PUT, when granting, then the client backs off once and the grant lands."""
    celigo.fail(503, path=SHARE, method="PUT")
    assert connector.grant(ADMIN_ROLE, org["ada"]) is GrantOutcome.GRANTED
    assert celigo.share(org["ada"])["accessLevel"] == "administrator"
    assert len(waits) == 1 and FIRST_BACKOFF <= waits[0] <= FIRST_BACKOFF * 1.25


def test_persistent_5xx_gives_up_after_max_attempts(celigo, org, connector, waits):
    """Given a PUT that always fails with 500, when granting, then TransientError after exactly max_attempts PUTs with growing waits."""
    before = celigo.share(org["ada"])
    celigo.fail(500, times=100, path=SHARE, method="PUT")
    with pytest.raises(TransientError, match="server_error"):
        connector.grant(ADMIN_ROLE, org["ada"])
    assert len(celigo.calls_to("PUT", SHARE)) == MAX_ATTEMPTS
    assert len(waits) == MAX_ATTEMPTS - 1 and waits == sorted(waits)
    assert celigo.share(org["ada"]) == before


def test_persistent_429_raises_rate_limited_with_retry_after(celigo, org, connector):
    """Given a list that is always rate limited, when listing, then RateLimitedError carries Celigo's Retry-After."""
    celigo.rate_limit(times=100, path="/v1/integrations", retry_after=7)
    with pytest.raises(RateLimitedError) as raised:
        connector.list_resources("integration")
    assert raised.value.retry_after == 7
    assert len(celigo.calls_to("GET", "/v1/integrations")) == MAX_ATTEMPTS


def test_network_errors_are_transient_after_retries(waits):
    """Given nothing listening on the port, when listing, then TransientError after max_attempts tries."""
    client = CeligoClient(url_with_no_listener(), TOKEN, max_attempts=MAX_ATTEMPTS,
                          sleep=waits.append)
    with pytest.raises(TransientError, match="GET /v1/ashares"):
        client.list_shares()
    client.close()
    assert len(waits) == MAX_ATTEMPTS - 1


# -- permissions, capabilities and secrets ------------------------------------------------------
def test_read_only_token_cannot_grant(celigo, org, waits):
    """Given a token that may not change users, when granting, then PermissionDeniedError, no retry, and the share unchanged."""
    connector = make_connector(celigo, waits, READ_ONLY)
    with pytest.raises(PermissionDeniedError, match="403"):
        connector.grant(ADMIN_ROLE, org["ada"])
    assert celigo.share(org["ada"])["accessLevel"] == "monitor"
    assert celigo.share_writes() == [] and waits == []
    connector.close()


def test_capabilities_follow_the_token(celigo, org, waits):
    """Given admin, read-only and no-users tokens, when asking capabilities, then each says what it can sync and provision and why not."""
    found = {}
    for token in (TOKEN, READ_ONLY, NO_USERS):
        connector = make_connector(celigo, waits, token)
        found[token] = {(c.action, c.subject): c for c in connector.capabilities()}
        connector.close()
    available = {token: {key for key, c in caps.items() if c.available}
                 for token, caps in found.items()}
    users, integrations = ("sync", "users and account roles"), (
        "sync", "integrations and per-integration access")
    roles, per_integration = ("provision", "account roles (access level)"), (
        "provision", "per-integration access")
    assert available == {TOKEN: {users, integrations, roles}, READ_ONLY: {users, integrations},
                         NO_USERS: set()}
    assert "Full access" in found[READ_ONLY][roles].reason
    assert "permission denied" in found[NO_USERS][users].reason
    assert "403" in found[NO_USERS][users].reason
    assert "sync-only" in found[TOKEN][per_integration].reason
    assert all(c.reason for caps in found.values() for c in caps.values() if not c.available)



@pytest.mark.parametrize("path", ["/v1/ashares", "/v1/integrations", "/v1/tokenInfo"])
def test_an_outage_while_probing_is_an_error_not_a_missing_capability(celigo, org, connector, path):
    """Given one probed call answering 503 on every try, when asking capabilities, then TransientError, not an unavailable capability."""
    celigo.fail(503, times=MAX_ATTEMPTS, path=path)
    with pytest.raises(TransientError):
        connector.capabilities()


def test_token_never_appears_in_errors_or_logs(celigo, org, waits, caplog):
    """Given every kind of failure, when each is raised, then no token appears in messages, causes or logs."""
    caplog.set_level(logging.DEBUG)
    bad_token = "celigo-wrong-secret-77aa"
    wrong, read_only, full = (make_connector(celigo, waits, token)
                              for token in (bad_token, READ_ONLY, TOKEN))
    celigo.fail(502, times=MAX_ATTEMPTS, path="/v1/integrations")
    celigo.rate_limit(times=MAX_ATTEMPTS, path=f"/v1/ashares/{org['dan']}")
    failures = [
        wrong.list_accounts,
        lambda: read_only.grant(ADMIN_ROLE, org["ada"]),
        lambda: full.grant(ADMIN_ROLE, "65f0000000000000000000ff"),
        lambda: full.list_resources("integration"),
        lambda: full.has_grant(ADMIN_ROLE, org["dan"]),
        lambda: full.revoke(ADMIN_ROLE, org["ada"], Prior(held=False)),
    ]
    texts = error_texts(failures)
    texts += [c.reason for c in wrong.capabilities() + read_only.capabilities()]
    texts.append(caplog.text)
    for connector in (wrong, read_only, full):
        connector.close()
    assert not [t for t in texts if TOKEN in t or READ_ONLY in t or bad_token in t]
    assert "retrying" in caplog.text  # the retries were logged, just without secrets


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize("region, base_url, url", [
    ("us", None, "https://api.integrator.io"),
    ("eu", None, "https://api.eu.integrator.io"),
    (" EU ", None, "https://api.eu.integrator.io"),
    ("au", None, "https://api.au.integrator.io"),
    ("ca", None, "https://api.ca.integrator.io"),
    ("eu", "http://127.0.0.1:9000/", "http://127.0.0.1:9000"),
])
def test_celigo_base_url_per_region_or_override(region, base_url, url):
    """Given a region and an optional override, when resolving, then the region's host or the override origin comes back."""
    assert celigo_base_url(region, base_url) == url


@pytest.mark.parametrize("region, base_url, problem", [
    ("apac", None, "region"),
    ("us", "https://api.integrator.io/v1", "origin only"),
    ("us", "https://admin:hunter2@api.integrator.io", "user info"),
    ("us", "ftp://api.integrator.io", "scheme"),
    ("us", "https://api.integrator.io:99999", "ort"),
])
def test_celigo_base_url_rejects_unknown_regions_and_odd_urls(region, base_url, problem):
    """Given an unknown region or an override with a path, credentials, odd scheme or bad port, when resolving, then ValueError names it."""
    with pytest.raises(ValueError, match=problem) as raised:
        celigo_base_url(region, base_url)
    assert "hunter2" not in str(raised.value)


def test_eu_client_talks_to_the_override_host(celigo, org, waits):
    """Given region eu with a sandbox override, when listing accounts, then the sandbox answers."""
    client = CeligoClient(celigo_base_url("eu", celigo.url), TOKEN, sleep=waits.append)
    assert len(CeligoConnector(client).list_accounts().items) == PAGE
    client.close()

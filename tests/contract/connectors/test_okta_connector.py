"""The Okta connector against the Okta sandbox over real HTTP: sync page by page, find accounts,
grant and revoke idempotently, retry 429/5xx as Okta asks, and map refusals to our errors."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest

from connectors.base import (
    GrantOutcome,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    Resource,
    RevokeOutcome,
    TransientError,
)
from connectors.http import FIRST_BACKOFF, RATE_LIMIT_JITTER
from connectors.okta.client import OktaClient, okta_base_url
from connectors.okta.connector import OktaConnector
from sandbox.okta import OktaSandbox
from tests.support.connectors import MAX_ATTEMPTS, NOTHING_HELD, drain, error_texts, url_with_no_listener

TOKEN = "okta-super-secret-4f9a2c"  # distinctive, so a leak into a message is easy to spot
READ_ONLY = "okta-read-only-secret-7b1e0d"
PAGE = 3
MEMBERSHIP = r"/api/v1/groups/[^/]+/users/[^/]+"
USERS = ["ada", "user0", "user1", "user2", "user3", "user4", "suspended", "gone"]


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    tokens = {TOKEN: "super_admin", READ_ONLY: "read_only"}
    with OktaSandbox(page_size=PAGE, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def org(okta: OktaSandbox) -> dict[str, str]:
    """8 users (one suspended, one deprovisioned) and 7 groups; Engineering has all 8 members."""
    ids = {"ada": okta.add_user("Ada@Example.com", "Ada", "Lovelace")}
    ids |= {f"user{i}": okta.add_user(f"user{i}@example.com") for i in range(5)}
    ids["suspended"] = okta.add_user("sus@example.com", status="SUSPENDED")
    ids["gone"] = okta.add_user("gone@example.com", status="DEPROVISIONED")
    ids["eng"] = okta.add_group("Engineering", description="Everyone who ships")
    ids |= {name: okta.add_group(name) for name in ("Finance", "Legal", "Ops")}
    ids["app"] = okta.add_group("Salesforce Users", type="APP_GROUP")
    ids["everyone"] = okta.add_group("Everyone", type="BUILT_IN")
    ids["empty"] = okta.add_group("Empty")
    for key in USERS:
        okta.add_member(ids["eng"], ids[key])
    return ids


def make_connector(okta: OktaSandbox, waits: list[float], token: str = TOKEN) -> OktaConnector:
    return OktaConnector(OktaClient(okta.url, token, max_attempts=MAX_ATTEMPTS, sleep=waits.append))


@pytest.fixture
def connector(okta, waits, closing) -> OktaConnector:
    return closing(make_connector(okta, waits))


def all_groups(connector: OktaConnector) -> list[Resource]:
    return drain(lambda cursor: connector.list_resources("group", cursor))


def member_of(group_id: str) -> str:
    return f"group:{group_id}:member"


# -- sync ---------------------------------------------------------------------------------------
def test_list_accounts_reads_every_status_in_the_fewest_pages(okta, org, connector):
    """Given 8 users incl. deprovisioned and page size 3, when draining accounts, then 3 calls bring all 8 with the right active flags."""
    accounts = drain(connector.list_accounts)
    calls = okta.calls_to("GET", "/api/v1/users")
    assert len(calls) == math.ceil(8 / PAGE)
    assert all(call.arg("search") == "status pr" for call in calls)
    by_id = {a.id: a for a in accounts}
    assert len(accounts) == len(by_id) and set(by_id) == {org[key] for key in USERS}
    ada = by_id[org["ada"]]
    assert (ada.email, ada.display_name) == ("ada@example.com", "Ada Lovelace")
    assert [by_id[org[k]].active for k in ("ada", "suspended", "gone")] == [True, False, False]


def test_groups_and_members_sync_in_the_fewest_pages(okta, org, connector):
    """Given 7 groups and 8 members in Engineering, when draining groups and grants, then 3 + 3 calls bring them all."""
    groups = all_groups(connector)
    eng = next(g for g in groups if g.id == org["eng"])
    grants = drain(lambda cursor: connector.list_grants(eng, cursor))
    assert len(groups) == 7
    assert len(okta.calls_to("GET", "/api/v1/groups")) == math.ceil(7 / PAGE)
    assert len(okta.calls_to("GET", f"/api/v1/groups/{org['eng']}/users")) == math.ceil(8 / PAGE)
    assert (eng.name, eng.description, eng.attributes) == ("Engineering", "Everyone who ships",
                                                           {"okta_type": "OKTA_GROUP"})
    assert {g.account_id for g in grants} == okta.members(org["eng"])
    assert {g.entitlement_id for g in grants} == {member_of(org["eng"])}


def test_only_okta_groups_are_requestable(org, connector):
    """Given OKTA_GROUP, APP_GROUP and BUILT_IN groups, when listing entitlements, then only OKTA_GROUP membership is requestable."""
    groups = {g.id: g for g in all_groups(connector)}
    requestable = {g.attributes["okta_type"]: connector.list_entitlements(g)[0].requestable
                   for g in groups.values()}
    assert requestable == {"OKTA_GROUP": True, "APP_GROUP": False, "BUILT_IN": False}
    [eng] = connector.list_entitlements(groups[org["eng"]])
    assert (eng.id, eng.slug, eng.display_name) == (member_of(org["eng"]), "member", "Engineering")


def test_find_account_ignores_case_and_returns_none_when_absent(okta, org, connector):
    """Given Ada@Example.com, when searching in other cases, for a stranger, or a quoted email, then the match is exact."""
    quoted = okta.add_user('o"brien@example.com')
    assert connector.find_account("ADA@example.COM").id == org["ada"]
    assert connector.find_account("nobody@example.com") is None
    assert connector.find_account('O"Brien@example.com').id == quoted


# -- grant and revoke ---------------------------------------------------------------------------
def test_grant_then_revoke_changes_membership(okta, org, connector):
    """Given Ada outside Finance, when granting then revoking, then the sandbox membership follows."""
    finance = member_of(org["Finance"])
    assert connector.grant(finance, org["ada"]) is GrantOutcome.GRANTED
    assert okta.members(org["Finance"]) == {org["ada"]} and connector.has_grant(finance, org["ada"])
    assert connector.revoke(finance, org["ada"], NOTHING_HELD) is RevokeOutcome.REVOKED
    assert okta.members(org["Finance"]) == set() and not connector.has_grant(finance, org["ada"])


def test_repeated_grant_and_revoke_are_already_done(okta, org, connector):
    """Given a grant, when granting twice and revoking twice, then the repeats are ALREADY_* and write nothing."""
    legal = member_of(org["Legal"])
    outcomes = [connector.grant(legal, org["ada"]), connector.grant(legal, org["ada"]),
                connector.revoke(legal, org["ada"], NOTHING_HELD), connector.revoke(legal, org["ada"], NOTHING_HELD)]
    assert outcomes == [GrantOutcome.GRANTED, GrantOutcome.ALREADY_GRANTED,
                        RevokeOutcome.REVOKED, RevokeOutcome.ALREADY_REVOKED]
    assert [c.method for c in okta.membership_writes()] == ["PUT", "DELETE"]


def test_has_grant_walks_the_users_group_pages(okta, org, connector):
    """Given Ada in 5 groups and page size 3, when checking the last one, then it is found on page 2."""
    for key in ("Finance", "Legal", "Ops", "empty"):
        okta.add_member(org[key], org["ada"])
    assert connector.has_grant(member_of(org["empty"]), org["ada"])
    assert len(okta.calls_to("GET", f"/api/v1/users/{org['ada']}/groups")) == 2


@pytest.mark.parametrize("entitlement", ["app", "everyone"])
def test_granting_an_app_or_built_in_group_is_invalid(okta, org, connector, entitlement):
    """Given an APP_GROUP/BUILT_IN group, when granting it, then Okta's 400 becomes InvalidRequestError and nothing changes."""
    with pytest.raises(InvalidRequestError, match="E0000001"):
        connector.grant(member_of(org[entitlement]), org["user0"])
    assert okta.members(org[entitlement]) == set()


@pytest.mark.parametrize("entitlement", [
    "group:00g1:owner", "device:0oa1:access", "app:0oa1:member", "role:NOT_A_ROLE:assigned",
    "role:SUPER_ADMIN:member", "group:00g1", "nonsense", "group::member"])
def test_unknown_entitlement_ids_are_invalid(org, connector, entitlement):
    """Given an entitlement id of no known type, slug or role, when granting or revoking, then InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        connector.grant(entitlement, org["ada"])
    with pytest.raises(InvalidRequestError):
        connector.revoke(entitlement, org["ada"], NOTHING_HELD)


def test_unknown_group_or_user_is_not_found(org, connector):
    """Given a missing group or user, when granting or revoking, then NotFoundError."""
    with pytest.raises(NotFoundError):
        connector.grant(member_of("00gmissing"), org["ada"])
    with pytest.raises(NotFoundError):
        connector.revoke(member_of(org["eng"]), "00umissing", NOTHING_HELD)


def test_revoke_404_means_already_revoked_only_while_group_and_user_exist(okta, org, connector):
    """Given a DELETE answered 404, when the group still exists then ALREADY_REVOKED, and when it is gone then NotFoundError."""
    okta.fail(404, path=MEMBERSHIP, method="DELETE")
    assert connector.revoke(member_of(org["eng"]), org["ada"], NOTHING_HELD) is RevokeOutcome.ALREADY_REVOKED
    okta.fail(404, path=MEMBERSHIP, method="DELETE")
    okta.fail(404, path=f"/api/v1/groups/{org['eng']}", method="GET")
    with pytest.raises(NotFoundError):
        connector.revoke(member_of(org["eng"]), org["user0"], NOTHING_HELD)


# -- retries ------------------------------------------------------------------------------------
def test_429_waits_until_oktas_reset_then_succeeds(okta, org, connector, waits):
    """Given one 429 resetting in 2 s, when listing accounts, then the client waits Reset − Date (+ jitter) and gets the page."""
    okta.rate_limit(times=1, path="/api/v1/users", reset_in=2)
    page = connector.list_accounts()
    assert len(page.items) == PAGE and len(okta.calls_to("GET", "/api/v1/users")) == 2
    assert len(waits) == 1 and 2 <= waits[0] <= 2 + RATE_LIMIT_JITTER


def test_5xx_then_success_backs_off(okta, org, connector, waits):
    """Given one 503 on a grant, when granting, then the client backs off once and the grant lands."""
    okta.fail(503, path=MEMBERSHIP, method="PUT")
    assert connector.grant(member_of(org["Ops"]), org["ada"]) is GrantOutcome.GRANTED
    assert okta.members(org["Ops"]) == {org["ada"]}
    assert len(waits) == 1 and FIRST_BACKOFF <= waits[0] <= FIRST_BACKOFF * 1.25


def test_persistent_5xx_gives_up_after_max_attempts(okta, org, connector, waits):
    """Given a PUT that always fails with 500, when granting, then TransientError after exactly max_attempts PUTs with growing waits."""
    okta.fail(500, times=100, path=MEMBERSHIP, method="PUT")
    with pytest.raises(TransientError, match="E0000009"):
        connector.grant(member_of(org["Ops"]), org["ada"])
    assert len(okta.calls_to("PUT", MEMBERSHIP)) == MAX_ATTEMPTS
    assert len(waits) == MAX_ATTEMPTS - 1 and waits == sorted(waits)
    assert okta.members(org["Ops"]) == set()


def test_persistent_429_raises_rate_limited_with_retry_after(okta, org, connector, waits):
    """Given a list that is always rate limited, when listing, then RateLimitedError carries Okta's reset delay."""
    okta.rate_limit(times=100, path="/api/v1/groups", reset_in=7)
    with pytest.raises(RateLimitedError) as raised:
        connector.list_resources("group")
    assert raised.value.retry_after == 7
    assert len(okta.calls_to("GET", "/api/v1/groups")) == MAX_ATTEMPTS


def test_network_errors_are_transient_after_retries(waits):
    """Given nothing listening on the port, when listing, then TransientError after max_attempts tries."""
    client = OktaClient(url_with_no_listener(), TOKEN, max_attempts=MAX_ATTEMPTS,
                        sleep=waits.append)
    with pytest.raises(TransientError, match="GET /api/v1/users"):
        client.list_users()
    client.close()
    assert len(waits) == MAX_ATTEMPTS - 1


# -- permissions and secrets --------------------------------------------------------------------
def test_read_only_token_cannot_grant(okta, org, waits):
    """Given a read-only token, when granting, then PermissionDeniedError, no retry, and membership unchanged."""
    connector = make_connector(okta, waits, READ_ONLY)
    with pytest.raises(PermissionDeniedError, match="E0000006"):
        connector.grant(member_of(org["Finance"]), org["ada"])
    assert okta.members(org["Finance"]) == set() and okta.membership_writes() == [] and waits == []
    connector.close()


def test_token_never_appears_in_errors_or_logs(okta, org, waits, caplog):
    """Given every kind of failure, when each is raised, then no token appears in messages, causes or logs."""
    caplog.set_level(logging.DEBUG)
    bad_token = "okta-wrong-secret-55aa"
    wrong, read_only, full = (make_connector(okta, waits, t) for t in (bad_token, READ_ONLY, TOKEN))
    okta.fail(502, times=MAX_ATTEMPTS, path="/api/v1/groups")
    okta.rate_limit(times=MAX_ATTEMPTS, path=f"/api/v1/users/{org['user4']}/groups")
    failures = [
        wrong.list_accounts,
        lambda: read_only.grant(member_of(org["Finance"]), org["ada"]),
        lambda: full.grant(member_of(org["app"]), org["ada"]),
        lambda: full.revoke(member_of("00gmissing"), "00umissing", NOTHING_HELD),
        lambda: full.list_resources("group"),
        lambda: full.has_grant(member_of(org["eng"]), org["user4"]),
        lambda: full.list_resources("device"),
    ]
    texts = error_texts(failures)
    texts.append(caplog.text)
    for connector in (wrong, read_only, full):
        connector.close()
    assert not [t for t in texts if TOKEN in t or READ_ONLY in t or bad_token in t]
    assert "retrying" in caplog.text  # the retries were logged, just without secrets


# -- configuration ------------------------------------------------------------------------------
@pytest.mark.parametrize("domain, url", [
    ("acme.okta.com", "https://acme.okta.com"),
    (" acme.okta.com/ ", "https://acme.okta.com"),
    ("https://acme.okta.com/", "https://acme.okta.com"),
    ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
])
def test_okta_base_url_accepts_domains_and_urls(domain, url):
    """Given a bare domain or a URL, when normalising, then https is added and a trailing slash dropped."""
    assert okta_base_url(domain) == url


@pytest.mark.parametrize("domain, problem", [
    ("", "empty"),
    ("acme.okta.com/api/v1", "path"),
    ("https://acme.okta.com?x=1", "query"),
    ("https://admin:hunter2@acme.okta.com", "user info"),
    ("ftp://acme.okta.com", "scheme"),
    ("acme.okta.com:99999", "ort"),
])
def test_okta_base_url_rejects_what_would_redirect_requests(domain, problem):
    """Given a domain with a path, query, credentials, odd scheme or bad port, when normalising, then ValueError names it."""
    with pytest.raises(ValueError, match=problem) as raised:
        okta_base_url(domain)
    assert "hunter2" not in str(raised.value)


@pytest.mark.parametrize("oauth_tokens, left", [(False, (0, 2)), (True, (0, 0))])
def test_end_sessions_signs_the_user_out(okta, org, connector, oauth_tokens, left):
    """Given Ada signed in with two OAuth tokens, when the connector ends her sessions, then
    Okta holds none of her sessions, and her tokens only when asked to revoke them too."""
    okta.sign_in(org["ada"], tokens=2)
    connector.end_sessions(org["ada"], oauth_tokens)
    assert okta.signed_in(org["ada"]) == left


def test_end_sessions_for_a_read_only_token_is_permission_denied(okta, org, waits, closing):
    okta.sign_in(org["ada"])
    reader = closing(make_connector(okta, waits, token=READ_ONLY))
    with pytest.raises(PermissionDeniedError):
        reader.end_sessions(org["ada"], False)
    assert okta.signed_in(org["ada"]) == (1, 0)

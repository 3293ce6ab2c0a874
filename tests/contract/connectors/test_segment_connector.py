"""The Segment connector against the Segment sandbox over real HTTP: sync every list to its end,
grant and revoke one (role, resource) pair or one membership and nothing else, retry 429/5xx as
Segment asks, and report a token that lacks a permission."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest

from connectors.base import (
    ConnectorError,
    GrantOutcome,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    Resource,
    RevokeOutcome,
    TransientError,
    entitlement_id,
)
from connectors.http import FIRST_BACKOFF, RATE_LIMIT_JITTER
from connectors.segment.client import SegmentClient
from connectors.segment.connector import SegmentConnector, group_principal
from sandbox.segment import SegmentSandbox
from sandbox.server import Reply
from tests.support.connectors import MAX_ATTEMPTS, NOTHING_HELD, drain, error_texts, url_with_no_listener

TOKEN = "sgp_owner-secret-3c9d1e"  # distinctive, so a leak into a message is easy to spot
READ_ONLY = "sgp_read-only-secret-8f2a7b"
PAGE = 3
USERS = ["ada", "bob", *(f"user{i}" for i in range(6))]
GROUPS = ["eng", "Finance", "Legal", "Ops", "Sales", "Support", "Empty"]
SOURCES = ["ios", "android", "web", "server", "odd", "s5", "s6"]
ODD_SOURCE_ID = "src:odd/id%20"  # a colon, a slash and a percent sign
PERMISSIONS_PUT = r"/(users|groups)/[^/]+/permissions"


@pytest.fixture
def segment() -> Iterator[SegmentSandbox]:
    tokens = {TOKEN: "workspace_owner", READ_ONLY: "read_only"}
    with SegmentSandbox(page_size=PAGE, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def ws(segment: SegmentSandbox) -> dict[str, str]:
    """8 users, 7 groups (Engineering has all 8), 7 roles (2 for sources), 7 sources; Ada holds a
    labelled workspace role and Source roles on three sources; Engineering holds one too."""
    ids = {"ada": segment.add_user("Ada@Example.com", "Ada Lovelace"),
           "bob": segment.add_user("bob@example.com", "Bob")}
    ids |= {f"user{i}": segment.add_user(f"user{i}@example.com") for i in range(6)}
    ids["eng"] = segment.add_group("Engineering")
    ids |= {name: segment.add_group(name) for name in GROUPS[1:]}
    for key in USERS:
        segment.add_member(ids["eng"], ids[key])
    ids["owner"] = segment.add_role("Workspace Owner", "Full access")
    ids["admin"] = segment.add_role("Source Admin", "Edit access to assigned sources")
    ids["reader"] = segment.add_role("Source Read-only", "Read access to assigned sources")
    ids["plans"] = segment.add_role("Tracking Plan Read-only")
    for name in ("Minimal Workspace Access", "Engage Admin", "Warehouse Admin"):
        segment.add_role(name)
    ids |= {key: segment.add_source(key.upper()) for key in SOURCES if key != "odd"}
    ids["odd"] = segment.add_source("Odd", source_id=ODD_SOURCE_ID)
    segment.set_permissions(ids["ada"], [
        {"roleId": ids["plans"], "resources": [{"id": segment.workspace["id"], "type": "WORKSPACE",
                                                "labels": [{"key": "env", "value": "prod"}]}]},
        {"roleId": ids["admin"], "resources": [source(ids, "ios"), source(ids, "android")]},
        {"roleId": ids["reader"], "resources": [source(ids, "web")]}])
    segment.set_permissions(ids["eng"], [
        {"roleId": ids["reader"], "resources": [source(ids, "ios")]}])
    return ids


def make_connector(segment: SegmentSandbox, waits: list[float],
                   token: str = TOKEN) -> SegmentConnector:
    client = SegmentClient(segment.url, token, max_attempts=MAX_ATTEMPTS, sleep=waits.append)
    return SegmentConnector(client)


@pytest.fixture
def connector(segment, waits, closing) -> SegmentConnector:
    return closing(make_connector(segment, waits))


def source(ids: dict[str, str], key: str) -> dict:
    return {"id": ids[key], "type": "SOURCE"}


def resources(connector: SegmentConnector, resource_type: str) -> dict[str, Resource]:
    return {r.id: r for r in drain(lambda cursor: connector.list_resources(resource_type, cursor))}


def role_on(ids: dict[str, str], role: str, key: str) -> str:
    return entitlement_id("source", ids[key], "role", ids[role])


def member_of(group_id: str) -> str:
    return entitlement_id("group", group_id, "member")


def calls(segment: SegmentSandbox, path: str) -> int:
    return len(segment.calls_to("GET", path))


# -- sync ---------------------------------------------------------------------------------------
def test_accounts_sync_in_the_fewest_pages(segment, ws, connector):
    """Given 8 users and page size 3, when draining accounts, then 3 calls bring all 8 with lower-cased emails."""
    accounts = {a.id: a for a in drain(connector.list_accounts)}
    assert calls(segment, "/users") == math.ceil(8 / PAGE)
    assert set(accounts) == {ws[key] for key in USERS}
    ada = accounts[ws["ada"]]
    assert (ada.email, ada.display_name, ada.active) == ("ada@example.com", "Ada Lovelace", True)
    assert accounts[ws["user0"]].display_name == "user0@example.com"


def test_a_page_of_up_to_1000_is_asked_for_and_served_in_one_call(waits):
    """Given 250 users and page_size 1000 (Segment's documented maximum), when listing accounts, then one call with pagination[count]=1000 brings all 250."""
    with SegmentSandbox(page_size=1000, tokens={TOKEN: "workspace_owner"}) as big:
        for i in range(250):
            big.add_user(f"person{i}@example.com")
        client = SegmentClient(big.url, TOKEN, page_size=1000, sleep=waits.append)
        page = SegmentConnector(client).list_accounts()
        client.close()
        asked = big.calls_to("GET", "/users")
    assert (len(page.items), page.next_cursor) == (250, None)
    assert [call.arg("pagination[count]") for call in asked] == ["1000"]


def test_catalog_sync_reads_every_list_to_its_end_in_the_fewest_calls(segment, ws, connector):
    """Given many-page lists, when syncing every resource, entitlement and grant, then each list is read once per purpose in ceil(n/3) calls and everything arrives."""
    catalog = {t.id: resources(connector, t.id) for t in connector.resource_types()}
    everything = [r for kind in catalog.values() for r in kind.values()]
    entitlements = {r.id: connector.list_entitlements(r) for r in everything}
    grants = {r.id: set(drain(lambda cursor, r=r: connector.list_grants(r, cursor)))
              for r in everything}
    assert [len(catalog[t]) for t in ("workspace", "group", "source")] == [1, 7, 7]
    assert set(catalog["source"]) == {ws[key] for key in SOURCES}
    expected = {"/sources": 3, "/roles": 3, "/users": 3, "/users/[^/]+": 8,
                "/groups": 3 + 3,  # the group resources, then the permission scan's group phase
                "/groups/[^/]+": 7, f"/groups/{ws['eng']}/users": 3,
                f"/groups/{ws['Finance']}/users": 1}
    assert {path: calls(segment, path) for path in expected} == expected
    assert len(entitlements[ws["ios"]]) == 2 and len(entitlements[segment.workspace["id"]]) == 1 + 7
    assert {(g.entitlement_id, g.account_id) for g in grants[ws["ios"]]} == {
        (role_on(ws, "admin", "ios"), ws["ada"]),
        (role_on(ws, "reader", "ios"), group_principal(ws["eng"]))}
    assert {g.account_id for g in grants[ws["eng"]]} == {ws[key] for key in USERS}
    workspace_roles = {g for g in grants[segment.workspace["id"]] if ":role:" in g.entitlement_id}
    assert {g.account_id for g in workspace_roles} == {ws["ada"]}


def test_entitlement_ids_are_parseable_and_only_groups_and_sources_are_requestable(ws, connector):
    """Given a source whose id holds ':', '/' and '%', when listing entitlements, then ids are percent-encoded and workspace access is not requestable."""
    odd = resources(connector, "source")[ODD_SOURCE_ID]
    by_slug = {e.slug: e for e in connector.list_entitlements(odd)}
    admin = by_slug[f"role:{ws['admin']}"]
    assert admin.id == f"source:src%3Aodd%2Fid%2520:role:{ws['admin']}"
    assert (admin.display_name, admin.requestable) == ("Source Admin on Odd", True)
    assert set(by_slug) == {f"role:{ws['admin']}", f"role:{ws['reader']}"}
    [workspace] = resources(connector, "workspace").values()
    assert not any(e.requestable or e.provisionable for e in connector.list_entitlements(workspace))
    [engineering] = connector.list_entitlements(resources(connector, "group")[ws["eng"]])
    assert (engineering.id, engineering.requestable) == (member_of(ws["eng"]), True)


def test_a_user_deleted_during_the_scan_is_skipped(segment, ws, connector):
    """Given Ada's detail answering 404 mid-sync, when listing a source's grants, then the scan goes on and the group's grant still arrives."""
    segment.fail(404, path=f"/users/{ws['ada']}", method="GET")
    ios = resources(connector, "source")[ws["ios"]]
    grants = drain(lambda cursor: connector.list_grants(ios, cursor))
    assert {g.account_id for g in grants} == {group_principal(ws["eng"])}


def test_find_account_ignores_case_and_stops_reading_when_found(segment, ws, connector):
    """Given Ada on the first page, when searching in another case, then one page is read; a stranger reads all and is None."""
    assert connector.find_account(" ADA@example.COM ").id == ws["ada"]
    assert calls(segment, "/users") == 1
    assert connector.find_account("nobody@example.com") is None


# -- grant and revoke ---------------------------------------------------------------------------
@pytest.mark.parametrize("principal, role, key", [
    ("ada", "admin", "web"),      # the role is already held on other sources: one resource joins it
    ("ada", "admin", "odd"),      # the same, on a source whose id needs encoding
    ("eng", "admin", "ios"),      # a group, and a role it does not hold anywhere yet
    ("bob", "reader", "server"),  # a user with no permissions at all
])
def test_role_grant_then_revoke_restores_exactly_the_prior_state(segment, ws, connector,
                                                                 principal, role, key):
    """Given a principal's permissions, when granting one role on one source and revoking it, then only that pair came and went."""
    account = group_principal(ws[principal]) if principal == "eng" else ws[principal]
    entitlement = role_on(ws, role, key)
    before = segment.permissions(ws[principal])
    assert connector.prior(entitlement, account) == NOTHING_HELD
    assert connector.grant(entitlement, account) is GrantOutcome.GRANTED
    during = segment.permissions(ws[principal])
    added = [(e["roleId"], r["id"]) for e in during for r in e["resources"]]
    kept = [(e["roleId"], r["id"]) for e in before for r in e["resources"]]
    assert sorted(added) == sorted(kept + [(ws[role], ws[key])])
    def other_roles(permissions: list[dict]) -> list[dict]:
        return [e for e in permissions if e["roleId"] != ws[role]]
    assert other_roles(during) == other_roles(before)
    assert connector.has_grant(entitlement, account)
    assert connector.revoke(entitlement, account, NOTHING_HELD) is RevokeOutcome.REVOKED
    assert segment.permissions(ws[principal]) == before


def test_revoke_keeps_the_same_role_on_other_sources_and_the_labels(segment, ws, connector):
    """Given Ada as Source Admin on iOS and Android and a labelled workspace role, when revoking iOS, then Android and the labels stay."""
    outcome = connector.revoke(role_on(ws, "admin", "ios"), ws["ada"], NOTHING_HELD)
    assert outcome is RevokeOutcome.REVOKED
    after = {e["roleId"]: e["resources"] for e in segment.permissions(ws["ada"])}
    assert [r["id"] for r in after[ws["admin"]]] == [ws["android"]]
    assert after[ws["plans"]][0]["labels"] == [{"key": "env", "value": "prod"}]
    assert [r["id"] for r in after[ws["reader"]]] == [ws["web"]]


def test_group_membership_grant_and_revoke_use_email_and_the_documented_paths(segment, ws,
                                                                             connector):
    """Given Ada outside Finance, when granting then revoking, then POST /groups/{id}/users and DELETE /group/{id}/users?emails.0= move her."""
    finance = member_of(ws["Finance"])
    assert connector.prior(finance, ws["ada"]) == NOTHING_HELD
    assert connector.grant(finance, ws["ada"]) is GrantOutcome.GRANTED
    assert segment.members(ws["Finance"]) == {ws["ada"]} and connector.has_grant(finance, ws["ada"])
    assert connector.revoke(finance, ws["ada"], NOTHING_HELD) is RevokeOutcome.REVOKED
    assert segment.members(ws["Finance"]) == set() and segment.invites(ws["Finance"]) == set()
    post, delete = segment.writes()
    assert (post.method, post.path, post.json()) == ("POST", f"/groups/{ws['Finance']}/users",
                                                     {"emails": ["Ada@Example.com"]})
    assert (delete.method, delete.path, delete.query) == (
        "DELETE", f"/group/{ws['Finance']}/users", {"emails.0": ["Ada@Example.com"]})


def test_repeated_grants_and_revokes_are_already_done_and_write_nothing(segment, ws, connector):
    """Given a role and a membership, when each is granted twice and revoked twice, then the repeats are ALREADY_* and only 4 writes land."""
    role, group = role_on(ws, "reader", "server"), member_of(ws["Legal"])
    def revoke(entitlement: str, account: str) -> RevokeOutcome:
        return connector.revoke(entitlement, account, NOTHING_HELD)
    outcomes = [action(entitlement, ws["bob"]) for entitlement in (role, group)
                for action in (connector.grant, connector.grant, revoke, revoke)]
    assert outcomes == [GrantOutcome.GRANTED, GrantOutcome.ALREADY_GRANTED,
                        RevokeOutcome.REVOKED, RevokeOutcome.ALREADY_REVOKED] * 2
    assert [w.method for w in segment.writes()] == ["PUT", "PUT", "POST", "DELETE"]
    assert segment.permissions(ws["bob"]) == [] and segment.members(ws["Legal"]) == set()


def test_prior_reports_access_held_before(ws, connector):
    """Given Ada as Source Admin on iOS and in Engineering, when asking prior(), then both are held."""
    assert connector.prior(role_on(ws, "admin", "ios"), ws["ada"]).held
    assert connector.prior(member_of(ws["eng"]), ws["ada"]).held


def test_workspace_access_and_non_source_roles_cannot_be_granted(segment, ws, connector):
    """Given the sync-only workspace and a role that is not a Source role, when granting, then InvalidRequestError and no write."""
    workspace_owner = entitlement_id("workspace", segment.workspace["id"], "role", ws["owner"])
    with pytest.raises(InvalidRequestError, match="sync only"):
        connector.grant(workspace_owner, ws["bob"])
    with pytest.raises(InvalidRequestError, match="not a Source role"):
        connector.grant(role_on(ws, "owner", "ios"), ws["bob"])
    assert segment.writes() == []


@pytest.mark.parametrize("entitlement", [
    "source:s1:member", "group:g1:role:r1", "planet:p1:member", "source:s1", "source::role:r1",
    "source:s1:role:", "group:g1:owner", "source:s1:role:r1:extra"])
def test_malformed_entitlement_ids_are_invalid(ws, connector, entitlement):
    """Given an entitlement id outside the documented forms, when granting or revoking, then InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        connector.grant(entitlement, ws["ada"])
    with pytest.raises(InvalidRequestError):
        connector.revoke(entitlement, ws["ada"], NOTHING_HELD)


def test_groups_cannot_join_groups_and_missing_users_are_not_found(ws, connector):
    """Given a group as the member or an unknown user, when granting membership or a role, then InvalidRequestError or NotFoundError."""
    with pytest.raises(InvalidRequestError):
        connector.grant(member_of(ws["Finance"]), group_principal(ws["eng"]))
    with pytest.raises(NotFoundError):
        connector.grant(role_on(ws, "admin", "ios"), "missing-user")


def test_a_group_read_under_the_wrong_key_fails_instead_of_wiping(segment, ws, connector):
    """Given GET /groups/{id} answering data.group (baton's key), when granting the group a role, then ConnectorError and its permissions are untouched."""
    before = segment.permissions(ws["eng"])
    segment.inject(lambda call: Reply.json(200, {"data": {"group": {"id": ws["eng"]}}}),
                   path=f"/groups/{ws['eng']}", method="GET")
    with pytest.raises(ConnectorError, match="data.userGroup"):
        connector.grant(role_on(ws, "admin", "web"), group_principal(ws["eng"]))
    assert segment.writes() == [] and segment.permissions(ws["eng"]) == before


# -- retries ------------------------------------------------------------------------------------
def test_429_waits_what_segment_says_then_succeeds(segment, ws, connector, waits):
    """Given one 429 lifting in 2 s on the permissions PUT, when granting, then the client waits msBeforeNext (+ jitter) and the grant lands."""
    segment.rate_limit(path=PERMISSIONS_PUT, method="PUT", reset_in=2)
    assert connector.grant(role_on(ws, "reader", "server"), ws["bob"]) is GrantOutcome.GRANTED
    assert len(waits) == 1 and 2 <= waits[0] <= 2 + RATE_LIMIT_JITTER
    assert len(segment.calls_to("PUT", PERMISSIONS_PUT)) == 2
    assert connector.has_grant(role_on(ws, "reader", "server"), ws["bob"])


def test_5xx_then_success_backs_off_once(segment, ws, connector, waits):
    """Given one 503 on adding a member, when granting membership, then one backoff and the member is in."""
    segment.fail(503, path=r"/groups/[^/]+/users", method="POST")
    assert connector.grant(member_of(ws["Ops"]), ws["bob"]) is GrantOutcome.GRANTED
    assert segment.members(ws["Ops"]) == {ws["bob"]}
    assert len(waits) == 1 and FIRST_BACKOFF <= waits[0] <= FIRST_BACKOFF * 1.25


def test_persistent_5xx_gives_up_after_max_attempts_and_changes_nothing(segment, ws, connector,
                                                                        waits):
    """Given a permissions PUT that always fails with 500, when granting, then TransientError after exactly max_attempts PUTs."""
    before = segment.permissions(ws["ada"])
    segment.fail(500, times=100, path=PERMISSIONS_PUT, method="PUT")
    with pytest.raises(TransientError, match="Internal server error"):
        connector.grant(role_on(ws, "reader", "ios"), ws["ada"])
    assert len(segment.calls_to("PUT", PERMISSIONS_PUT)) == MAX_ATTEMPTS
    assert len(waits) == MAX_ATTEMPTS - 1 and waits == sorted(waits)
    assert segment.permissions(ws["ada"]) == before


def test_persistent_429_raises_rate_limited_with_retry_after(segment, ws, connector):
    """Given a list that is always rate limited, when listing, then RateLimitedError carries Segment's wait."""
    segment.rate_limit(times=100, path="/sources", reset_in=7)
    with pytest.raises(RateLimitedError) as raised:
        connector.list_resources("source")
    assert raised.value.retry_after == 7
    assert calls(segment, "/sources") == MAX_ATTEMPTS


def test_network_errors_are_transient_after_retries(waits):
    """Given nothing listening on the port, when listing, then TransientError after max_attempts tries."""
    client = SegmentClient(url_with_no_listener(), TOKEN, max_attempts=MAX_ATTEMPTS,
                           sleep=waits.append)
    with pytest.raises(TransientError, match="GET /users"):
        client.list_users()
    client.close()
    assert len(waits) == MAX_ATTEMPTS - 1


def test_a_redirect_to_the_eu_host_says_to_set_base_url(segment, connector):
    """Given the US host redirecting an EU workspace, when syncing, then the error names the EU host and base_url."""
    segment.inject(lambda call: Reply(301, b"", {"Location": "https://eu1.api.segmentapis.com/"}))
    with pytest.raises(ConnectorError, match="eu1.api.segmentapis.com: set base_url"):
        connector.list_resources("workspace")


# -- permissions, capabilities and secrets ------------------------------------------------------
def test_read_only_token_cannot_grant_and_is_not_retried(segment, ws, waits):
    """Given a token without IAM write, when granting a role or a membership, then PermissionDeniedError, no retry, nothing changed."""
    connector = make_connector(segment, waits, READ_ONLY)
    before = segment.permissions(ws["bob"])
    for entitlement in (role_on(ws, "reader", "server"), member_of(ws["Finance"])):
        with pytest.raises(PermissionDeniedError, match="forbidden"):
            connector.grant(entitlement, ws["bob"])
    connector.close()
    assert segment.writes() == [] and waits == []
    assert segment.permissions(ws["bob"]) == before and segment.members(ws["Finance"]) == set()


def capability_map(connector: SegmentConnector) -> dict[tuple[str, str], tuple[bool, str]]:
    return {(c.action, c.subject): (c.available, c.reason) for c in connector.capabilities()}


def test_capabilities_report_per_thing_for_each_token(segment, ws, waits):
    """Given an owner, a read-only and a wrong token, when asking capabilities(), then each says what it can sync and provision, and why not."""
    owner, read_only, wrong = (make_connector(segment, waits, token)
                               for token in (TOKEN, READ_ONLY, "sgp_wrong"))
    full, partial, nothing = capability_map(owner), capability_map(read_only), capability_map(wrong)
    for connector in (owner, read_only, wrong):
        connector.close()
    subjects = {("sync", s) for s in ("workspace", "users", "groups", "roles", "sources")} | {
        ("provision", "group membership"), ("provision", "roles on sources")}
    assert set(full) == set(partial) == set(nothing) == subjects
    assert all(available for available, _ in full.values())
    assert all(partial[key][0] for key in subjects if key[0] == "sync")
    for key in (("provision", "group membership"), ("provision", "roles on sources")):
        assert not partial[key][0] and "lacks the permission" in partial[key][1]
    assert not any(available for available, _ in nothing.values())
    [probe] = segment.writes()  # the owner's probe: removing an address nobody has
    assert (probe.method, probe.path) == ("DELETE", f"/group/{ws['eng']}/users")
    assert segment.members(ws["eng"]) == {ws[key] for key in USERS}


def test_capabilities_name_the_unreadable_thing(segment, ws, connector):
    """Given sources refused with 403, when asking capabilities(), then sources and roles on sources are unavailable but membership is."""
    segment.fail(403, path="/sources")
    caps = capability_map(connector)
    sources_ok, sources_reason = caps[("sync", "sources")]
    roles_ok, roles_reason = caps[("provision", "roles on sources")]
    assert not sources_ok and "lacks the permission" in sources_reason
    assert not roles_ok and roles_reason.startswith("cannot read sources")
    assert caps[("provision", "group membership")] == (True, "")



@pytest.mark.parametrize("path", ["/sources", r"/group/[^/]+/users"])
def test_an_outage_while_probing_is_an_error_not_a_missing_capability(segment, ws, connector, path):
    """Given one probed call (a read, or the IAM-write probe) answering 503 on every try, when asking capabilities(), then TransientError, not an unavailable capability."""
    segment.fail(503, times=MAX_ATTEMPTS, path=path)
    with pytest.raises(TransientError):
        connector.capabilities()


def test_token_never_appears_in_errors_or_logs(segment, ws, waits, caplog):
    """Given every kind of failure, when each is raised, then no token appears in messages, causes or logs."""
    caplog.set_level(logging.DEBUG)
    bad_token = "sgp_wrong-secret-55aa"
    wrong, read_only, full = (make_connector(segment, waits, token)
                              for token in (bad_token, READ_ONLY, TOKEN))
    segment.fail(502, times=MAX_ATTEMPTS, path="/groups")
    segment.rate_limit(times=MAX_ATTEMPTS, path=f"/users/{ws['user4']}/groups")
    failures = [
        wrong.list_accounts,
        lambda: read_only.grant(role_on(ws, "reader", "ios"), ws["bob"]),
        lambda: full.grant(role_on(ws, "owner", "ios"), ws["bob"]),
        lambda: full.grant(role_on(ws, "admin", "ios"), "missing-user"),
        lambda: full.list_resources("group"),
        lambda: full.has_grant(member_of(ws["eng"]), ws["user4"]),
        lambda: full.list_resources("planet"),
    ]
    texts = error_texts(failures)
    texts.append(caplog.text)
    for connector in (wrong, read_only, full):
        connector.close()
    assert not [t for t in texts if TOKEN in t or READ_ONLY in t or bad_token in t]
    assert "retrying" in caplog.text  # the retries were logged, just without secrets

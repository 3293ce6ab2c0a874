"""The Okta connector's apps and admin roles against the Okta sandbox over real HTTP: sync page by
page, grant and revoke restoring exactly the prior state (group-derived app access and other roles
stay), idempotent repeats, retries, and what each token tier may do (capabilities)."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator

import pytest

from connectors.base import (
    ConnectorError,
    GrantOutcome,
    PermissionDeniedError,
    Prior,
    Resource,
    RevokeOutcome,
    TransientError,
)
from connectors.http import FIRST_BACKOFF, RATE_LIMIT_JITTER
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.roles import STANDARD_ROLES
from sandbox.okta import OktaSandbox
from sandbox.server import Reply
from tests.support.connectors import MAX_ATTEMPTS, NOTHING_HELD, drain

SUPER = "okta-super-secret-4f9a2c"  # distinctive, so a leak into a message is easy to spot
GROUP_APP = "okta-group-app-secret-91d3e7"
READ_ONLY = "okta-read-only-secret-7b1e0d"
PAGE = 3
APP_USER = r"/api/v1/apps/[^/]+/users/[^/]+"
USER_ROLES = r"/api/v1/users/[^/]+/roles"


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    tokens = {SUPER: "super_admin", GROUP_APP: "group_app_admin", READ_ONLY: "read_only"}
    with OktaSandbox(page_size=PAGE, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def org(okta: OktaSandbox) -> dict[str, str]:
    """7 users; 7 apps (2 inactive); Salesforce has ada+user0..2 direct and the Sales group
    (user2..user4) assigned; roles: ada REPORT_ADMIN, user0..3 APP_ADMIN, Helpdesk group
    (user4, user5) HELP_DESK_ADMIN."""
    ids = {"ada": okta.add_user("ada@example.com", "Ada", "Lovelace")}
    ids |= {f"user{i}": okta.add_user(f"user{i}@example.com") for i in range(6)}
    ids["salesforce"] = okta.add_app("Salesforce")
    ids |= {name: okta.add_app(name) for name in ("Slack", "GitHub", "Zoom", "Figma")}
    ids |= {name: okta.add_app(name, status="INACTIVE", sign_on_mode="BOOKMARK")
            for name in ("Legacy", "Old Wiki")}
    ids["sales"], ids["helpdesk"] = okta.add_group("Sales"), okta.add_group("Helpdesk")
    for key in ("user2", "user3", "user4"):
        okta.add_member(ids["sales"], ids[key])
    for key in ("user4", "user5"):
        okta.add_member(ids["helpdesk"], ids[key])
    for key in ("ada", "user0", "user1", "user2"):
        okta.assign_app_user(ids["salesforce"], ids[key])
    okta.assign_app_group(ids["salesforce"], ids["sales"])
    okta.assign_role(ids["ada"], "REPORT_ADMIN")
    for key in ("user0", "user1", "user2", "user3"):
        okta.assign_role(ids[key], "APP_ADMIN")
    okta.assign_group_role(ids["helpdesk"], "HELP_DESK_ADMIN")
    return ids


def make_connector(okta: OktaSandbox, waits: list[float], token: str = SUPER,
                   **options) -> OktaConnector:
    client = OktaClient(okta.url, token, max_attempts=MAX_ATTEMPTS, sleep=waits.append)
    return OktaConnector(client, **options)


@pytest.fixture
def connector(okta, waits, closing) -> OktaConnector:
    return closing(make_connector(okta, waits))


def access(app_id: str) -> str:
    return f"app:{app_id}:access"


def role(role_type: str) -> str:
    return f"role:{role_type}:assigned"


def app_resource(connector: OktaConnector, app_id: str) -> Resource:
    return next(r for r in drain(lambda c: connector.list_resources("app", c)) if r.id == app_id)


# -- sync ---------------------------------------------------------------------------------------
def test_apps_sync_in_the_fewest_pages_and_only_active_apps_are_requestable(okta, org, connector):
    """Given 7 apps (2 inactive) and page size 3, when draining apps, then 3 calls bring all with status and sign-on mode, and only ACTIVE ones are requestable."""
    apps = drain(lambda cursor: connector.list_resources("app", cursor))
    assert len(okta.calls_to("GET", "/api/v1/apps")) == math.ceil(7 / PAGE)
    assert len(apps) == 7 and {a.id for a in apps} == {org[k] for k in (
        "salesforce", "Slack", "GitHub", "Zoom", "Figma", "Legacy", "Old Wiki")}
    legacy = next(a for a in apps if a.id == org["Legacy"])
    assert (legacy.name, legacy.attributes) == (
        "Legacy", {"okta_status": "INACTIVE", "okta_sign_on_mode": "BOOKMARK"})
    requestable = {a.name for a in apps if connector.list_entitlements(a)[0].requestable}
    assert requestable == {"Salesforce", "Slack", "GitHub", "Zoom", "Figma"}
    [entitlement] = connector.list_entitlements(legacy)
    assert (entitlement.id, entitlement.slug) == (access(org["Legacy"]), "access")


def test_sync_inactive_apps_false_asks_okta_for_active_apps_only(okta, org, waits):
    """Given sync_inactive_apps=False, when draining apps, then every call filters on ACTIVE and 2 pages bring the 5 active apps."""
    connector = make_connector(okta, waits, sync_inactive_apps=False)
    apps = drain(lambda cursor: connector.list_resources("app", cursor))
    calls = okta.calls_to("GET", "/api/v1/apps")
    assert len(calls) == math.ceil(5 / PAGE)
    assert all(call.arg("filter") == 'status eq "ACTIVE"' for call in calls)
    assert {a.attributes["okta_status"] for a in apps} == {"ACTIVE"} and len(apps) == 5
    connector.close()


def test_app_assignments_sync_direct_and_group_users_in_the_fewest_pages(okta, org, connector):
    """Given 4 direct and 3 group-derived users (one both) on Salesforce, when draining grants, then 2 calls bring the 6 users, only the 4 direct ones marked direct (as `prior` says)."""
    grants = drain(lambda cursor: connector.list_grants(app_resource(connector, org["salesforce"]),
                                                        cursor))
    path = f"/api/v1/apps/{org['salesforce']}/users"
    assert len(okta.calls_to("GET", path)) == math.ceil(6 / PAGE)
    assert {g.account_id for g in grants} == {org[k] for k in (
        "ada", "user0", "user1", "user2", "user3", "user4")}
    assert {g.account_id for g in grants if g.direct} == {org[k] for k in ("ada", "user0", "user1", "user2")}
    assert {g.entitlement_id for g in grants} == {access(org["salesforce"])}


def test_roles_are_the_ten_standard_types_listed_without_a_call(okta, connector):
    """Given any org, when listing role resources, then the 10 standard types come from a static list, all requestable."""
    roles = drain(lambda cursor: connector.list_resources("role", cursor))
    assert {r.id for r in roles} == set(STANDARD_ROLES) and len(roles) == 10
    assert okta.calls == []
    entitlements = [e for r in roles for e in connector.list_entitlements(r)]
    assert {e.id for e in entitlements} == {role(t) for t in STANDARD_ROLES}
    assert all(e.requestable and e.provisionable for e in entitlements)
    assert next(r for r in roles if r.id == "USER_ADMIN").name == "Group Administrator"


def test_role_grants_sync_in_the_fewest_calls(okta, org, connector):
    """Given 7 users holding roles (2 through a group) and page size 3, when draining APP_ADMIN and HELP_DESK_ADMIN grants, then each takes 3 assignee pages + 7 role reads, group-held ones marked not direct."""
    resources = {r.id: r for r in drain(lambda c: connector.list_resources("role", c))}
    app_admins = drain(lambda c: connector.list_grants(resources["APP_ADMIN"], c))
    assert len(okta.calls_to("GET", "/api/v1/iam/assignees/users")) == math.ceil(7 / PAGE)
    assert len(okta.calls_to("GET", USER_ROLES)) == 7
    help_desk = drain(lambda c: connector.list_grants(resources["HELP_DESK_ADMIN"], c))
    assert {g.account_id for g in app_admins} == {org[f"user{i}"] for i in range(4)}
    assert {(g.account_id, g.direct) for g in help_desk} == {(org["user4"], False), (org["user5"], False)}
    assert all(g.direct for g in app_admins)
    assert {g.entitlement_id for g in app_admins} == {role("APP_ADMIN")}


# -- app grant and revoke -----------------------------------------------------------------------
def test_app_grant_then_revoke_leaves_no_assignment_behind(okta, org, connector):
    """Given user5 with no Slack access, when granting then revoking, then a direct assignment comes and goes and nothing else is written."""
    slack, user = org["Slack"], org["user5"]
    prior = connector.prior(access(slack), user)
    assert prior == Prior(held=False, detail=None)
    assert connector.grant(access(slack), user) is GrantOutcome.GRANTED
    assert okta.app_users(slack) == {user: "USER"} and connector.has_grant(access(slack), user)
    assert connector.revoke(access(slack), user, prior) is RevokeOutcome.REVOKED
    assert okta.app_users(slack) == {} and not connector.has_grant(access(slack), user)
    assert [(c.method, c.json()) for c in okta.app_writes()] == [
        ("POST", {"id": user, "scope": "USER", "credentials": {"userName": "user5@example.com"}}),
        ("DELETE", None)]


def test_group_derived_app_access_is_not_already_granted_and_survives_the_revoke(okta, org, connector):
    """Given user4 on Salesforce only through the Sales group, when granting then revoking, then a direct assignment is made and undone and the group access remains."""
    salesforce, user = org["salesforce"], org["user4"]
    before = okta.app_users(salesforce)
    prior = connector.prior(access(salesforce), user)
    assert (prior.held, json.loads(prior.detail)) == (False, {"scope": "GROUP"})
    assert not connector.has_grant(access(salesforce), user)
    assert connector.grant(access(salesforce), user) is GrantOutcome.GRANTED
    assert okta.app_users(salesforce)[user] == "USER"
    assert connector.revoke(access(salesforce), user, prior) is RevokeOutcome.REVOKED
    assert okta.app_users(salesforce) == before and before[user] == "GROUP"
    refused = okta.calls_to("DELETE", f"/api/v1/apps/{salesforce}/users/{user}")
    assert len(refused) == 1  # Okta said E0000046, so the direct assignment went back to GROUP
    assert [(c.method, c.json()) for c in okta.app_writes()] == [
        ("POST", {"scope": "USER"}), ("POST", {"scope": "GROUP"})]


def test_app_access_gained_through_a_group_during_the_grant_stays(okta, org, connector):
    """Given user5 granted Salesforce directly, when they join Sales before the revoke, then the revoke leaves the group's access."""
    salesforce, user = org["salesforce"], org["user5"]
    prior = connector.prior(access(salesforce), user)
    connector.grant(access(salesforce), user)
    okta.add_member(org["sales"], user)
    assert connector.revoke(access(salesforce), user, prior) is RevokeOutcome.REVOKED
    assert okta.app_users(salesforce)[user] == "GROUP"


def test_direct_app_access_held_before_is_left_alone(okta, org, connector):
    """Given user2 assigned directly (and through Sales), when Latchkey grants and revokes, then nothing is written and the assignment stays."""
    salesforce, user = org["salesforce"], org["user2"]
    prior = connector.prior(access(salesforce), user)
    assert prior.held and json.loads(prior.detail) == {"scope": "USER"}
    assert connector.grant(access(salesforce), user) is GrantOutcome.ALREADY_GRANTED
    assert connector.revoke(access(salesforce), user, prior) is RevokeOutcome.ALREADY_REVOKED
    assert okta.app_users(salesforce)[user] == "USER" and okta.app_writes() == []


def test_repeated_app_grant_and_revoke_are_already_done(okta, org, connector):
    """Given Zoom, when granting twice and revoking twice, then the repeats are ALREADY_* and write nothing."""
    zoom, user = access(org["Zoom"]), org["ada"]
    outcomes = [connector.grant(zoom, user), connector.grant(zoom, user),
                connector.revoke(zoom, user, NOTHING_HELD), connector.revoke(zoom, user, NOTHING_HELD)]
    assert outcomes == [GrantOutcome.GRANTED, GrantOutcome.ALREADY_GRANTED,
                        RevokeOutcome.REVOKED, RevokeOutcome.ALREADY_REVOKED]
    assert [c.method for c in okta.app_writes()] == ["POST", "DELETE"]


def test_a_refused_app_delete_other_than_e0000046_is_an_error(okta, org, connector):
    """Given ada's direct Salesforce assignment, when the DELETE is refused with E0000006, then PermissionDeniedError and no scope change."""
    okta.fail(403, path=APP_USER, method="DELETE")
    with pytest.raises(PermissionDeniedError, match="E0000006"):
        connector.revoke(access(org["salesforce"]), org["ada"], NOTHING_HELD)
    assert okta.app_users(org["salesforce"])[org["ada"]] == "USER" and okta.app_writes() == []


# -- role grant and revoke ----------------------------------------------------------------------
def test_role_grant_then_revoke_restores_the_prior_roles(okta, org, connector):
    """Given ada with REPORT_ADMIN, when granting APP_ADMIN then revoking it, then ada holds exactly REPORT_ADMIN again."""
    ada, before = org["ada"], okta.user_roles(org["ada"])
    prior = connector.prior(role("APP_ADMIN"), ada)
    assert prior == NOTHING_HELD
    assert connector.grant(role("APP_ADMIN"), ada) is GrantOutcome.GRANTED
    assert okta.user_roles(ada) == before | {("APP_ADMIN", "USER")}
    assert connector.has_grant(role("APP_ADMIN"), ada)
    assert connector.revoke(role("APP_ADMIN"), ada, prior) is RevokeOutcome.REVOKED
    assert okta.user_roles(ada) == before == {("REPORT_ADMIN", "USER")}
    assert okta.calls_to("POST", USER_ROLES)[0].json() == {"type": "APP_ADMIN"}


def test_a_role_held_through_a_group_is_not_held_and_stays_after_the_revoke(okta, org, connector):
    """Given user4 with HELP_DESK_ADMIN through Helpdesk, when granting it directly then revoking, then only the direct assignment comes and goes."""
    user = org["user4"]
    prior = connector.prior(role("HELP_DESK_ADMIN"), user)
    assert not prior.held
    assert connector.grant(role("HELP_DESK_ADMIN"), user) is GrantOutcome.GRANTED
    assert okta.user_roles(user) == {("HELP_DESK_ADMIN", "GROUP"), ("HELP_DESK_ADMIN", "USER")}
    assert connector.revoke(role("HELP_DESK_ADMIN"), user, prior) is RevokeOutcome.REVOKED
    assert okta.user_roles(user) == {("HELP_DESK_ADMIN", "GROUP")}


def test_repeated_role_grant_and_revoke_are_already_done(okta, org, connector):
    """Given user5 without MOBILE_ADMIN, when granting it twice and revoking twice, then Okta's E0000090 reads as ALREADY_GRANTED and the second revoke writes nothing."""
    mobile, user = role("MOBILE_ADMIN"), org["user5"]
    before = okta.user_roles(user)
    outcomes = [connector.grant(mobile, user), connector.grant(mobile, user),
                connector.revoke(mobile, user, NOTHING_HELD), connector.revoke(mobile, user, NOTHING_HELD)]
    assert outcomes == [GrantOutcome.GRANTED, GrantOutcome.ALREADY_GRANTED,
                        RevokeOutcome.REVOKED, RevokeOutcome.ALREADY_REVOKED]
    assert len(okta.calls_to("POST", USER_ROLES)) == 2  # the second answered 409 E0000090
    assert [c.method for c in okta.role_writes()] == ["POST", "DELETE"]
    assert okta.user_roles(user) == before == {("HELP_DESK_ADMIN", "GROUP")}


# -- retries ------------------------------------------------------------------------------------
def test_429_on_app_users_waits_for_the_reset_then_syncs(okta, org, connector, waits):
    """Given one 429 on Salesforce's users, when syncing its grants, then one wait of Reset − Date and the page arrives."""
    resource = app_resource(connector, org["salesforce"])
    okta.rate_limit(times=1, path=r"/api/v1/apps/[^/]+/users", reset_in=3)
    page = connector.list_grants(resource)
    assert len(page.items) == PAGE and len(waits) == 1
    assert 3 <= waits[0] <= 3 + RATE_LIMIT_JITTER


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_on_role_and_app_writes_back_off_then_land(okta, org, connector, waits, status):
    """Given one 5xx on a role POST and one on an app DELETE, when granting and revoking, then each is retried once and lands."""
    okta.fail(status, path=USER_ROLES, method="POST")
    assert connector.grant(role("ORG_ADMIN"), org["user5"]) is GrantOutcome.GRANTED
    okta.fail(status, path=APP_USER, method="DELETE")
    assert connector.revoke(access(org["salesforce"]), org["ada"], NOTHING_HELD) is RevokeOutcome.REVOKED
    assert ("ORG_ADMIN", "USER") in okta.user_roles(org["user5"])
    assert org["ada"] not in okta.app_users(org["salesforce"])
    assert len(waits) == 2 and all(FIRST_BACKOFF <= w <= FIRST_BACKOFF * 1.25 for w in waits)


def test_group_roles_are_read_once_even_if_a_next_link_appears(okta, org, connector):
    """Given /groups/{id}/roles answered with a rel="next", when reading it, then one call and the link is ignored."""
    client = OktaClient(okta.url, SUPER)
    next_link = f'<{okta.url}/api/v1/groups/{org["helpdesk"]}/roles?after=x>; rel="next"'
    okta.inject(lambda _call: Reply.json(200, [{"id": "ra1", "type": "HELP_DESK_ADMIN"}],
                                         {"Link": next_link}), path=r"/api/v1/groups/[^/]+/roles")
    assert [r["type"] for r in client.roles.list_group_roles(org["helpdesk"])] == ["HELP_DESK_ADMIN"]
    assert len(okta.calls_to("GET", r"/api/v1/groups/[^/]+/roles")) == 1
    client.close()


# -- token tiers --------------------------------------------------------------------------------
def capabilities_of(okta, waits, token) -> dict[tuple[str, str], tuple[bool, str]]:
    connector = make_connector(okta, waits, token)
    found = {(c.action, c.subject): (c.available, c.reason) for c in connector.capabilities()}
    connector.close()
    return found


SUBJECTS = {("sync", "users"), ("sync", "groups and their members"),
            ("sync", "apps and their assignments"), ("sync", "admin role assignments"),
            ("sync", "changes from the System Log"), ("provision", "group membership"), ("provision", "app assignment"),
            ("provision", "admin roles")}


def test_super_admin_token_can_do_everything_and_nothing_is_written(okta, waits):
    """Given a super admin token, when probing capabilities, then every item is available and the probe only read."""
    found = capabilities_of(okta, waits, SUPER)
    assert set(found) == SUBJECTS and all(ok and not why for ok, why in found.values())
    assert {call.method for call in okta.calls} == {"GET"}


def test_group_app_admin_token_lacks_admin_roles_and_says_why(okta, waits):
    """Given read-only + app admin + group admin, when probing, then role sync and role provisioning are missing with reasons, group/app provisioning is available but unconfirmed."""
    found = capabilities_of(okta, waits, GROUP_APP)
    assert set(found) == SUBJECTS
    ok, why = found[("sync", "admin role assignments")]
    assert not ok and "E0000006" in why and "Super Administrator" in why and "okta.iam.read" in why
    ok, why = found[("provision", "admin roles")]
    assert not ok and "Super Administrator" in why
    for subject in ("group membership", "app assignment"):
        ok, why = found[("provision", subject)]
        assert ok and why.startswith("not confirmed") and "E0000006" in why
    assert all(found[("sync", s)] == (True, "") for s in (
        "users", "groups and their members", "apps and their assignments"))


def test_read_only_token_syncs_everything_and_provisions_nothing(okta, waits):
    """Given the custom read-only role, when probing, then all sync is available and each provisioning item names the role it needs."""
    found = capabilities_of(okta, waits, READ_ONLY)
    assert all(found[key] == (True, "") for key in SUBJECTS if key[0] == "sync")
    reasons = {subject: found[("provision", subject)] for subject in (
        "group membership", "app assignment", "admin roles")}
    assert not any(ok for ok, _ in reasons.values())
    assert all("Latchkey read-only" in why for _, why in reasons.values())
    assert "Group Administrator" in reasons["group membership"][1]
    assert "okta.apps.assignment.manage" in reasons["app assignment"][1]
    assert "Super Administrator" in reasons["admin roles"][1]


def test_a_refused_token_is_reported_on_every_item(okta, waits):
    """Given a token Okta does not know, when probing, then every item is unavailable with Okta's E0000011."""
    found = capabilities_of(okta, waits, "okta-unknown-token")
    assert set(found) == SUBJECTS
    assert all(not ok and "E0000011" in why for ok, why in found.values())



@pytest.mark.parametrize("path", [r"/api/v1/users/me", r"/api/v1/groups", r"/api/v1/users/[^/]+/roles"])
def test_an_outage_while_probing_is_an_error_not_a_missing_capability(okta, connector, path):
    """Given one probed call answering 503 on every try, when probing, then TransientError, not an unavailable item."""
    okta.fail(503, times=MAX_ATTEMPTS, path=path)
    with pytest.raises(TransientError):
        connector.capabilities()


def test_group_app_admin_role_sync_fails_loudly_but_apps_and_groups_provision(okta, org, waits):
    """Given a group/app admin token, when syncing role grants or granting a role, then PermissionDeniedError; app and group grants succeed."""
    connector = make_connector(okta, waits, GROUP_APP)
    [resource] = [r for r in connector.list_resources("role").items if r.id == "APP_ADMIN"]
    with pytest.raises(PermissionDeniedError, match="E0000006"):
        connector.list_grants(resource)
    with pytest.raises(PermissionDeniedError, match="E0000006"):
        connector.grant(role("APP_ADMIN"), org["user5"])
    assert connector.grant(access(org["Slack"]), org["user5"]) is GrantOutcome.GRANTED
    assert connector.grant(f"group:{org['sales']}:member", org["user5"]) is GrantOutcome.GRANTED
    assert okta.role_writes() == [] and waits == []
    connector.close()


def test_read_only_token_cannot_grant_apps_or_roles(okta, org, waits):
    """Given the read-only token, when granting an app or a role, then PermissionDeniedError without retries and nothing changes."""
    connector = make_connector(okta, waits, READ_ONLY)
    for entitlement in (access(org["Slack"]), role("APP_ADMIN")):
        with pytest.raises(PermissionDeniedError, match="E0000006"):
            connector.grant(entitlement, org["user5"])
    assert okta.app_writes() == okta.role_writes() == [] and waits == []
    connector.close()


def test_tokens_never_appear_in_errors_or_logs(okta, org, waits, caplog):
    """Given app and role failures with every token, when each is raised, then no token appears in messages, causes or logs."""
    caplog.set_level(logging.DEBUG)
    full, group_app, read_only = (make_connector(okta, waits, t) for t in (SUPER, GROUP_APP, READ_ONLY))
    okta.fail(503, times=MAX_ATTEMPTS, path=r"/api/v1/iam/assignees/users")
    okta.rate_limit(times=MAX_ATTEMPTS, path=r"/api/v1/apps/[^/]+/users")
    role_resource = full.list_resources("role").items[0]
    failures = [
        lambda: full.list_grants(role_resource),
        lambda: full.list_grants(app_resource(full, org["salesforce"])),
        lambda: group_app.grant(role("SUPER_ADMIN"), org["ada"]),
        lambda: read_only.grant(access(org["Slack"]), org["ada"]),
        lambda: full.grant(access("0oamissing"), org["ada"]),
    ]
    texts = []
    for failure in failures:
        with pytest.raises(ConnectorError) as raised:
            failure()
        texts += [str(raised.value), repr(raised.value), repr(raised.value.__cause__)]
    texts += [c.reason for t in (SUPER, GROUP_APP, READ_ONLY, "okta-bad-secret-000")
              for c in make_connector(okta, waits, t).capabilities()]
    texts.append(caplog.text)
    for connector in (full, group_app, read_only):
        connector.close()
    secrets = (SUPER, GROUP_APP, READ_ONLY, "okta-bad-secret-000")
    assert not [t for t in texts if any(secret in t for secret in secrets)]
    assert "retrying" in caplog.text

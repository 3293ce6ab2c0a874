"""The Okta sandbox answers like Okta: Link pagination, hidden deprovisioned users, error bodies,
rate-limit headers, the write rules for group types, one app assignment per user whose scope
follows direct and group assignment, admin roles, and what each token tier may read and write."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from sandbox.okta import OktaSandbox

TOKEN = "okta-test-token"
READ_ONLY = "okta-read-only-token"
GROUP_APP = "okta-group-app-token"
ERROR_KEYS = {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}


@pytest.fixture
def okta():
    tokens = {TOKEN: "super_admin", READ_ONLY: "read_only", GROUP_APP: "group_app_admin"}
    with OktaSandbox(page_size=3, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def http(okta):
    with httpx.Client(base_url=okta.url, headers={"Authorization": f"SSWS {TOKEN}"}) as client:
        yield client


def test_users_page_through_link_headers_keeping_the_search(okta, http):
    """Given 7 users and page size 3, when paging by rel="next", then 3 pages keep `search` and the last has no next."""
    ids = [okta.add_user(f"u{i}@example.com") for i in range(7)]
    url, seen, pages = "/api/v1/users?search=status+pr&limit=200", [], 0
    while url:
        response = http.get(url)
        pages += 1
        seen += [user["id"] for user in response.json()]
        assert "self" in response.links
        url = response.links.get("next", {}).get("url")
        if url:
            assert "search=status+pr" in url and "limit=200" in url and "after=" in url
    assert (pages, seen) == (3, ids)


def test_deprovisioned_users_appear_only_with_search_or_filter(okta, http):
    """Given a deprovisioned user, when listing plainly vs with search/filter, then only the latter include them."""
    okta.add_user("live@example.com")
    gone = okta.add_user("gone@example.com", status="DEPROVISIONED")
    plain = http.get("/api/v1/users").json()
    searched = http.get("/api/v1/users", params={"search": "status pr"}).json()
    email_filter = {"filter": 'profile.email eq "GONE@example.com"'}
    by_email = http.get("/api/v1/users", params=email_filter).json()
    assert gone not in [u["id"] for u in plain]
    assert gone in [u["id"] for u in searched]
    assert [u["id"] for u in by_email] == [gone]


@pytest.mark.parametrize("method, path, headers, status, code", [
    ("GET", "/api/v1/users/00unknown", None, 404, "E0000007"),
    ("GET", "/api/v1/nowhere", None, 404, "E0000008"),
    ("GET", "/api/v1/users", {"Authorization": "SSWS wrong"}, 401, "E0000011"),
    ("GET", "/api/v1/users", {"Authorization": ""}, 401, "E0000011"),
    ("GET", "/api/v1/users?search=profile.firstName+sw+%22A%22", None, 400, "E0000031"),
])
def test_errors_have_okta_shape(http, method, path, headers, status, code):
    """Given a bad request, when Okta would refuse it, then the status and the five-field error body match."""
    response = http.request(method, path, headers=headers)
    assert response.status_code == status
    assert set(response.json()) == ERROR_KEYS
    assert response.json()["errorCode"] == code == response.json()["errorLink"]


def test_every_answer_and_a_429_carry_rate_limit_headers(okta, http):
    """Given an injected rate limit, when calling twice, then both answers carry Date and X-Rate-Limit-* and the 429 resets in time."""
    okta.rate_limit(reset_in=5)
    limited, ok = http.get("/api/v1/org"), http.get("/api/v1/org")
    assert (limited.status_code, limited.json()["errorCode"]) == (429, "E0000047")
    assert limited.headers["X-Rate-Limit-Remaining"] == "0"
    date = parsedate_to_datetime(limited.headers["Date"]).timestamp()
    assert int(limited.headers["X-Rate-Limit-Reset"]) - date == 5
    assert ok.status_code == 200
    for name in ("Date", "X-Rate-Limit-Limit", "X-Rate-Limit-Remaining", "X-Rate-Limit-Reset"):
        assert name in ok.headers
    assert int(ok.headers["X-Rate-Limit-Reset"]) > time.time() - 1


@pytest.mark.parametrize("group_type", ["APP_GROUP", "BUILT_IN"])
def test_membership_of_app_and_built_in_groups_cannot_change(okta, http, group_type):
    """Given an APP_GROUP/BUILT_IN group, when PUT/DELETE a member, then 400 E0000001 with a cause and nothing changes."""
    group, user = okta.add_group("Imported", type=group_type), okta.add_user("a@example.com")
    for method in ("PUT", "DELETE"):
        response = http.request(method, f"/api/v1/groups/{group}/users/{user}")
        assert (response.status_code, response.json()["errorCode"]) == (400, "E0000001")
        assert group_type in response.json()["errorCauses"][0]["errorSummary"]
    assert okta.members(group) == set() and okta.membership_writes() == []


def test_membership_writes_are_idempotent(okta, http):
    """Given an OKTA_GROUP, when PUT twice then DELETE twice, then all answer 204 and membership follows."""
    group, user = okta.add_group("Engineers"), okta.add_user("a@example.com")
    path = f"/api/v1/groups/{group}/users/{user}"
    assert [http.put(path).status_code for _ in range(2)] == [204, 204]
    assert okta.members(group) == {user}
    assert [http.delete(path).status_code for _ in range(2)] == [204, 204]
    assert okta.members(group) == set() and len(okta.membership_writes()) == 4


def test_read_only_token_reads_but_cannot_write(okta):
    """Given a read-only token, when it reads and then writes, then GET is 200 and PUT is 403 E0000006."""
    group, user = okta.add_group("Engineers"), okta.add_user("a@example.com")
    with httpx.Client(base_url=okta.url, headers={"Authorization": f"SSWS {READ_ONLY}"}) as ro:
        assert ro.get(f"/api/v1/groups/{group}").status_code == 200
        response = ro.put(f"/api/v1/groups/{group}/users/{user}")
    assert (response.status_code, response.json()["errorCode"]) == (403, "E0000006")
    assert okta.members(group) == set()


def test_groups_expand_stats_and_q_prefix(okta, http):
    """Given groups with members, when listing with q and expand=stats, then only prefix matches come with counts."""
    eng, user = okta.add_group("Engineers"), okta.add_user("a@example.com")
    okta.add_group("Sales")
    okta.add_member(eng, user)
    groups = http.get("/api/v1/groups", params={"q": "eng", "expand": "stats"}).json()
    assert [(g["id"], g["_embedded"]["stats"]["usersCount"]) for g in groups] == [(eng, 1)]


def client_for(okta, token: str) -> httpx.Client:
    return httpx.Client(base_url=okta.url, headers={"Authorization": f"SSWS {token}"})


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


# -- apps -----------------------------------------------------------------------------------------
def test_apps_page_and_filter_on_status(okta, http):
    """Given 4 apps (1 inactive), when listing with filter status eq "ACTIVE", then 1 full page + a next link that keeps the filter, then the rest."""
    ids = [okta.add_app(f"App {i}") for i in range(3)]
    okta.add_app("Retired", status="INACTIVE", sign_on_mode="BOOKMARK")
    first = http.get("/api/v1/apps", params={"filter": 'status eq "ACTIVE"', "limit": 2})
    second = http.get(first.links["next"]["url"])
    assert [a["id"] for a in first.json() + second.json()] == ids and "next" not in second.links
    assert "filter=status+eq+%22ACTIVE%22" in first.links["next"]["url"]
    app = first.json()[0]
    assert {"id", "label", "status", "signOnMode", "created", "lastUpdated"} <= set(app)
    bad = http.get("/api/v1/apps", params={"filter": 'name eq "x"'})
    assert error_of(bad) == (400, "E0000031")


def test_group_assignment_makes_members_group_scope_and_a_direct_one_wins(okta, http):
    """Given a group assigned to an app and one member also assigned directly, when reading app users, then scopes are GROUP and USER with Okta's fields."""
    app, group = okta.add_app("Wiki"), okta.add_group("Writers")
    ann, bob = okta.add_user("ann@example.com"), okta.add_user("bob@example.com")
    for user in (ann, bob):
        okta.add_member(group, user)
    okta.assign_app_group(app, group)
    okta.assign_app_user(app, bob)
    users = {u["id"]: u for u in http.get(f"/api/v1/apps/{app}/users").json()}
    assert {uid: u["scope"] for uid, u in users.items()} == {ann: "GROUP", bob: "USER"}
    assert users[ann]["_links"]["group"]["name"] == "Writers"
    assert {"created", "lastUpdated", "status", "credentials"} <= set(users[ann])
    assert okta.app_users(app) == {ann: "GROUP", bob: "USER"}
    assigned = http.get(f"/api/v1/apps/{app}/groups/{group}")
    assert assigned.status_code == 200 and "lastUpdated" in assigned.json()
    assert http.get("/api/v1/groups", params={"expand": "stats"}).json()[0][
        "_embedded"]["stats"]["appsCount"] == 1


def test_assign_and_unassign_a_user(okta, http):
    """Given an app, when POSTing a user then DELETEing them twice, then 200 AppUser, 204, then 404 E0000007."""
    app, user = okta.add_app("Wiki"), okta.add_user("ann@example.com")
    body = {"id": user, "scope": "USER", "credentials": {"userName": "ann@example.com"}}
    created = http.post(f"/api/v1/apps/{app}/users", json=body)
    assert created.status_code == 200
    assert {k: created.json()[k] for k in ("id", "scope", "status")} == {
        "id": user, "scope": "USER", "status": "ACTIVE"}
    assert created.json()["lastUpdated"] and created.json()["created"]
    path = f"/api/v1/apps/{app}/users/{user}"
    assert [http.delete(path).status_code, error_of(http.delete(path))] == [204, (404, "E0000007")]
    assert error_of(http.get(path)) == (404, "E0000007") and okta.app_users(app) == {}


def test_a_group_covered_user_cannot_be_deleted_only_converted(okta, http):
    """Given a direct user also covered by an assigned group, when DELETEing, then 403 E0000046; converting to GROUP works; leaving the group ends the access."""
    app, group, user = okta.add_app("Wiki"), okta.add_group("Writers"), okta.add_user("a@example.com")
    okta.add_member(group, user)
    okta.assign_app_group(app, group)
    okta.assign_app_user(app, user)
    path = f"/api/v1/apps/{app}/users/{user}"
    refused = http.delete(path)
    assert error_of(refused) == (403, "E0000046")
    assert "group memberships grant them access" in refused.json()["errorCauses"][0]["errorSummary"]
    converted = http.post(path, json={"scope": "GROUP"})
    assert (converted.status_code, converted.json()["scope"]) == (200, "GROUP")
    assert http.post(path, json={"scope": "USER"}).json()["scope"] == "USER"
    http.post(path, json={"scope": "GROUP"})
    http.delete(f"/api/v1/groups/{group}/users/{user}")
    assert okta.app_users(app) == {}


def test_converting_to_group_scope_needs_a_covering_group(okta, http):
    """Given a direct user in no assigned group, when POSTing scope GROUP, then 400 E0000001 and the assignment stays USER."""
    app, user = okta.add_app("Wiki"), okta.add_user("a@example.com")
    okta.assign_app_user(app, user)
    response = http.post(f"/api/v1/apps/{app}/users/{user}", json={"scope": "GROUP"})
    assert error_of(response) == (400, "E0000001") and okta.app_users(app) == {user: "USER"}


def test_app_group_assignment_put_and_delete(okta, http):
    """Given an app and a group, when PUT, GET, DELETE, GET, then 200 with lastUpdated, 200, 204, 404 E0000007."""
    app, group = okta.add_app("Wiki"), okta.add_group("Writers")
    path = f"/api/v1/apps/{app}/groups/{group}"
    put = http.put(path)
    assert put.status_code == 200 and put.json()["id"] == group and put.json()["lastUpdated"]
    assert http.get(path).status_code == 200
    assert http.delete(path).status_code == 204 and error_of(http.get(path)) == (404, "E0000007")
    assert [c.method for c in okta.app_writes()] == ["PUT", "DELETE"]


# -- admin roles ----------------------------------------------------------------------------------
def test_role_assignment_lifecycle(okta, http):
    """Given a user, when POSTing a role twice, listing, and DELETEing, then 201 with Okta's fields, 409 E0000090, the list, 204."""
    user = okta.add_user("a@example.com")
    created = http.post(f"/api/v1/users/{user}/roles", json={"type": "APP_ADMIN"})
    assert created.status_code == 201
    assert {k: created.json()[k] for k in ("type", "label", "status", "assignmentType")} == {
        "type": "APP_ADMIN", "label": "Application Administrator", "status": "ACTIVE",
        "assignmentType": "USER"}
    assert created.json()["created"] and created.json()["lastUpdated"] and created.json()["id"]
    duplicate = http.post(f"/api/v1/users/{user}/roles", json={"type": "APP_ADMIN"})
    assert error_of(duplicate) == (409, "E0000090")
    assert [r["id"] for r in http.get(f"/api/v1/users/{user}/roles").json()] == [created.json()["id"]]
    assert http.delete(f"/api/v1/users/{user}/roles/{created.json()['id']}").status_code == 204
    assert okta.user_roles(user) == set() and len(okta.role_writes()) == 2
    unknown = http.post(f"/api/v1/users/{user}/roles", json={"type": "KING"})
    assert error_of(unknown) == (400, "E0000001")


def test_group_roles_show_on_members_and_are_never_paged(okta, http):
    """Given a group holding 5 roles (page size 3), when listing its roles and a member's, then one answer without rel="next", assignmentType GROUP."""
    group, user = okta.add_group("Admins"), okta.add_user("a@example.com")
    okta.add_member(group, user)
    types = ["APP_ADMIN", "HELP_DESK_ADMIN", "MOBILE_ADMIN", "REPORT_ADMIN", "ORG_ADMIN"]
    for role_type in types:
        okta.assign_group_role(group, role_type)
    response = http.get(f"/api/v1/groups/{group}/roles")
    assert len(response.json()) == 5 and "next" not in response.links
    member_roles = http.get(f"/api/v1/users/{user}/roles").json()
    assert {(r["type"], r["assignmentType"]) for r in member_roles} == {(t, "GROUP") for t in types}


def test_role_assignees_page_by_link_header_and_body(okta, http):
    """Given 4 users with roles (one via a group) and 1 without, when paging /iam/assignees/users, then 2 pages carry `value` and a next link in both the header and the body."""
    holders = [okta.add_user(f"u{i}@example.com") for i in range(3)]
    okta.add_user("none@example.com")
    for user in holders:
        okta.assign_role(user, "REPORT_ADMIN")
    group, via_group = okta.add_group("Admins"), okta.add_user("g@example.com")
    okta.add_member(group, via_group)
    okta.assign_group_role(group, "APP_ADMIN")
    first = http.get("/api/v1/iam/assignees/users")
    second = http.get(first.links["next"]["url"])
    assert first.json()["_links"]["next"]["href"] == first.links["next"]["url"]
    assert [u["id"] for u in first.json()["value"] + second.json()["value"]] == holders + [via_group]
    assert "next" not in second.links and second.json()["_links"] == {}


# -- token tiers ----------------------------------------------------------------------------------
def test_users_me_is_the_token_owner_who_is_never_listed(okta, http):
    """Given a super admin token, when asking for users/me and its roles, then the owner holds SUPER_ADMIN and is absent from /users and the assignees."""
    me = http.get("/api/v1/users/me").json()
    assert me["id"] == okta.token_owner(TOKEN)
    assert [r["type"] for r in http.get("/api/v1/users/me/roles").json()] == ["SUPER_ADMIN"]
    assert me["id"] not in [u["id"] for u in http.get("/api/v1/users").json()]
    assert http.get("/api/v1/iam/assignees/users").json()["value"] == []


def test_group_app_admin_reads_and_changes_groups_and_apps_but_not_roles(okta):
    """Given a read-only + app admin + group admin token, when it reads and writes, then role reads and writes answer 403 E0000006, the rest succeed."""
    group, user, app = okta.add_group("G"), okta.add_user("a@example.com"), okta.add_app("Wiki")
    with client_for(okta, GROUP_APP) as admin:
        assert admin.get("/api/v1/users/me").status_code == 200
        for method, path in [("GET", f"/api/v1/users/{user}/roles"), ("GET", "/api/v1/users/me/roles"),
                             ("GET", "/api/v1/iam/assignees/users"), ("GET", f"/api/v1/groups/{group}/roles")]:
            assert error_of(admin.request(method, path)) == (403, "E0000006")
        denied = admin.post(f"/api/v1/users/{user}/roles", json={"type": "APP_ADMIN"})
        assert error_of(denied) == (403, "E0000006")
        assert admin.put(f"/api/v1/groups/{group}/users/{user}").status_code == 204
        assert admin.post(f"/api/v1/apps/{app}/users", json={"id": user}).status_code == 200
    assert okta.user_roles(user) == set()


def test_read_only_tier_is_a_custom_role_that_reads_roles_and_writes_nothing(okta):
    """Given the custom read-only token, when it reads its roles and permissions and tries writes, then reads succeed and writes answer 403 E0000006."""
    app, user = okta.add_app("Wiki"), okta.add_user("a@example.com")
    with client_for(okta, READ_ONLY) as ro:
        [custom] = ro.get("/api/v1/users/me/roles").json()
        assert (custom["type"], custom["label"]) == ("CUSTOM", "Latchkey read-only")
        permissions = ro.get(f"/api/v1/iam/roles/{custom['role']}/permissions").json()
        assert "okta.iam.read" in [p["label"] for p in permissions["permissions"]]
        assert ro.get("/api/v1/iam/assignees/users").status_code == 200
        for response in (ro.post(f"/api/v1/apps/{app}/users", json={"id": user}),
                         ro.post(f"/api/v1/users/{user}/roles", json={"type": "APP_ADMIN"})):
            assert error_of(response) == (403, "E0000006")
    assert okta.app_users(app) == {} and okta.app_writes() == []


def test_revoking_a_users_sessions_ends_them_and_tokens_only_when_asked(okta, http):
    """Given a user signed in twice with three OAuth tokens, when their sessions are revoked,
    then 204 and no sessions remain; their tokens go only with oauthTokens=true (Okta's default
    is false); a bad flag is a 400 and an unknown user a 404, in Okta's error shape."""
    user = okta.add_user("bo@acme.com")
    okta.sign_in(user, tokens=3)
    okta.sign_in(user)
    assert http.delete(f"/api/v1/users/{user}/sessions").status_code == 204
    assert okta.signed_in(user) == (0, 3)
    okta.sign_in(user)
    assert http.delete(f"/api/v1/users/{user}/sessions", params={"oauthTokens": "true"}).status_code == 204
    assert okta.signed_in(user) == (0, 0)
    assert error_of(http.delete(f"/api/v1/users/{user}/sessions", params={"oauthTokens": "yes"})) == (400, "E0000001")
    assert error_of(http.delete("/api/v1/users/00unobody/sessions")) == (404, "E0000007")


def test_a_read_only_token_cannot_end_sessions(okta):
    user = okta.add_user("bo@acme.com")
    okta.sign_in(user)
    with client_for(okta, READ_ONLY) as client:
        assert error_of(client.delete(f"/api/v1/users/{user}/sessions")) == (403, "E0000006")
    assert okta.signed_in(user) == (1, 0)

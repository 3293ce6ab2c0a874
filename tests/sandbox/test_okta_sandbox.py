"""The Okta sandbox answers like Okta: Link pagination, hidden deprovisioned users, error bodies,
rate-limit headers, and the write rules for group types and read-only tokens."""

from __future__ import annotations

import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from sandbox.okta import OktaSandbox

TOKEN = "okta-test-token"
READ_ONLY = "okta-read-only-token"
ERROR_KEYS = {"errorCode", "errorSummary", "errorLink", "errorId", "errorCauses"}


@pytest.fixture
def okta():
    with OktaSandbox(page_size=3, tokens={TOKEN: "super_admin", READ_ONLY: "read_only"}) as sandbox:
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

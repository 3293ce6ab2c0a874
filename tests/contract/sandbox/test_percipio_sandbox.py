"""The Percipio sandbox answers like Percipio: offset paging with x-total-count, the stateful
catalog paging, search, the report request/poll flow, org-bound and per-API tokens, and faults."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from sandbox.percipio import DEFAULT_ORGANIZATION, PercipioSandbox

TOKEN = "percipio-test-token"
NO_REPORTS = "percipio-no-reports-token"
ORG = DEFAULT_ORGANIZATION
USERS = f"/user-management/v1/organizations/{ORG}/users"
CATALOG = f"/content-discovery/v2/organizations/{ORG}/catalog-content"
SEARCH = f"/content-discovery/v1/organizations/{ORG}/search-content"
REPORTS = f"/reporting/v1/organizations/{ORG}/report-requests"
REPORT_BODY = {"start": "2016-01-01T00:00:00Z", "end": "2026-01-01T00:00:00Z",
               "contentType": "Course,Assessment"}


@pytest.fixture
def percipio():
    tokens = {TOKEN: "user-management,content-discovery,reporting",
              NO_REPORTS: "user-management,content-discovery"}
    with PercipioSandbox(page_size=3, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def http(percipio):
    with httpx.Client(base_url=percipio.url, headers={"Authorization": f"Bearer {TOKEN}"}) as c:
        yield c


def test_users_page_by_offset_with_total_count(percipio, http):
    """Given 7 users and page size 3, when paging by offset, then 3 pages carry x-total-count 7 and every user once."""
    ids = [percipio.add_user(f"u{i}@example.com") for i in range(7)]
    pages = [http.get(USERS, params={"offset": offset, "max": 1000}) for offset in (0, 3, 6)]
    assert [p.headers["x-total-count"] for p in pages] == ["7", "7", "7"]
    assert [u["id"] for p in pages for u in p.json()] == ids
    assert http.get(USERS, params={"max": 1001}).status_code == 400


def test_catalog_pages_within_one_paging_request(percipio, http):
    """Given 7 courses, when paging the catalog, then page 1 names the paging request and the last offset, and later pages need it."""
    ids = [percipio.add_course(f"Course {i}") for i in range(7)]
    first = http.get(CATALOG, params={"offset": 0, "max": 1000})
    paging_id = first.headers["x-paging-request-id"]
    last = parse_qs(urlsplit(first.links["last"]["url"]).query)
    assert last["offset"] == ["6"] and last["pagingRequestId"] == [paging_id]
    percipio.add_course("Added mid-sync")  # not in the snapshot the paging request reads
    later = [http.get(CATALOG, params={"offset": o, "max": 1000, "pagingRequestId": paging_id})
             for o in (3, 6)]
    assert [c["id"] for page in (first, *later) for c in page.json()] == ids
    assert http.get(CATALOG, params={"offset": 3}).status_code == 400
    assert http.get(CATALOG, params={"offset": 3, "pagingRequestId": "nope"}).status_code == 400


def test_empty_catalog_is_no_content(http):
    """Given no licensed content, when reading the catalog, then 204 with a paging id and no Link."""
    response = http.get(CATALOG)
    assert (response.status_code, response.content) == (204, b"")
    assert "x-paging-request-id" in response.headers and "link" not in response.headers


def test_search_matches_ids_and_titles_within_type_filter(percipio, http):
    """Given a course, an assessment and a video, when searching, then q matches id or title within typeFilter."""
    course = percipio.add_course("Secure Coding")
    percipio.add_course("Secure Coding Quiz", percipio_type="ASSESSMENT")
    percipio.add_course("Secure Coding Video", percipio_type="VIDEO")
    by_id = http.get(SEARCH, params={"q": course, "typeFilter": "COURSE,ASSESSMENT"}).json()
    by_title = http.get(SEARCH, params={"q": "secure", "typeFilter": "COURSE,ASSESSMENT"}).json()
    assert [c["id"] for c in by_id] == [course]
    assert sorted(c["contentType"]["percipioType"] for c in by_title) == ["ASSESSMENT", "COURSE"]
    assert http.get(SEARCH, params={"q": ""}).status_code == 400
    assert http.get(SEARCH, params={"q": "x", "typeFilter": "SONG"}).status_code == 400


def test_report_is_pending_then_rows(percipio, http):
    """Given progress and two pending polls, when requesting and polling a report, then PENDING, IN_PROGRESS twice, then the rows."""
    user, course = percipio.add_user("a@example.com"), percipio.add_course("Go")
    video = percipio.add_course("Clip", percipio_type="VIDEO")
    percipio.add_progress(user, course, "Completed")
    percipio.add_progress(user, video, "Started")
    percipio.pending_polls = 2
    created = http.post(f"{REPORTS}/learning-activity", json=REPORT_BODY).json()
    assert created["status"] == "PENDING"
    polls = [http.get(f"{REPORTS}/{created['id']}").json() for _ in range(3)]
    assert [p["status"] for p in polls[:2]] == ["IN_PROGRESS", "IN_PROGRESS"]
    assert [(r["userUuid"], r["contentUuid"], r["status"]) for r in polls[2]] == \
        [(user, course, "Completed")]  # the video is outside contentType
    assert http.get(f"{REPORTS}/{ORG}").status_code == 404


def test_report_request_is_validated(http):
    """Given a report request whose start is after its end or unparsable, when posting it, then 400."""
    late = {**REPORT_BODY, "start": "2030-01-01T00:00:00Z"}
    assert http.post(f"{REPORTS}/learning-activity", json=late).status_code == 400
    assert http.post(f"{REPORTS}/learning-activity", json={"start": "x"}).status_code == 400


def test_lookup_by_login_name_or_email_ignores_case(percipio, http):
    """Given a user with a distinct login name, when looking up by either in any case, then found; else 404."""
    user = percipio.add_user("Ada@Example.com", login_name="ada.l")
    base = f"{USERS}/login-name-or-email"
    assert http.get(f"{base}/ada%40example.com").json()["id"] == user
    assert http.get(f"{base}/ADA.L").json()["id"] == user
    assert http.get(f"{base}/nobody%40example.com").status_code == 404


@pytest.mark.parametrize("token, path, status", [
    ("wrong", USERS, 401),
    (TOKEN, USERS.replace(ORG, "00000000-0000-0000-0000-000000000001"), 403),
    (NO_REPORTS, f"{REPORTS}/{ORG}", 403),
    (NO_REPORTS, USERS, 200),
])
def test_tokens_are_bound_to_one_org_and_their_apis(http, token, path, status):
    """Given an unknown token, another org's path, or an API the token lacks, when calling, then 401/403 with a message."""
    response = http.get(path, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status
    if status != 200:
        assert set(response.json()) == {"message"} and token not in response.text


def test_rate_limit_and_failure_are_injected_once(percipio, http):
    """Given an injected 429 (offset and epoch forms) and a 503, when calling, then those answers come first, then 200."""
    percipio.rate_limit(reset_in=5)
    percipio.rate_limit(reset_in=5, epoch=True)
    percipio.fail(503)
    offset, epoch, failed, ok = (http.get(USERS) for _ in range(4))
    assert (offset.status_code, offset.headers["X-RateLimit-Reset"]) == (429, "5")
    assert epoch.status_code == 429
    assert int(epoch.headers["X-RateLimit-Reset"]) - time.time() == pytest.approx(5, abs=1.5)
    assert (failed.status_code, ok.status_code) == (503, 200)

"""The Percipio connector against the Percipio sandbox over real HTTP: sync users and courses to the
end of Percipio's paging, limit courses to course_ids, read grants from the learning-activity
report, refuse to provision, retry 429/5xx, and report a token's missing permissions."""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

import pytest

from connectors.base import (
    ConnectorError,
    InvalidRequestError,
    PermissionDeniedError,
    Prior,
    RateLimitedError,
    Resource,
    TransientError,
)
from connectors.http import FIRST_BACKOFF, RATE_LIMIT_JITTER
from connectors.percipio.client import DEFAULT_BASE_URL, EU_BASE_URL, PercipioClient
from connectors.percipio.connector import PercipioConnector
from sandbox.percipio import DEFAULT_ORGANIZATION as ORG
from sandbox.percipio import PercipioSandbox
from sandbox.server import Reply
from tests.support.connectors import MAX_ATTEMPTS, drain, error_texts, url_with_no_listener

TOKEN = "percipio-secret-9c1e4b"  # distinctive, so a leak into a message is easy to spot
NO_REPORTS = "percipio-no-reports-secret-2d7f"
PAGE = 3
POLL = 60.0
USERS = f"/user-management/v1/organizations/{ORG}/users"
CATALOG = f"/content-discovery/v2/organizations/{ORG}/catalog-content"
SEARCH = f"/content-discovery/v1/organizations/{ORG}/search-content"
REPORT_POST = f"/reporting/v1/organizations/{ORG}/report-requests/learning-activity"
REPORT_GET = f"/reporting/v1/organizations/{ORG}/report-requests/(?!learning-activity)[^/]+"


@pytest.fixture
def percipio() -> Iterator[PercipioSandbox]:
    tokens = {TOKEN: "user-management,content-discovery,reporting",
              NO_REPORTS: "user-management,content-discovery"}
    with PercipioSandbox(page_size=PAGE, tokens=tokens) as sandbox:
        yield sandbox


@pytest.fixture
def org(percipio: PercipioSandbox) -> dict[str, str]:
    """8 users (one inactive) and a catalog of 8: 5 courses, 1 assessment, 1 inactive, 1 video."""
    ids = {"ada": percipio.add_user("Ada@Example.com", "Ada", "Lovelace")}
    ids |= {f"user{i}": percipio.add_user(f"user{i}@example.com") for i in range(6)}
    ids["gone"] = percipio.add_user("gone@example.com", active=False)
    ids["go"] = percipio.add_course("Go Basics", description="Learn Go")
    ids["rust"] = percipio.add_course("Rust für alle", locale="de-DE")
    ids["coded"] = percipio.add_course(None, code="sec_01_a01")
    ids["bare"] = percipio.add_course(None)
    ids["sql"] = percipio.add_course("SQL")
    ids["quiz"] = percipio.add_course("Go Quiz", percipio_type="ASSESSMENT")
    ids["retired"] = percipio.add_course("COBOL", status="INACTIVE")
    ids["video"] = percipio.add_course("Go Video", percipio_type="VIDEO")
    return ids


def make_connector(percipio: PercipioSandbox, waits: list[float], token: str = TOKEN,
                   **options) -> PercipioConnector:
    client = PercipioClient(percipio.url, token, ORG, max_attempts=MAX_ATTEMPTS,
                            sleep=waits.append, report_poll_interval=POLL,
                            report_max_polls=options.pop("report_max_polls", 5))
    return PercipioConnector(client, **options)


@pytest.fixture
def connector(percipio, waits, closing) -> PercipioConnector:
    return closing(make_connector(percipio, waits))


def all_courses(connector: PercipioConnector) -> list[Resource]:
    return drain(lambda cursor: connector.list_resources("course", cursor))


def course(org: dict[str, str], key: str) -> Resource:
    return Resource(type="course", id=org[key], name=key)


# -- sync ---------------------------------------------------------------------------------------
def test_accounts_sync_to_the_end_in_the_fewest_pages(percipio, org, connector):
    """Given 8 users and page size 3, when draining accounts, then 3 calls bring all 8 with names and active flags."""
    accounts = {a.id: a for a in drain(connector.list_accounts)}
    calls = percipio.calls_to("GET", USERS)
    assert len(calls) == math.ceil(8 / PAGE)
    assert [c.arg("offset") for c in calls] == ["0", "3", "6"]
    assert len(accounts) == 8
    ada, gone = accounts[org["ada"]], accounts[org["gone"]]
    assert (ada.email, ada.display_name, ada.active) == ("ada@example.com", "Ada Lovelace", True)
    assert (gone.display_name, gone.active) == ("gone@example.com", False)


def test_catalog_syncs_courses_and_assessments_through_one_paging_request(percipio, org, connector):
    """Given a catalog of 8 and page size 3, when draining courses, then 3 calls share one pagingRequestId and only active courses/assessments come back."""
    courses = {c.id: c for c in all_courses(connector)}
    calls = percipio.calls_to("GET", CATALOG)
    assert len(calls) == math.ceil(8 / PAGE)
    assert calls[0].arg("pagingRequestId") is None
    paging_ids = {c.arg("pagingRequestId") for c in calls[1:]}
    assert len(paging_ids) == 1 and None not in paging_ids
    assert set(courses) == {org[k] for k in ("go", "rust", "coded", "bare", "sql", "quiz")}
    names = {key: courses[org[key]].name for key in ("go", "rust", "coded", "bare")}
    assert names == {"go": "Go Basics", "rust": "Rust für alle", "coded": "sec_01_a01",
                     "bare": org["bare"]}
    assert courses[org["go"]].description == "Learn Go"
    assert courses[org["quiz"]].attributes["percipio_type"] == "ASSESSMENT"


def test_a_single_page_catalog_and_an_empty_one_take_one_call(percipio, waits):
    """Given an empty catalog then one of 2, when draining, then each sync is one call."""
    connector = make_connector(percipio, waits)
    assert all_courses(connector) == []
    percipio.add_course("A")
    percipio.add_course("B")
    assert [c.name for c in all_courses(connector)] == ["A", "B"]
    assert len(percipio.calls_to("GET", CATALOG)) == 2
    connector.close()


def test_course_ids_limit_the_sync_to_one_search_each(percipio, org, waits):
    """Given course_ids of a course, an assessment and an unknown id, when draining, then 3 searches, no catalog read, and the 2 known come back."""
    missing = "11111111-2222-3333-4444-555555555555"
    connector = make_connector(percipio, waits, course_ids=[org["go"], org["quiz"], missing])
    courses = all_courses(connector)
    searches = percipio.calls_to("GET", SEARCH)
    assert [c.id for c in courses] == [org["go"], org["quiz"]]
    assert [(c.arg("q"), c.arg("typeFilter")) for c in searches] == \
        [(org["go"], "COURSE,ASSESSMENT"), (org["quiz"], "COURSE,ASSESSMENT"),
         (missing, "COURSE,ASSESSMENT")]
    assert percipio.calls_to("GET", CATALOG) == []
    connector.close()


def test_course_entitlements_are_requestable_but_not_provisionable(org, connector):
    """Given a course, when listing its entitlements, then completed and in_progress are requestable and not provisionable."""
    entitlements = connector.list_entitlements(course(org, "go"))
    assert [(e.id, e.slug) for e in entitlements] == [
        (f"course:{org['go']}:completed", "completed"),
        (f"course:{org['go']}:in_progress", "in_progress")]
    assert all(e.requestable and not e.provisionable for e in entitlements)


def test_find_account_by_email_in_any_case(percipio, org, connector):
    """Given Ada@Example.com, when looking her up in another case or a stranger, then one call each finds her or None."""
    assert connector.find_account(" ADA@example.COM ").id == org["ada"]
    assert connector.find_account("nobody@example.com") is None


# -- grants from the learning-activity report ---------------------------------------------------
def test_grants_come_from_one_report_for_every_course(percipio, org, connector, waits):
    """Given progress on two courses, when listing their grants and checking one, then one report (POST + one GET) answers all, without sleeping."""
    percipio.add_progress(org["ada"], org["go"], "Completed")
    percipio.add_progress(org["user0"], org["go"], "Started")
    percipio.add_progress(org["user1"], org["sql"], "Started")
    percipio.add_progress(org["user2"], org["sql"], "Achieved")  # not a course state we model
    go = connector.list_grants(course(org, "go"))
    sql = connector.list_grants(course(org, "sql"))
    assert {(g.entitlement_id, g.account_id) for g in go.items} == {
        (f"course:{org['go']}:completed", org["ada"]),
        (f"course:{org['go']}:in_progress", org["user0"])}
    assert [(g.entitlement_id, g.account_id) for g in sql.items] == \
        [(f"course:{org['sql']}:in_progress", org["user1"])]
    assert go.next_cursor is None and connector.list_grants(course(org, "rust")).items == []
    assert connector.has_grant(f"course:{org['go']}:completed", org["ada"])
    assert not connector.has_grant(f"course:{org['go']}:in_progress", org["ada"])
    assert len(percipio.calls_to("POST", REPORT_POST)) == 1
    assert len(percipio.calls_to("GET", REPORT_GET)) == 1 and waits == []
    [request] = percipio.reports_requested()
    assert request["contentType"] == "Course,Assessment" and request["start"] < request["end"]


def test_report_polls_sleep_the_poll_interval(percipio, org, connector, waits):
    """Given a report pending for 2 polls, when listing grants, then 3 GETs with 2 sleeps of the poll interval."""
    percipio.pending_polls = 2
    percipio.add_progress(org["ada"], org["go"], "Completed")
    assert [g.account_id for g in connector.list_grants(course(org, "go")).items] == [org["ada"]]
    assert len(percipio.calls_to("GET", REPORT_GET)) == 3 and waits == [POLL, POLL]


def test_a_report_that_never_finishes_gives_up_after_max_polls(percipio, org, waits):
    """Given a report that stays pending, when listing grants with 3 polls allowed, then TransientError after 3 GETs."""
    percipio.pending_polls = 100
    connector = make_connector(percipio, waits, report_max_polls=3)
    with pytest.raises(TransientError, match="not ready after 3 polls"):
        connector.list_grants(course(org, "go"))
    assert len(percipio.calls_to("GET", REPORT_GET)) == 3 and waits == [POLL, POLL]
    connector.close()


def test_a_failed_report_is_an_error(percipio, org, connector):
    """Given a report that ends FAILED, when listing grants, then ConnectorError names the status and error."""
    percipio.report_failure = "export service unavailable"
    with pytest.raises(ConnectorError, match="FAILED, export service unavailable"):
        connector.list_grants(course(org, "go"))


def test_the_report_is_refreshed_once_older_than_its_max_age(percipio, org, waits):
    """Given a 60 s report max age, when grants are read again after 61 s, then a second report shows new progress."""
    now = [0.0]
    connector = make_connector(percipio, waits, report_max_age=60.0, clock=lambda: now[0])
    assert connector.list_grants(course(org, "go")).items == []
    percipio.add_progress(org["ada"], org["go"], "Completed")
    now[0] = 30.0
    assert connector.list_grants(course(org, "go")).items == []
    now[0] = 61.0
    assert [g.account_id for g in connector.list_grants(course(org, "go")).items] == [org["ada"]]
    assert len(percipio.calls_to("POST", REPORT_POST)) == 2
    connector.close()


# -- provisioning is refused --------------------------------------------------------------------
def test_grant_and_revoke_are_refused_without_calling_percipio(percipio, org, connector):
    """Given any course entitlement, when granting or revoking, then InvalidRequestError says Percipio cannot be provisioned, and no call is made."""
    completed = f"course:{org['go']}:completed"
    with pytest.raises(InvalidRequestError, match="cannot be provisioned through its API"):
        connector.grant(completed, org["ada"])
    with pytest.raises(InvalidRequestError, match="cannot be provisioned through its API"):
        connector.revoke(completed, org["ada"], Prior(held=False))
    assert connector.prior(completed, org["ada"]) == Prior(held=False)
    assert percipio.calls == []


@pytest.mark.parametrize("entitlement", [
    "course:abc:assigned", "group:abc:completed", "course::completed", "course:abc", "nonsense"])
def test_unknown_entitlement_ids_are_invalid(org, connector, entitlement):
    """Given an id that is not course:<id>:completed|in_progress, when checking or reading prior, then InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        connector.has_grant(entitlement, org["ada"])
    with pytest.raises(InvalidRequestError):
        connector.prior(entitlement, org["ada"])


@pytest.mark.parametrize("call", [
    lambda c: c.list_resources("user"), lambda c: c.list_accounts("3x"),
    lambda c: c.list_resources("course", "{not json"),
    lambda c: c.list_entitlements(Resource(type="group", id="g", name="g"))])
def test_bad_types_and_cursors_are_invalid(connector, call):
    """Given an unknown resource type or a tampered cursor, when listing, then InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        call(connector)


# -- retries and paging errors ------------------------------------------------------------------
@pytest.mark.parametrize("epoch", [False, True])
def test_429_waits_for_the_reset_then_succeeds(percipio, org, connector, waits, epoch):
    """Given one 429 resetting in 2 s (as seconds or a Unix time), when listing accounts, then one wait of ~2 s and the page arrives."""
    percipio.rate_limit(times=1, path=USERS, reset_in=2, epoch=epoch)
    assert len(connector.list_accounts().items) == PAGE
    assert len(percipio.calls_to("GET", USERS)) == 2 and len(waits) == 1
    assert 1 <= waits[0] <= 2 + RATE_LIMIT_JITTER


def test_5xx_then_success_backs_off_once(percipio, org, connector, waits):
    """Given one 503 on a catalog page, when draining courses, then one backoff and the full sync."""
    percipio.fail(503, path=CATALOG)
    assert len(all_courses(connector)) == 6
    assert len(waits) == 1 and FIRST_BACKOFF <= waits[0] <= FIRST_BACKOFF * 1.25


def test_persistent_5xx_gives_up_after_max_attempts(percipio, org, connector, waits):
    """Given a report POST that always fails, when listing grants, then TransientError after exactly max_attempts POSTs."""
    percipio.fail(500, times=100, path=REPORT_POST)
    with pytest.raises(TransientError, match="500"):
        connector.list_grants(course(org, "go"))
    assert len(percipio.calls_to("POST", REPORT_POST)) == MAX_ATTEMPTS
    assert len(waits) == MAX_ATTEMPTS - 1 and waits == sorted(waits)


def test_persistent_429_raises_rate_limited_with_retry_after(percipio, org, connector):
    """Given users always rate limited, when listing, then RateLimitedError carries the reset after max_attempts calls."""
    percipio.rate_limit(times=100, path=USERS, reset_in=7)
    with pytest.raises(RateLimitedError) as raised:
        connector.list_accounts()
    assert raised.value.retry_after == 7
    assert len(percipio.calls_to("GET", USERS)) == MAX_ATTEMPTS


def test_network_errors_are_transient_after_retries(waits):
    """Given nothing listening on the port, when listing, then TransientError after max_attempts tries."""
    client = PercipioClient(url_with_no_listener(), TOKEN, ORG, max_attempts=MAX_ATTEMPTS,
                            sleep=waits.append)
    with pytest.raises(TransientError, match="GET /user-management"):
        client.list_users()
    client.close()
    assert len(waits) == MAX_ATTEMPTS - 1


@pytest.mark.parametrize("path, reply, problem", [
    (USERS, Reply.json(200, []), "x-total-count"),
    (CATALOG, Reply.json(200, [], {"Link": '<http://x/?offset=3>; rel="next"'}), "rel=\"last\""),
    (CATALOG, Reply.json(200, [], {"Link": '<http://x/?offset=3>; rel="last"'}),
     "x-paging-request-id"),
])
def test_answers_that_hide_the_end_of_paging_are_errors(percipio, org, connector, path, reply,
                                                        problem):
    """Given a page without x-total-count, rel="last" or a paging id, when listing, then ConnectorError rather than a guess."""
    percipio.inject(lambda _call: reply, path=path)
    with pytest.raises(ConnectorError, match=problem):
        if path == USERS:
            connector.list_accounts()
        else:
            connector.list_resources("course")


# -- permissions, capabilities and secrets ------------------------------------------------------
def test_capabilities_with_a_full_token(connector):
    """Given a token with every API, when asking capabilities, then users, courses and completions sync and provisioning is unavailable by design."""
    assert [(c.action, c.subject, c.available) for c in connector.capabilities()] == [
        ("sync", "users", True), ("sync", "courses", True), ("sync", "completions", True),
        ("provision", "course assignment", False)]
    assert "cannot be provisioned through its API" in connector.capabilities()[3].reason


def test_a_token_without_reporting_is_denied_and_reported(percipio, org, waits):
    """Given a token lacking the reporting API, when listing grants and asking capabilities, then PermissionDeniedError without retry, and completions unavailable with the reason."""
    connector = make_connector(percipio, waits, NO_REPORTS)
    with pytest.raises(PermissionDeniedError, match="403"):
        connector.list_grants(course(org, "go"))
    assert waits == []
    available = {c.subject: c.available for c in connector.capabilities()}
    assert available == {"users": True, "courses": True, "completions": False,
                         "course assignment": False}
    reason = next(c.reason for c in connector.capabilities() if c.subject == "completions")
    assert "403" in reason and "reporting" in reason
    connector.close()


def test_capabilities_raise_when_percipio_is_down_rather_than_blame_the_token(percipio, connector):
    """Given users answering 503 on every try, when asking capabilities, then TransientError, not an unavailable capability."""
    percipio.fail(503, times=MAX_ATTEMPTS, path=USERS)
    with pytest.raises(TransientError):
        connector.capabilities()


def test_a_token_for_another_organization_is_denied(percipio, waits):
    """Given a client configured with another org's UUID, when syncing, then PermissionDeniedError and nothing syncs in capabilities."""
    client = PercipioClient(percipio.url, TOKEN, "00000000-0000-0000-0000-0000000000aa",
                            sleep=waits.append)
    connector = PercipioConnector(client)
    with pytest.raises(PermissionDeniedError):
        connector.list_accounts()
    assert not any(c.available for c in connector.capabilities())
    connector.close()


def test_token_never_appears_in_errors_or_logs(percipio, org, waits, caplog):
    """Given every kind of failure, when each is raised, then no token appears in messages, causes or logs."""
    caplog.set_level(logging.DEBUG)
    bad_token = "percipio-wrong-secret-77ee"
    wrong, no_reports, full = (make_connector(percipio, waits, t)
                               for t in (bad_token, NO_REPORTS, TOKEN))
    percipio.fail(502, times=MAX_ATTEMPTS, path=CATALOG)
    percipio.rate_limit(times=MAX_ATTEMPTS, path=f"{USERS}/login-name-or-email/.*")
    failures = [
        wrong.list_accounts,
        lambda: no_reports.list_grants(course(org, "go")),
        lambda: full.list_resources("course"),
        lambda: full.find_account("ada@example.com"),
        lambda: full.grant(f"course:{org['go']}:completed", org["ada"]),
        lambda: full.has_grant("nonsense", org["ada"]),
    ]
    texts = error_texts(failures)
    texts += [c.reason for c in wrong.capabilities()] + [caplog.text]
    for connector in (wrong, no_reports, full):
        connector.close()
    assert not [t for t in texts if TOKEN in t or NO_REPORTS in t or bad_token in t]
    assert "retrying" in caplog.text


# -- configuration ------------------------------------------------------------------------------
def test_organization_id_must_be_a_uuid():
    """Given an organization id that is not a UUID, when building the client, then ValueError names it."""
    with pytest.raises(ValueError, match="must be a UUID"):
        PercipioClient(DEFAULT_BASE_URL, TOKEN, "acme-corp")


def test_base_urls_and_headers(percipio, org, waits):
    """Given the US/EU hosts, a trailing slash and an upper-case org UUID, when calling, then Bearer and JSON headers reach the canonical org path."""
    assert (DEFAULT_BASE_URL, EU_BASE_URL) == ("https://api.percipio.com",
                                               "https://dew1-api.percipio.com")
    client = PercipioClient(percipio.url + "/", TOKEN, ORG.upper(), sleep=waits.append)
    client.probe_users()
    client.close()
    [call] = percipio.calls_to("GET", USERS)
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["accept"] == "application/json"

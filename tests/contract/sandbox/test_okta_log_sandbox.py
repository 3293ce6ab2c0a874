"""The Okta sandbox's System Log against Okta's System Log API reference (developer.okta.com):
the events a change records, polling and bounded reads, filters, retention, rate-limit headers,
and the faults a reader must survive.  Requests are made here with httpx, as the reference shows
them, not through Latchkey's client."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import httpx
import pytest

from sandbox.okta import OktaSandbox
from sandbox.okta_log import iso
from tests.support.okta_oauth import client_assertion, public_jwk, rsa_key, token_form

TOKEN = "okta-log-token"
LOGS = "/api/v1/logs"
RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
DAY = 86400


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    with OktaSandbox(page_size=3, tokens={TOKEN: "super_admin"}) as sandbox:
        yield sandbox


@pytest.fixture
def org(okta) -> dict[str, str]:
    return {"ada": okta.add_user("ada@example.com", "Ada", "Lovelace"),
            "bob": okta.add_user("bob@example.com", "Bob", "Builder"),
            "eng": okta.add_group("eng-admins"), "app": okta.add_app("Salesforce")}


def get(okta, url: str = LOGS, **params) -> httpx.Response:
    target = url if url.startswith("http") else okta.url + url
    return httpx.get(target, params=params or None, headers={"Authorization": f"SSWS {TOKEN}"})


def put_member(okta, group: str, user: str) -> None:
    response = httpx.put(f"{okta.url}/api/v1/groups/{group}/users/{user}",
                         headers={"Authorization": f"SSWS {TOKEN}"})
    assert response.status_code == 204


def since(seconds_ago: float = 60) -> str:
    return iso(time.time() - seconds_ago)


def types(response: httpx.Response) -> list[str]:
    return [event["eventType"] for event in response.json()]


# -- what a change records --------------------------------------------------------------------
def test_a_membership_added_through_the_api_is_logged_as_okta_logs_it(okta, org):
    """Given a token's admin adds a user to a group, then one group.user_membership.add event
    carries the LogEvent fields the reference requires, the admin as actor, and the user and
    the group as targets."""
    put_member(okta, org["eng"], org["ada"])
    put_member(okta, org["eng"], org["ada"])  # already a member: nothing changes, nothing logged
    [event] = get(okta, since=since()).json()
    assert event["eventType"] == "group.user_membership.add" and event["version"] == "0"
    assert re.fullmatch(r"[0-9a-f-]{36}", event["uuid"]) and RFC3339_MS.fullmatch(event["published"])
    assert event["severity"] == "INFO" and event["outcome"]["result"] == "SUCCESS"
    assert event["actor"]["type"] == "User" and event["actor"]["id"] == okta.token_owner(TOKEN)
    assert [(t["type"], t["id"]) for t in event["target"]] == [("User", org["ada"]),
                                                               ("UserGroup", org["eng"])]
    assert event["target"][0]["alternateId"] == "ada@example.com"
    assert event["target"][1]["displayName"] == "eng-admins"


def test_a_group_assigned_to_an_app_gives_its_new_members_the_app_in_the_log(okta, org):
    """Given a group assigned to an app, when a user joins the group, then the log shows the
    membership and the app assignment it brings (targets AppUser, AppInstance, User)."""
    okta.assign_app_group(org["app"], org["eng"])
    put_member(okta, org["eng"], org["bob"])
    first, second = get(okta, since=since()).json()
    assert (first["eventType"], second["eventType"]) == ("group.user_membership.add",
                                                         "application.user_membership.add")
    assert [t["type"] for t in second["target"]] == ["AppUser", "AppInstance", "User"]
    assert second["target"][1]["id"] == org["app"] and second["target"][2]["id"] == org["bob"]


def test_the_console_records_what_an_admin_does_by_hand(okta, org):
    """Given changes made in the Admin Console, then each is logged with its event type, the
    human admin as actor, and the targets Okta names (a role by its label)."""
    group = okta.console.create_group("new-team")
    okta.console.add_member(group, org["ada"])
    okta.console.assign_app(org["app"], org["bob"])
    okta.console.grant_role(org["bob"], "HELP_DESK_ADMIN")
    okta.console.revoke_role(org["bob"], "HELP_DESK_ADMIN")
    okta.console.unassign_app(org["app"], org["bob"])
    okta.console.delete_group(group)
    okta.console.deactivate_user(org["ada"])
    events = get(okta, since=since(), limit="100").json()
    assert [e["eventType"] for e in events] == [
        "group.lifecycle.create", "group.user_membership.add", "application.user_membership.add",
        "user.account.privilege.grant", "user.account.privilege.revoke",
        "application.user_membership.remove", "group.user_membership.remove",
        "group.lifecycle.delete", "user.lifecycle.deactivate"]
    assert {e["actor"]["alternateId"] for e in events} == {"it-admin@acme.example"}
    grant = events[3]
    assert [(t["type"], t["displayName"]) for t in grant["target"]] == [
        ("User", "Bob Builder"), ("ROLE", "Help Desk Administrator")]
    assert okta.members(org["eng"]) == set() and okta.user_roles(org["bob"]) == set()


# -- polling ------------------------------------------------------------------------------------
def test_polling_reads_on_from_the_next_link_which_is_always_there(okta, org):
    """Given a polling read (since, no until, ascending), then each page links to the next,
    even when empty, and reading the next link returns only what was stored since."""
    put_member(okta, org["eng"], org["ada"])
    first = get(okta, since=since(), limit="1")
    assert types(first) == ["group.user_membership.add"] and "next" in first.links
    empty = get(okta, first.links["next"]["url"])
    assert empty.json() == [] and "next" in empty.links
    okta.console.remove_member(org["eng"], org["ada"])
    later = get(okta, empty.links["next"]["url"])
    assert types(later) == ["group.user_membership.remove"]
    assert get(okta, later.links["next"]["url"]).json() == []


def test_polling_returns_events_in_the_order_stored_even_when_published_earlier(okta, org):
    """Given an event that reached the log late (published before one stored earlier), then a
    polling read returns it in storage order and a bounded read in published order."""
    okta.system_log.record("user.lifecycle.suspend", {"id": "x", "type": "User"}, [])
    okta.system_log.record("user.lifecycle.activate", {"id": "x", "type": "User"}, [],
                           published=time.time() - 30)
    assert types(get(okta, since=since())) == ["user.lifecycle.suspend", "user.lifecycle.activate"]
    assert types(get(okta, since=since(), until=iso(time.time() + 1))) == [
        "user.lifecycle.activate", "user.lifecycle.suspend"]


def test_a_bounded_read_has_a_last_page_and_may_be_descending(okta, org):
    for user in (org["ada"], org["bob"]):
        put_member(okta, org["eng"], user)
    okta.console.remove_member(org["eng"], org["ada"])
    window = {"since": since(), "until": iso(time.time() + 1), "limit": "2"}
    first = get(okta, **window, sortOrder="DESCENDING")
    assert types(first) == ["group.user_membership.remove", "group.user_membership.add"]
    last = get(okta, first.links["next"]["url"])
    assert len(last.json()) == 1 and "next" not in last.links


def test_what_the_reference_refuses_is_refused(okta):
    """since with after, a malformed time, a limit over 1,000, since over 180 days back, and a
    filter on `published` or one that does not parse are each a 400 with Okta's error body."""
    cursor = get(okta, since=since()).links["next"]["url"]
    refused = {
        "since and after": get(okta, cursor + "&since=" + since()),
        "malformed": get(okta, since="yesterday"),
        "limit": get(okta, limit="1001"),
        "180 days": get(okta, since=since(181 * DAY)),
        "published": get(okta, filter='published gt "2026-01-01T00:00:00Z"'),
        "syntax": get(okta, filter='eventType eqq "x"'),
    }
    assert {what: r.status_code for what, r in refused.items()} == dict.fromkeys(refused, 400)
    assert refused["180 days"].json()["errorCode"] == "E0000053"
    assert "over 180 days" in refused["180 days"].json()["errorSummary"]
    assert refused["syntax"].json()["errorCode"] == "E0000053"


def test_filters_and_keywords_narrow_the_events(okta, org):
    put_member(okta, org["eng"], org["ada"])
    okta.console.assign_app(org["app"], org["bob"])
    okta.console.deactivate_user(org["bob"])
    assert types(get(okta, since=since(), filter='eventType eq "user.lifecycle.deactivate" or '
                                                 'eventType sw "group."')) == [
        "group.user_membership.add", "user.lifecycle.deactivate"]
    assert types(get(okta, since=since(), filter=f'target.id eq "{org["bob"]}" and '
                                                 'eventType co "application"')) == [
        "application.user_membership.add"]
    assert types(get(okta, since=since(), q="eng-admins")) == ["group.user_membership.add"]


# -- retention, faults, limits ---------------------------------------------------------------
def test_events_older_than_the_90_day_retention_are_not_returned(okta, org):
    okta.system_log.record("user.lifecycle.suspend", {"id": "x", "type": "User"}, [],
                           published=time.time() - 91 * DAY)
    okta.system_log.record("user.lifecycle.unsuspend", {"id": "x", "type": "User"}, [],
                           published=time.time() - 89 * DAY)
    assert types(get(okta, since=since(179 * DAY), until=iso(time.time()))) == [
        "user.lifecycle.unsuspend"]


def test_an_expired_cursor_is_refused_and_a_fresh_read_works_again(okta, org):
    cursor = get(okta, since=since()).links["next"]["url"]
    okta.system_log.expire_cursors()
    refused = get(okta, cursor)
    assert refused.status_code == 400 and refused.json()["errorCode"] == "E0000001"
    fresh = get(okta, since=since())
    assert fresh.status_code == 200 and get(okta, fresh.links["next"]["url"]).status_code == 200


def test_a_log_that_is_down_answers_okta_s_timeout_error(okta):
    okta.system_log.down = True
    answer = get(okta, since=since())
    assert answer.status_code == 500 and answer.json()["errorCode"] == "E0000009"


def test_the_log_has_its_own_rate_limit_bucket(okta, org):
    """Given reads of the log, then each answer reports the log's limit (120 a minute) and one
    fewer remaining, whatever other endpoints were called."""
    first = get(okta, since=since())
    get(okta, "/api/v1/users")
    second = get(okta, since=since())
    assert first.headers["X-Rate-Limit-Limit"] == second.headers["X-Rate-Limit-Limit"] == "120"
    assert int(first.headers["X-Rate-Limit-Remaining"]) - int(second.headers["X-Rate-Limit-Remaining"]) == 1
    assert int(second.headers["X-Rate-Limit-Reset"]) > time.time() - 1


def test_a_service_app_needs_okta_logs_read(okta):
    """Given a service app granted every scope but okta.logs.read, then the log refuses its
    token with insufficient_scope, naming the scope; with the scope, it reads."""
    key = rsa_key("log-app")
    without = okta.add_service_app({"k1": public_jwk(key, "k1")}, scopes=("okta.users.read",),
                                   require_dpop=False)
    with_scope = okta.add_service_app({"k1": public_jwk(key, "k1")},
                                      scopes=("okta.logs.read",), require_dpop=False)
    refused = read_as(okta, without, key)
    assert refused.status_code == 403 and 'scope="okta.logs.read"' in refused.headers["WWW-Authenticate"]
    assert read_as(okta, with_scope, key).status_code == 200


def read_as(okta, app: str, key) -> httpx.Response:
    token_url = okta.url + "/oauth2/v1/token"
    assertion = client_assertion(key, "k1", app, token_url)
    token = httpx.post(token_url, data=token_form(assertion, ("okta.logs.read", "okta.users.read")))
    bearer = token.json()["access_token"]
    return httpx.get(okta.url + LOGS, headers={"Authorization": f"Bearer {bearer}"})

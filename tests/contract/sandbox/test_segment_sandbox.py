"""The Segment sandbox answers like Segment's Public API: cursor pagination, the data/errors
envelope, group membership by email, permission lists that PUT replaces, token tiers and the
60-a-minute write limit."""

from __future__ import annotations

import base64
import time
from email.utils import parsedate_to_datetime

import httpx
import pytest

from sandbox.segment import MEDIA_TYPE, SegmentSandbox

TOKEN = "segment-owner-token"
READ_ONLY = "segment-read-only-token"
JSON_BODY = {"Content-Type": MEDIA_TYPE}


@pytest.fixture
def segment():
    with SegmentSandbox(page_size=3, tokens={TOKEN: "workspace_owner",
                                             READ_ONLY: "read_only"}) as sandbox:
        yield sandbox


@pytest.fixture
def http(segment):
    with httpx.Client(base_url=segment.url, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        yield client


def page_params(count: int = 200, cursor: str | None = None, style: str = "brackets") -> dict:
    key = "pagination[{}]" if style == "brackets" else "pagination.{}"
    params = {key.format("count"): str(count)}
    if cursor:
        params[key.format("cursor")] = cursor
    return params


def workspace_role(segment: SegmentSandbox, role_id: str) -> dict:
    return {"roleId": role_id, "resources": [{"id": segment.workspace["id"], "type": "WORKSPACE"}]}


@pytest.mark.parametrize("style", ["brackets", "dots"])
def test_users_page_by_cursor_until_next_is_null(segment, http, style):
    """Given 7 users and page size 3, when following data.pagination.next, then 3 pages bring all 7 and the last next is null."""
    ids = [segment.add_user(f"u{i}@example.com", f"User {i}") for i in range(7)]
    seen, cursor, pages = [], None, []
    while True:
        response = http.get("/users", params=page_params(cursor=cursor, style=style))
        data = response.json()["data"]
        pages.append(data["pagination"])
        seen += [user["id"] for user in data["users"]]
        cursor = data["pagination"]["next"]
        if cursor is None:
            break
    assert seen == ids and len(pages) == 3
    offsets = [base64.b64decode(p["current"]) for p in pages]
    assert offsets == [b"0", b"3", b"6"]
    assert pages[0]["previous"] is None and pages[-1]["totalEntries"] == 7
    assert response.headers["Content-Type"] == MEDIA_TYPE


@pytest.mark.parametrize("params", [
    {}, page_params(0), page_params(1001), {"pagination[count]": "x"},
    page_params(3, cursor="not-a-cursor"), page_params(3, cursor=base64.b64encode(b"-3").decode())])
def test_lists_need_valid_pagination(http, params):
    """Given a list call without pagination, a count outside 1..1000 or a foreign cursor, then 422 in the errors envelope."""
    response = http.get("/users", params=params)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert error["type"] == "ValidationError" and "pagination" in error["message"]


def test_group_detail_is_user_group_with_permissions_and_lists_omit_them(segment, http):
    """Given a group with a permission, when reading it, then data.userGroup carries permissions and the list does not."""
    role, group = segment.add_role("Workspace Owner"), segment.add_group("Admins")
    segment.set_permissions(group, [workspace_role(segment, role)])
    detail = http.get(f"/groups/{group}").json()["data"]
    listed = http.get("/groups", params=page_params()).json()["data"]["userGroups"]
    assert set(detail) == {"userGroup"}
    assert detail["userGroup"]["permissions"] == [{
        "roleId": role, "roleName": "Workspace Owner",
        "resources": [{"id": segment.workspace["id"], "type": "WORKSPACE", "labels": []}]}]
    assert "permissions" not in listed[0] and listed[0]["memberCount"] == 0


def test_put_permissions_replaces_the_whole_list(segment, http):
    """Given a user with two permissions, when PUT with one, then only that one is left."""
    owner, admin = segment.add_role("Workspace Owner"), segment.add_role("Source Admin")
    source, user = segment.add_source("iOS"), segment.add_user("a@example.com")
    segment.set_permissions(user, [workspace_role(segment, owner), {
        "roleId": admin, "resources": [{"id": source, "type": "SOURCE"}]}])
    response = http.put(f"/users/{user}/permissions", headers=JSON_BODY,
                        json={"permissions": [workspace_role(segment, owner)]})
    assert response.status_code == 200
    assert [p["roleId"] for p in response.json()["data"]["permissions"]] == [owner]
    assert segment.permissions(user) == [{"roleId": owner, "resources": [
        {"id": segment.workspace["id"], "type": "WORKSPACE", "labels": []}]}]


@pytest.mark.parametrize("make_entry", [
    lambda role, source, ws: {"roleId": "unknown", "resources": [{"id": ws, "type": "WORKSPACE"}]},
    lambda role, source, ws: {"roleId": role, "resources": []},
    lambda role, source, ws: {"roleId": role, "resources": [{"id": "missing", "type": "SOURCE"}]},
    lambda role, source, ws: {"roleId": role, "resources": [
        {"id": source, "type": "SOURCE", "labels": [{"key": "env", "value": "prod"}]}]},
    lambda role, source, ws: {"roleId": role, "resources": [{"id": ws, "type": "PLANET"}]},
], ids=["unknown role", "no resources", "missing source", "labels on a source", "odd type"])
def test_put_permissions_rejects_what_segment_rejects(segment, http, make_entry):
    """Given an unknown role, no resources, a missing source, labels off the workspace or an odd type, when PUT, then 422 and nothing changes."""
    role, source = segment.add_role("Source Admin"), segment.add_source("iOS")
    user = segment.add_user("a@example.com")
    entry = make_entry(role, source, segment.workspace["id"])
    response = http.put(f"/users/{user}/permissions", headers=JSON_BODY,
                        json={"permissions": [entry]})
    assert response.status_code == 422 and segment.permissions(user) == []


def test_members_are_added_by_email_and_removed_by_the_documented_call(segment, http):
    """Given two users, when POST their emails then DELETE /group/{id}/users?emails.0=, then membership follows."""
    group = segment.add_group("Engineers")
    ada, bob = segment.add_user("Ada@example.com"), segment.add_user("bob@example.com")
    added = http.post(f"/groups/{group}/users", headers=JSON_BODY,
                      json={"emails": ["ada@example.com", "bob@example.com"]})
    assert added.json()["data"]["userGroup"]["memberCount"] == 2
    removed = http.delete(f"/group/{group}/users", params={"emails.0": "ADA@example.com"})
    assert removed.json() == {"data": {"status": "SUCCESS"}}
    assert segment.members(group) == {bob}
    http.delete(f"/groups/{group}/users", params=[("emails", "bob@example.com")])
    assert segment.members(group) == set() and ada not in segment.members(group)


def test_adding_an_unknown_email_invites_it(segment, http):
    """Given an address no user has, when it is added to a group, then it becomes an invite, not a member."""
    group = segment.add_group("Engineers")
    http.post(f"/groups/{group}/users", headers=JSON_BODY, json={"emails": ["new@example.com"]})
    assert segment.members(group) == set() and segment.invites(group) == {"new@example.com"}


def test_baton_segments_json_array_emails_are_refused(segment, http):
    """Given emails sent as a JSON-array string, when removing, then 422 and the member stays."""
    group, user = segment.add_group("Engineers"), segment.add_user("a@example.com")
    segment.add_member(group, user)
    response = http.delete(f"/groups/{group}/users", params={"emails": '["a@example.com"]'})
    assert response.status_code == 422 and segment.members(group) == {user}


def test_errors_use_the_errors_envelope(segment, http):
    """Given a missing user, a bad token and no route, when called, then 404/401/404 come as {errors: [...]}."""
    missing = http.get("/users/nobody")
    unauthorized = http.get("/users", params=page_params(),
                            headers={"Authorization": "Bearer nope"})
    nowhere = http.get("/nowhere")
    assert [r.status_code for r in (missing, unauthorized, nowhere)] == [404, 401, 404]
    for response in (missing, unauthorized, nowhere):
        assert set(response.json()) == {"errors"} and response.json()["errors"][0]["message"]


def test_read_only_token_reads_but_cannot_write(segment):
    """Given a read-only token, when it reads and then writes, then GET is 200 and every write is 403 with nothing changed."""
    group, user = segment.add_group("Engineers"), segment.add_user("a@example.com")
    with httpx.Client(base_url=segment.url, headers={"Authorization": f"Bearer {READ_ONLY}"}) as ro:
        assert ro.get(f"/groups/{group}").status_code == 200
        writes = [ro.post(f"/groups/{group}/users", headers=JSON_BODY,
                          json={"emails": ["a@example.com"]}),
                  ro.put(f"/users/{user}/permissions", headers=JSON_BODY,
                         json={"permissions": []}),
                  ro.delete(f"/group/{group}/users", params={"emails.0": "a@example.com"})]
    assert {r.status_code for r in writes} == {403}
    assert writes[0].json()["errors"][0]["type"] == "forbidden"
    assert segment.members(group) == set() and segment.writes() == []


def test_writes_over_the_limit_get_429_with_reset(segment, http):
    """Given a write limit of 2 a minute, when writing 3 times, then the third is 429 with msBeforeNext and X-RateLimit-*, and reads go on."""
    segment.write_limit = 2
    group, _ = segment.add_group("Engineers"), segment.add_user("a@example.com")
    answers = [http.post(f"/groups/{group}/users", headers=JSON_BODY,
                         json={"emails": ["a@example.com"]}) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 429]
    assert answers[1].headers["X-RateLimit-Remaining"] == "0"
    limited = answers[2]
    error = limited.json()["errors"][0]
    assert (error["type"], error["message"]) == ("RequestError", "Too many requests")
    assert 0 < error["data"]["msBeforeNext"] <= 60_000
    reset = parsedate_to_datetime(limited.headers["X-RateLimit-Reset"]).timestamp()
    assert time.time() - 1 < reset <= time.time() + 61
    assert http.get("/users", params=page_params()).status_code == 200
    assert len(segment.writes()) == 2


def test_injected_faults_answer_in_segments_shape(segment, http):
    """Given rate_limit() and fail(), when calling, then a 429 with msBeforeNext and a 503 errors body come first, then success."""
    segment.rate_limit(reset_in=2.5, path="/")
    segment.fail(503, path="/")
    limited, failed, ok = http.get("/"), http.get("/"), http.get("/")
    assert (limited.status_code, limited.json()["errors"][0]["data"]["msBeforeNext"]) == (429, 2500)
    assert "X-RateLimit-Reset" in limited.headers
    assert (failed.status_code, set(failed.json())) == (503, {"errors"})
    assert ok.json()["data"]["workspace"]["id"] == segment.workspace["id"]
    assert "X-RateLimit-Consumed" in ok.headers


def test_write_bodies_need_a_json_media_type(segment, http):
    """Given a form-encoded body, when adding members, then 415."""
    group = segment.add_group("Engineers")
    response = http.post(f"/groups/{group}/users", data={"emails": "a@example.com"})
    assert response.status_code == 415

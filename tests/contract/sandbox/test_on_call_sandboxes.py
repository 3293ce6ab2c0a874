"""The PagerDuty and Opsgenie sandboxes answer as the vendors document, asked with plain HTTP
(not Latchkey's clients): PagerDuty's on-call objects, filters, include[]=users, classic
pagination, its error body and 429; Opsgenie's flat and full on-call answers by id or name,
its error body, 401 and 429."""

from __future__ import annotations

import httpx
import pytest

from sandbox.opsgenie import OpsgenieSandbox
from sandbox.pagerduty import Level, PagerDutySandbox

PD_TOKEN, OG_KEY = "pd-test-token", "og-test-key"


@pytest.fixture
def pagerduty():
    with PagerDutySandbox({PD_TOKEN}) as sandbox:
        carol, dave = sandbox.add_user("carol@acme.com"), sandbox.add_user("dave@acme.com")
        sandbox.add_schedule("PRIMARY", "carol@acme.com")
        sandbox.add_policy("OPS", Level(schedules=["PRIMARY"]), Level(users=[dave]))
        sandbox.add_policy("DEV", Level(users=[carol]))
        yield sandbox


@pytest.fixture
def opsgenie():
    with OpsgenieSandbox({OG_KEY}) as sandbox:
        sandbox.add_schedule("ops-primary", "carol@acme.com")
        yield sandbox


def pd_get(sandbox, params, token=PD_TOKEN) -> httpx.Response:
    return httpx.get(f"{sandbox.url}/oncalls", params=params,
                     headers={"Authorization": f"Token token={token}",
                              "Accept": "application/vnd.pagerduty+json;version=2"})


def test_pagerduty_lists_on_calls_with_references_and_classic_pagination(pagerduty):
    body = pd_get(pagerduty, {"limit": 2}).json()
    assert (body["limit"], body["offset"], body["more"], body["total"]) == (2, 0, True, None)
    first = body["oncalls"][0]
    assert first["escalation_policy"]["type"] == "escalation_policy_reference"
    assert first["schedule"]["id"] == "PRIMARY" and first["escalation_level"] == 1
    assert first["user"]["type"] == "user_reference" and "email" not in first["user"]
    rest = pd_get(pagerduty, {"limit": 2, "offset": 2}).json()
    assert rest["more"] is False and [o["escalation_policy"]["id"] for o in rest["oncalls"]] == ["DEV"]
    assert rest["oncalls"][0]["schedule"] is None and rest["oncalls"][0]["start"] is None  # always on call


def test_pagerduty_filters_by_schedule_and_policy_and_embeds_users_when_asked(pagerduty):
    found = pd_get(pagerduty, [("schedule_ids[]", "PRIMARY"), ("include[]", "users")]).json()["oncalls"]
    assert [(o["user"]["email"], o["user"]["type"]) for o in found] == [("carol@acme.com", "user")]
    both = pd_get(pagerduty, [("schedule_ids[]", "PRIMARY"), ("escalation_policy_ids[]", "DEV")]).json()
    assert both["oncalls"] == []  # filters given together must both match
    assert len(pd_get(pagerduty, [("escalation_policy_ids[]", "OPS")]).json()["oncalls"]) == 2


def test_pagerduty_errors_have_its_error_body(pagerduty):
    refused = pd_get(pagerduty, {}, token="wrong")
    assert refused.status_code == 401 and refused.json() == {"error": {"message": "Unauthorized", "code": 2006}}
    bad = pd_get(pagerduty, {"limit": 1000})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == 2001
    pagerduty.rate_limited, pagerduty.retry_after = 1, 3
    limited = pd_get(pagerduty, {})
    assert limited.status_code == 429 and limited.headers["ratelimit-reset"] == "3"
    assert limited.headers["ratelimit-remaining"] == "0"
    assert limited.json()["error"]["message"] == "Rate Limit Exceeded"
    assert pd_get(pagerduty, {}).status_code == 200


def og_get(sandbox, identifier, params, key=OG_KEY) -> httpx.Response:
    return httpx.get(f"{sandbox.url}/v2/schedules/{identifier}/on-calls", params=params,
                     headers={"Authorization": f"GenieKey {key}"})


def test_opsgenie_answers_on_call_recipients_flat_or_participants_by_id_or_name(opsgenie):
    schedule = next(iter(opsgenie.schedules.values()))
    flat = og_get(opsgenie, "ops-primary", {"scheduleIdentifierType": "name", "flat": "true"}).json()
    assert flat["data"] == {"_parent": {"id": schedule.id, "name": "ops-primary", "enabled": True},
                            "onCallRecipients": ["carol@acme.com"]}
    assert {"took", "requestId"} <= set(flat)
    full = og_get(opsgenie, schedule.id, {}).json()["data"]
    assert [(p["name"], p["type"]) for p in full["onCallParticipants"]] == [("carol@acme.com", "user")]
    opsgenie.hand_over("ops-primary", "dave@acme.com")
    assert og_get(opsgenie, schedule.id, {"flat": "true"}).json()["data"]["onCallRecipients"] == ["dave@acme.com"]


def test_opsgenie_errors_have_its_error_body(opsgenie):
    missing = og_get(opsgenie, "ops-primary", {})  # a name, asked as an id (the default)
    assert missing.status_code == 404 and "No schedule exists" in missing.json()["message"]
    refused = og_get(opsgenie, "ops-primary", {"scheduleIdentifierType": "name"}, key="wrong")
    assert refused.status_code == 401 and refused.json()["message"] == "Could not authenticate"
    opsgenie.rate_limited = 1
    limited = og_get(opsgenie, "ops-primary", {"scheduleIdentifierType": "name"})
    assert limited.status_code == 429 and limited.headers["X-RateLimit-State"] == "THROTTLED"
    assert limited.json()["message"] == "Too many requests"

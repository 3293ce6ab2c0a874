"""Who is on call, read from the PagerDuty and Opsgenie sandboxes over real HTTP by the adapter
behind `OnCall` (bot/on_call.py over connectors/pagerduty/ and connectors/opsgenie/): shifts
mapped with their schedule, policy and level, every page read, and every failure (bad
credentials, 429 after retries, 5xx, too slow, no server) as "on call unknown", with the
credential never quoted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config.on_call import OnCallConfig
from bot.domain.errors import OnCallUnknownError
from bot.domain.on_call import OnCallShift
from bot.on_call import OnCallServices
from connectors.pagerduty.client import MAX_WAIT, PagerDutyClient
from sandbox.opsgenie import OpsgenieSandbox
from sandbox.pagerduty import PagerDutySandbox
from sandbox.server import Reply
from tests.support.connectors import url_with_no_listener
from tests.support.on_call import pagerduty_rota

TOKEN, API_KEY = "pd-s3cret-api-token", "og-s3cret-api-key"


@pytest.fixture
def pagerduty() -> Iterator[PagerDutySandbox]:
    with pagerduty_rota(TOKEN, ("carol@acme.com", "dave@acme.com", "erin@acme.com")) as sandbox:
        yield sandbox


@pytest.fixture
def opsgenie() -> Iterator[OpsgenieSandbox]:
    with OpsgenieSandbox({API_KEY}) as sandbox:
        sandbox.add_schedule("ops-primary", "carol@acme.com", "dave@acme.com")
        yield sandbox


def services(waits: list[float], pagerduty_url: str | None = None, opsgenie_url: str | None = None,
             token: str = TOKEN) -> OnCallServices:
    config = OnCallConfig.model_validate({
        **({"pagerduty": {"token": token, "url": pagerduty_url}} if pagerduty_url else {}),
        **({"opsgenie": {"api_key": API_KEY, "url": opsgenie_url}} if opsgenie_url else {})})
    return OnCallServices(config, sleep=waits.append)


def test_pagerduty_on_calls_map_to_shifts_with_schedule_policy_and_level(pagerduty, waits):
    shifts = services(waits, pagerduty.url).on_call("pagerduty", escalation_policies=("OPS",))
    assert shifts == [OnCallShift("carol@acme.com", "pagerduty", "PRIMARY", "OPS", 1),
                      OnCallShift("dave@acme.com", "pagerduty", "SECONDARY", "OPS", 2),
                      OnCallShift("erin@acme.com", "pagerduty", None, "OPS", 3)]
    [call] = pagerduty.calls_to("GET", "/oncalls")
    assert call.query["include[]"] == ["users"] and call.query["escalation_policy_ids[]"] == ["OPS"]
    assert call.headers["authorization"] == f"Token token={TOKEN}"
    assert call.headers["accept"] == "application/vnd.pagerduty+json;version=2"


def test_schedules_and_policies_are_asked_apart_so_that_either_one_finds_a_person(pagerduty, waits):
    shifts = services(waits, pagerduty.url).on_call("pagerduty", ("SECONDARY",), ("OPS",))
    assert {(s.email, s.level) for s in shifts} == {("carol@acme.com", 1), ("dave@acme.com", 2),
                                                    ("erin@acme.com", 3)}
    filters = [(c.query.get("schedule_ids[]"), c.query.get("escalation_policy_ids[]"))
               for c in pagerduty.calls_to("GET", "/oncalls")]
    assert filters == [(["SECONDARY"], None), (None, ["OPS"])]


def test_every_page_of_on_calls_is_read_by_offset_until_more_is_false(pagerduty, waits):
    client = PagerDutyClient(pagerduty.url, TOKEN, page_size=2, sleep=waits.append)
    assert [o["escalation_level"] for o in client.on_calls((), ("OPS",))] == [1, 2, 3]
    offsets = [(c.arg("offset"), c.arg("limit")) for c in pagerduty.calls_to("GET", "/oncalls")]
    assert offsets == [("0", "2"), ("2", "2")]
    client.close()


def test_a_handover_is_seen_at_the_next_lookup(pagerduty, waits):
    lookup = services(waits, pagerduty.url)
    pagerduty.hand_over("PRIMARY", "erin@acme.com")
    assert [s.email for s in lookup.on_call("pagerduty", ("PRIMARY",))] == ["erin@acme.com"]


def test_opsgenie_on_call_recipients_by_schedule_name_or_id(opsgenie, waits):
    lookup = services(waits, opsgenie_url=opsgenie.url)
    by_name = lookup.on_call("opsgenie", ("ops-primary",))
    assert by_name == [OnCallShift("carol@acme.com", "opsgenie", "ops-primary"),
                       OnCallShift("dave@acme.com", "opsgenie", "ops-primary")]
    schedule_id = next(iter(opsgenie.schedules))
    assert [s.email for s in lookup.on_call("opsgenie", (schedule_id,))] == ["carol@acme.com", "dave@acme.com"]
    first, second = opsgenie.calls_to("GET", r"/v2/schedules/.*/on-calls")
    assert (first.arg("scheduleIdentifierType"), first.arg("flat")) == ("name", "true")
    assert second.arg("scheduleIdentifierType") == "id"
    assert first.headers["authorization"] == f"GenieKey {API_KEY}"


def test_an_unknown_opsgenie_schedule_is_unknown_with_opsgenies_words(opsgenie, waits):
    with pytest.raises(OnCallUnknownError, match=r"404 No schedule exists with name \[nope\]"):
        services(waits, opsgenie_url=opsgenie.url).on_call("opsgenie", ("nope",))


def test_bad_credentials_are_unknown_and_never_quote_the_token(pagerduty, waits):
    with pytest.raises(OnCallUnknownError) as raised:
        services(waits, pagerduty.url, token="wrong-s3cret-token").on_call("pagerduty", ("PRIMARY",))
    assert "401 Unauthorized (code 2006)" in str(raised.value)
    assert "s3cret" not in str(raised.value) and waits == []  # 401 is not retried


def test_a_proxy_echoing_the_authorization_header_cannot_leak_the_key(pagerduty, opsgenie, waits):
    """Given proxies that quote the request's Authorization header in their error, then the
    error says what happened and never holds the key (the keys are not remembered here: the
    credential's shape alone masks it)."""
    def echo(call):
        return Reply.json(502, {"message": f"bad gateway for {call.headers['authorization']}",
                                "error": {"message": f"bad gateway for {call.headers['authorization']}"}})
    opsgenie.inject(echo, times=5)
    pagerduty.inject(echo, times=5)
    lookup = services(waits, pagerduty.url, opsgenie.url)
    for source, schedule in (("opsgenie", "ops-primary"), ("pagerduty", "PRIMARY")):
        with pytest.raises(OnCallUnknownError) as raised:
            lookup.on_call(source, (schedule,))
        assert "502 bad gateway for" in str(raised.value)
        assert API_KEY not in str(raised.value) and TOKEN not in str(raised.value)


def test_a_429_or_5xx_is_retried_once_after_a_short_wait(pagerduty, opsgenie, waits):
    pagerduty.rate_limited, pagerduty.retry_after = 1, 0
    opsgenie.rate_limited = 1  # no time to wait given: the first backoff, within MAX_WAIT
    lookup = services(waits, pagerduty.url, opsgenie.url)
    assert lookup.on_call("pagerduty", ("PRIMARY",)) and lookup.on_call("opsgenie", ("ops-primary",))
    pagerduty.inject(lambda call: Reply.json(503, {"error": {"message": "Service Unavailable", "code": 2000}}))
    assert lookup.on_call("pagerduty", ("PRIMARY",))
    assert len(waits) == 3 and all(w <= MAX_WAIT for w in waits)


def test_pagerdutys_ratelimit_reset_says_how_long_to_wait(pagerduty, waits):
    pagerduty.rate_limited, pagerduty.retry_after = 1, 0
    client = PagerDutyClient(pagerduty.url, TOKEN, max_wait=None, sleep=waits.append)
    assert list(client.on_calls(("PRIMARY",), ()))
    pagerduty.rate_limited, pagerduty.retry_after = 1, 5
    assert list(client.on_calls(("PRIMARY",), ()))
    assert waits[0] <= 0.5 and 5 <= waits[1] <= 5.5  # what PagerDuty said, plus at most 0.5 s of jitter
    client.close()


def test_a_429_asking_for_a_long_wait_is_unknown_at_once(pagerduty, waits):
    pagerduty.rate_limited, pagerduty.retry_after = 1, 30
    with pytest.raises(OnCallUnknownError, match="429 Rate Limit Exceeded"):
        services(waits, pagerduty.url).on_call("pagerduty", ("PRIMARY",))
    assert waits == []


def test_an_outage_after_every_retry_is_unknown(pagerduty, opsgenie, waits):
    pagerduty.inject(lambda call: Reply.json(500, {"error": {"message": "Internal Server Error", "code": 2000}}),
                     times=10)
    opsgenie.inject(lambda call: Reply.json(500, {"message": "Internal Server Error"}), times=10)
    lookup = services(waits, pagerduty.url, opsgenie.url)
    with pytest.raises(OnCallUnknownError, match="500 Internal Server Error"):
        lookup.on_call("pagerduty", ("PRIMARY",))
    with pytest.raises(OnCallUnknownError, match="500 Internal Server Error"):
        lookup.on_call("opsgenie", ("ops-primary",))
    assert len(waits) == 2  # two tries each: someone is waiting


def test_a_service_too_slow_to_answer_is_unknown(pagerduty, waits):
    released = pagerduty.hold(path="/oncalls")
    try:
        with pytest.raises(OnCallUnknownError, match="Timeout"):
            services(waits, pagerduty.url).on_call("pagerduty", ("PRIMARY",))
    finally:
        released.set()


def test_an_answer_that_is_not_the_services_json_is_unknown(pagerduty, opsgenie, waits):
    """Given a proxy answering 200 with its own HTML page, then the lookup is unknown, not a crash."""
    def portal(call):
        return Reply(200, b"<html>Sign in to the corporate proxy</html>", {"Content-Type": "text/html"})
    pagerduty.inject(portal)
    opsgenie.inject(portal)
    lookup = services(waits, pagerduty.url, opsgenie.url)
    for source, schedule in (("pagerduty", "PRIMARY"), ("opsgenie", "ops-primary")):
        with pytest.raises(OnCallUnknownError):
            lookup.on_call(source, (schedule,))


def test_no_server_and_an_unconfigured_source_are_unknown(waits):
    lookup = services(waits, url_with_no_listener())
    with pytest.raises(OnCallUnknownError):
        lookup.on_call("pagerduty", ("PRIMARY",))
    with pytest.raises(OnCallUnknownError, match="no on-call service opsgenie"):
        lookup.on_call("opsgenie", ("ops-primary",))


def test_a_reloaded_config_is_used_from_the_next_lookup(pagerduty, opsgenie, waits):
    """Given the services are configured again (a config reload), then the next lookup asks
    the services now configured, and a source no longer configured is unknown."""
    lookup = services(waits, pagerduty.url)
    assert lookup.on_call("pagerduty", ("PRIMARY",))
    lookup.configure(OnCallConfig.model_validate({"opsgenie": {"api_key": API_KEY, "url": opsgenie.url}}))
    assert [s.email for s in lookup.on_call("opsgenie", ("ops-primary",))] == ["carol@acme.com", "dave@acme.com"]
    with pytest.raises(OnCallUnknownError, match="no on-call service pagerduty"):
        lookup.on_call("pagerduty", ("PRIMARY",))
    lookup.close()

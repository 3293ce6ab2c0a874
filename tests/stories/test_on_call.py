"""On call, end to end over Slack HTTP with the PagerDuty and Opsgenie sandboxes: a requester
on call is approved at once (the audit names the schedule, policy and level), one on call at
level 3 is not, a lookup that fails leaves the request to people (audited, and the requester is
told), approvals routed to whoever is on call follow a handover mid-request, and a requester on
call never approves their own request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta

import pytest

from sandbox.opsgenie import OpsgenieSandbox
from sandbox.pagerduty import Level, PagerDutySandbox
from sandbox.server import Reply
from tests.support.config import CHASING, edit_config
from tests.support.harness import ALICE, BOB, CAROL, DAVE, PEOPLE, eventually, forge_click
from tests.support.on_call import pagerduty_rota
from tests.support.requests import jump, pending
from tests.support.slack import ask, asked, ephemeral_answers, texts

PD_TOKEN, OG_KEY = "pd-story-s3cret", "og-story-s3cret"


@pytest.fixture
def pagerduty(monkeypatch) -> Iterator[PagerDutySandbox]:
    monkeypatch.setenv("PAGERDUTY_TOKEN", PD_TOKEN)
    with pagerduty_rota(PD_TOKEN, PEOPLE.values()) as sandbox:
        yield sandbox


def on_call(pagerduty: PagerDutySandbox) -> dict:
    return {"pagerduty": {"token": "${PAGERDUTY_TOKEN}", "url": pagerduty.url}}


def auto_rule(**check) -> dict:
    return {"name": "on-call", "match": {"resource": "eng-*"}, "auto_approve": {"on_call": {
        "source": "pagerduty", "escalation_policies": ["OPS"], "max_level": 2, **check}}}


def audited(bot, request_id: str, action: str) -> dict:
    row = next(e for e in bot.service.lifecycle.audit.events(request_id) if e.action == action)
    return json.loads(row.detail)


def test_a_requester_on_call_is_approved_at_once_and_the_audit_names_schedule_and_level(
        make_bot, slack, okta, pagerduty):
    """Given eng-* is approved at once for whoever OPS has on call up to level 2, when Carol (on
    call through PRIMARY, level 1) asks, then she is granted eng-admins without anyone being
    asked, and the audit says PagerDuty, OPS, PRIMARY, level 1."""
    bot = make_bot(on_call=on_call(pagerduty), rules=[auto_rule()]).start()
    ask(slack, "eng-admins")
    request = eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))[0]
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert request.route == "auto" and not asked(slack, ALICE)
    detail = audited(bot, request.id, "auto_approved")
    assert (detail["source"], detail["escalation_policy"], detail["schedule"], detail["level"]) == \
        ("pagerduty", "OPS", "PRIMARY", 1)
    [call] = pagerduty.calls_to("GET", "/oncalls")
    assert call.query["escalation_policy_ids[]"] == ["OPS"] and call.query["include[]"] == ["users"]


def test_a_requester_on_call_only_at_level_3_goes_to_the_approvers(make_bot, slack, okta, pagerduty):
    """Given the same rule, when PRIMARY has Dave on call and Carol is on call only at level 3
    of OPS, then Alice is asked and nothing is granted."""
    pagerduty.hand_over("PRIMARY", "dave@acme.com")
    pagerduty.add_policy("OPS", Level(schedules=["PRIMARY"]), Level(schedules=["SECONDARY"]),
                         Level(users=[pagerduty.user_id("carol@acme.com")]))
    bot = make_bot(on_call=on_call(pagerduty), rules=[auto_rule()]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    assert pending(bot).route == "people" and okta.membership_writes() == []


@pytest.mark.parametrize("failure", ["outage", "rate_limited", "slow"])
def test_a_lookup_that_fails_leaves_the_request_to_people_audited_and_told(
        make_bot, slack, okta, pagerduty, failure):
    """Given Carol is on call, when PagerDuty answers 500 every time, or 429 asking for 30 s, or
    too slowly, then her request is not approved: Alice is asked, the audit records that who is
    on call could not be learnt, and Carol is told her request waits for the approvers."""
    if failure == "outage":
        pagerduty.inject(lambda call: Reply.json(500, {"error": {"message": "Internal Server Error",
                                                                 "code": 2000}}), times=100)
    elif failure == "rate_limited":
        pagerduty.rate_limited, pagerduty.retry_after = 100, 30
    else:
        pagerduty.latency = 1.5  # each try gives up after a second
    bot = make_bot(on_call=on_call(pagerduty), rules=[auto_rule()]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE), timeout=10)
    request = pending(bot)
    assert request.route == "people" and okta.membership_writes() == []
    assert audited(bot, request.id, "on_call_unknown")["source"] == "pagerduty"
    eventually(lambda: "could not check with PagerDuty whether you are on call" in texts(slack.dm(CAROL)))
    assert PD_TOKEN not in texts(slack.dm(CAROL)) + json.dumps(audited(bot, request.id, "on_call_unknown"))


def routed_rule(**more) -> dict:
    return {"name": "on-call-approves", "match": {"resource": "eng-*"},
            "approvers": ["on_call:pagerduty/SECONDARY"], **more}


def test_a_handover_mid_request_reaches_the_new_person_on_call(make_bot, slack, okta, pagerduty, clock):
    """Given eng-* is approved by whoever SECONDARY has on call (Dave), when Carol asks and the
    shift passes to Bob before anyone decides, then the next reminder gives Bob the request with
    its buttons, Dave may no longer decide, Bob's click while PagerDuty cannot answer is refused
    with why, and his approval once it can grants it."""
    bot = make_bot(on_call=on_call(pagerduty), policy=CHASING, rules=[routed_rule()]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, DAVE))
    request = pending(bot)
    assert not asked(slack, BOB) and not asked(slack, ALICE)
    daves_copy = slack.dm(DAVE)[0]
    pagerduty.hand_over("SECONDARY", "bob@acme.com")
    jump(bot, clock, timedelta(hours=1, minutes=1))
    eventually(lambda: asked(slack, BOB))
    assert "Reminder:" not in texts(slack.dm(BOB))  # the whole request, not a reminder of it
    eventually(lambda: "'approve'" not in texts(slack.dm(DAVE)))  # his copy lost its buttons
    slack.click(DAVE, "approve", message=daves_copy, stale=True)
    eventually(lambda: "not an approver" in ephemeral_answers(slack, DAVE))
    assert bot.request(request.id).state == "pending"
    pagerduty.rate_limited, pagerduty.retry_after = 1000, 30  # who is on call cannot be learnt
    slack.click(BOB, "approve")
    eventually(lambda: "cannot learn who is on call for SECONDARY" in ephemeral_answers(slack, BOB))
    assert bot.request(request.id).state == "pending"
    pagerduty.rate_limited = 0
    slack.click(BOB, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert bot.request(request.id).decided_by == (BOB,)


def test_a_requester_on_call_never_approves_their_own_request(make_bot, slack, okta, pagerduty):
    """Given eng-* is approved by whoever PRIMARY has on call, with Alice as fallback, when
    Carol (on call) asks, then she is not asked, Alice is, and Carol's forged Approve is
    refused; without a fallback, the form refuses the request."""
    bot = make_bot(on_call=on_call(pagerduty),
                   rules=[routed_rule(approvers=["on_call:pagerduty/PRIMARY"], fallback=[ALICE])]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    request = pending(bot)
    assert not asked(slack, CAROL)
    forge_click(slack, CAROL, "approve", request.id)
    eventually(lambda: "Nobody can decide their own request" in ephemeral_answers(slack, CAROL))
    assert bot.request(request.id).state == "pending" and okta.membership_writes() == []


def test_without_a_fallback_the_on_call_requester_is_refused_in_the_form(make_bot, slack, okta, pagerduty):
    bot = make_bot(on_call=on_call(pagerduty), rules=[routed_rule(approvers=["on_call:pagerduty/PRIMARY"])]).start()
    ask(slack, "eng-admins")
    assert slack.view_errors(CAROL) == {
        "access": "Nobody but you can approve this, and nobody approves their own request."}
    assert bot.service.lifecycle.queries.in_states("pending") == []


def test_whoever_an_opsgenie_schedule_has_on_call_is_approved_at_once(make_bot, slack, okta, monkeypatch):
    """Given eng-* is approved at once for whoever the Opsgenie schedule ops-primary has on
    call, when Carol (on call there) asks, then she is granted it, audited as level 1 of it."""
    monkeypatch.setenv("OPSGENIE_API_KEY", OG_KEY)
    with OpsgenieSandbox({OG_KEY}) as opsgenie:
        opsgenie.add_schedule("ops-primary", "carol@acme.com")
        bot = make_bot(on_call={"opsgenie": {"api_key": "${OPSGENIE_API_KEY}", "url": opsgenie.url}},
                       rules=[{"name": "on-call", "match": {"resource": "eng-*"}, "auto_approve": {
                           "on_call": {"source": "opsgenie", "schedules": ["ops-primary"]}}}]).start()
        ask(slack, "eng-admins")
        request = eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))[0]
        detail = audited(bot, request.id, "auto_approved")
        assert (detail["source"], detail["schedule"], detail["level"]) == ("opsgenie", "ops-primary", 1)


def test_a_reloaded_on_call_section_is_asked_from_the_next_request(make_bot, slack, okta, pagerduty, monkeypatch):
    """Given the on-call key in the config is one PagerDuty refuses, Carol's request goes to
    the approvers; when the file is corrected, her next request is approved at once, with no
    restart."""
    rule = {**auto_rule(), "match": {"resource": "*-admins"}}
    monkeypatch.setenv("OLD_PAGERDUTY_TOKEN", "revoked-key")
    stale = {"pagerduty": {"token": "${OLD_PAGERDUTY_TOKEN}", "url": pagerduty.url}}
    bot = make_bot(on_call=stale, rules=[rule]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    edit_config(bot, okta, on_call=on_call(pagerduty), rules=[rule])
    assert bot.service.check_config() is True  # as the watcher does on its schedule
    ask(slack, "data-admins")
    eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))

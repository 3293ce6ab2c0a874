"""Refused attempts (bot/refusals.py): probes are audited, rate-limited per person, counted in
/metrics and relayed to the audit channel; ordinary mistakes are not; tampered form values are
answered inside the form.  (Which refusals are probes, and which typed durations are no duration
at all: tests/unit/test_refusals.py and tests/unit/test_rules.py.)"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.ports import ShiftedClock
from bot.refusals import Refusal, RefusedAttempts
from storage.audit_log import AuditLog
from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually, forge_click
from tests.support.metrics import scrape, value
from tests.support.requests import active_request, pending_request
from tests.support.slack import ephemeral_answers, option_for

REFUSED = "latchkey_refused_attempts_total"
# No duration at all, and one the form never offered (over the 8h maximum).  The rest of what
# is no duration ("-1h", "0m", "3651d" …) takes the path of "garbage": tests/unit/test_rules.py.
TAMPERED = ["garbage", "1d"]


def refused(bot, person: str, action: str = "refused") -> list:
    return [e for e in bot.service.lifecycle.audit.events() if e.actor == person and e.action == action]


def counted(bot, **labels) -> float:
    return value(scrape(bot), REFUSED, **labels)


def at_the_start_of_a_minute(clock) -> None:
    """Move the bot's clock to one second past a minute, so a burst stays within one minute."""
    now = clock.now()
    clock.advance(timedelta(seconds=61 - now.second) - timedelta(microseconds=now.microsecond))


# -- the rate limit, on the audit log --------------------------------------------------------------
def test_at_most_n_events_per_person_and_minute_then_one_marker(engine):
    """Given 3 per minute, when Dave is refused 7 times and Erin once in one minute, then Dave
    has 3 events and one marker, Erin 1; the next minute Dave's count starts again."""
    clock = ShiftedClock()
    clock.advance(datetime(2026, 12, 1, 10, 0, 5, tzinfo=UTC) - clock.now())
    audit = AuditLog(engine)
    attempts = RefusedAttempts(audit, clock, per_minute=3)
    for _ in range(7):
        attempts.record(DAVE, "approve", Refusal.NO_SUCH_REQUEST, "<!channel>" * 100)
    attempts.record("U0ERIN", "cancel", Refusal.NOT_THE_REQUESTER, "ab12")
    clock.advance(timedelta(minutes=1))
    attempts.record(DAVE, "approve", Refusal.NOT_AN_APPROVER, "cd34")
    events = [(e.actor, e.action, e.request_id, json.loads(e.detail)) for e in audit.events()]
    assert events == [
        *[(DAVE, "refused", None, {"attempted": "approve", "refusal": "no_such_request"})] * 3,
        (DAVE, "refused_more", None, {"per_minute": 3}),
        ("U0ERIN", "refused", "ab12", {"attempted": "cancel", "refusal": "not_the_requester"}),
        (DAVE, "refused", "cd34", {"attempted": "approve", "refusal": "not_an_approver"})]


# -- over HTTP -------------------------------------------------------------------------------------
def test_a_forged_approve_is_audited_counted_and_relayed(make_bot, slack, okta):
    """Given a pending request, when Dave (no approver) forges an Approve click, then he is
    refused, the audit log says who tried what on which request and why, /metrics counts it, and
    the audit channel shows the line."""
    bot = make_bot(audit_channel="C0GENERAL").start()
    request = pending_request(bot, slack)
    before = counted(bot, attempted="approve", refusal="not_an_approver")
    forge_click(slack, DAVE, "approve", request.id)
    eventually(lambda: "not an approver" in ephemeral_answers(slack, DAVE))
    [event] = refused(bot, DAVE)
    assert event.request_id == request.id
    assert json.loads(event.detail) == {"attempted": "approve", "refusal": "not_an_approver"}
    assert counted(bot, attempted="approve", refusal="not_an_approver") == before + 1
    line = eventually(lambda: [m["text"] for m in slack.messages("C0GENERAL")
                               if "was refused" in m["text"]])[0]
    assert f"<@{DAVE}> was refused `{request.id}` · eng-admins · tried approve · not an approver" in line
    assert bot.request(request.id).state == "pending" and okta.membership_writes() == []


def test_a_flood_of_forged_clicks_leaves_a_bounded_trace(bot, slack, clock):
    """Given Dave forges 25 clicks on made-up request ids within a minute, then each is answered,
    all 25 are counted, and the audit log holds 10 of them and one marker."""
    before = counted(bot, attempted="cancel", refusal="no_such_request")
    at_the_start_of_a_minute(clock)
    for n in range(25):
        forge_click(slack, DAVE, "cancel", f"{n:04x}")
    eventually(lambda: counted(bot, attempted="cancel", refusal="no_such_request") == before + 25)
    assert len(slack.responses(DAVE)) == 25
    assert len(refused(bot, DAVE)) == 10 and len(refused(bot, DAVE, "refused_more")) == 1


def test_late_and_ordinary_refusals_are_not_recorded(bot, slack, okta):
    """Given Alice approved, when Bob clicks his stale Approve, then he is told, and nothing is
    recorded as a refused attempt."""
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    forge_click(slack, BOB, "approve", request.id)
    eventually(lambda: "Already approved" in ephemeral_answers(slack, BOB))
    assert refused(bot, BOB) == []


def offer(slack, user: str, duration: str) -> None:
    """A modified client adds a duration the form never offered."""
    with slack.lock:
        slack.workspace.top_modal(user)["blocks"][1]["element"]["options"].append(
            {"text": {"type": "plain_text", "text": duration}, "value": duration})


@pytest.mark.parametrize("duration", TAMPERED)
def test_a_tampered_duration_is_answered_in_the_request_form(bot, slack, duration):
    """Given a tampered duration (huge, negative, zero, garbage, over the maximum), then the form
    stays open with a message under the duration, nothing is stored, and the attempt is recorded."""
    slack.command(CAROL)
    eventually(lambda: slack.open_view(CAROL))
    offer(slack, CAROL, duration)
    answer = slack.submit(CAROL, {"access": option_for(bot, "eng-admins"), "duration": duration,
                                  "justification": "need it"})
    assert answer.status_code == 200 and answer.json()["response_action"] == "errors"
    assert slack.view_errors(CAROL).keys() == {"duration"}
    assert slack.open_view(CAROL) is not None
    assert bot.service.lifecycle.queries.in_states("pending") == []
    [event] = refused(bot, CAROL)
    assert json.loads(event.detail) == {"attempted": "request_access", "refusal": "tampered_form"}


@pytest.mark.parametrize("duration", TAMPERED)
def test_a_tampered_duration_is_answered_in_the_extension_form(bot, slack, duration):
    """Given Carol's active access, when she asks to extend it by a tampered duration, then the
    extension form says so under the duration and no extension is stored."""
    original = active_request(bot, slack)
    forge_click(slack, CAROL, "extend", original.id)  # the Extend button of her expiry warning
    eventually(lambda: slack.open_view(CAROL))
    offer(slack, CAROL, duration)
    answer = slack.submit(CAROL, {"duration": duration, "justification": "longer"})
    assert answer.status_code == 200 and answer.json()["response_action"] == "errors"
    assert slack.view_errors(CAROL).keys() == {"duration"}
    assert bot.service.lifecycle.queries.extension_of(original.id) is None
    assert [json.loads(e.detail)["refusal"] for e in refused(bot, CAROL)] == ["tampered_form"]


def test_an_extension_refused_by_the_core_is_answered_in_the_form(bot, slack):
    """Given Carol ended her access while the extension form was open, when she submits it, then
    the form says the access is not active (a late answer, not a probe)."""
    original = active_request(bot, slack)
    forge_click(slack, CAROL, "extend", original.id)  # the Extend button of her expiry warning
    eventually(lambda: slack.open_view(CAROL))
    bot.service.lifecycle.end_early(original.id, CAROL)
    answer = slack.submit(CAROL, {"duration": "1h", "justification": "longer"})
    assert answer.json()["response_action"] == "errors"
    assert "not active" in slack.view_errors(CAROL)["duration"]
    assert refused(bot, CAROL) == []


# -- surprises: the person who acted is always told ---------------------------------------------
def test_a_surprise_in_a_submission_is_answered_in_the_form(bot, slack, monkeypatch):
    """Given the core fails unexpectedly on a submission, then the form stays open with an
    error id under its first input, instead of closing without a word."""
    slack.command(CAROL)
    eventually(lambda: slack.open_view(CAROL))
    monkeypatch.setattr(bot.service.lifecycle, "submit", lambda *a, **k: 1 / 0)
    answer = slack.submit(CAROL, {"access": option_for(bot, "eng-admins"), "duration": "4h",
                                  "justification": "need it"})
    assert answer.json()["response_action"] == "errors"
    assert "error id" in slack.view_errors(CAROL)["access"]
    assert slack.open_view(CAROL) is not None


def test_a_surprise_on_opening_the_home_tab_is_told_by_dm(bot, slack):
    """Given Slack refuses to draw the Home tab, then the person who opened it gets a DM with
    an error id."""
    slack.fail("views.publish")
    slack.open_home(CAROL)
    eventually(lambda: "error id" in str(slack.dm(CAROL)))

"""Slack delivering the same thing twice: an event retried with X-Slack-Retry-Num, and replays of
a slash command, a click and a form submission.  None has a second effect.

(tests/resilience/test_replicas.py does the same with the retry reaching another replica.)
"""

from __future__ import annotations

import time
from datetime import UTC, timedelta

import pytest
from sqlalchemy import event as sa_event

from bot.domain.events import RequestCancelled, RequestDenied, RequestSubmitted
from storage.audit_log import AuditLog
from storage.engine import make_engine
from storage.requests import Requests
from tests.resilience.support import has_button
from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually
from tests.support.slack import request_access
from tests.support.stored import stored_request


@pytest.fixture(scope="module")
def bot(make_bot_m):
    return make_bot_m().start()


def publishes(slack) -> int:
    return len(slack.calls_to("POST", "/api/views.publish"))


def test_a_retried_event_has_no_second_effect(bot, slack_m):
    """Given Dave opens App Home, when Slack retries the same event twice (X-Slack-Retry-Num 1
    and 2, same event_id), then each retry gets a 200 and the Home is published once."""
    before = publishes(slack_m)
    assert slack_m.open_home(DAVE).status_code == 200
    delivery = slack_m.last_delivery()
    eventually(lambda: publishes(slack_m) == before + 1)
    for retry in (1, 2):
        answer = slack_m.deliver_again(delivery, retry_num=retry)
        assert answer.status_code == 200, answer.text
    time.sleep(0.5)
    assert publishes(slack_m) == before + 1
    assert slack_m.open_home(DAVE).status_code == 200  # a new event (new id) is acted on
    eventually(lambda: publishes(slack_m) == before + 2)


def test_a_replayed_form_submission_creates_one_request(bot, slack_m):
    """Given Carol submitted the request form, when the same submission arrives again, then
    there is still one request, the owners are asked once, and the replay is answered inside
    the form."""
    requests = bot.service.lifecycle.queries
    request_access(slack_m, user=CAROL)
    delivery = slack_m.last_delivery()
    request = eventually(lambda: requests.in_states("pending"))[0]
    eventually(lambda: has_button(slack_m, ALICE, "approve", request.id))
    answer = slack_m.deliver_again(delivery, retry_num=1)
    assert answer.status_code == 200
    assert answer.json()["response_action"] == "errors"
    assert "waiting" in answer.json()["errors"]["access"]
    time.sleep(0.3)
    assert [r.id for r in requests.in_states("pending")] == [request.id]
    asked = [m for m in slack_m.dm(ALICE) if has_button_in(m, request.id)]
    assert len(asked) == 1


def has_button_in(message, value) -> bool:
    return any(b.get("value") == value for b in (message.get("blocks") or [{}])[-1].get("elements", []))


def test_a_replayed_click_approves_once(bot, slack_m, okta_m):
    """Given Carol's pending request, when Alice's Approve click arrives twice, then Okta gets
    one membership write, the audit log one approval, and the replay an 'already approved'."""
    requests = bot.service.lifecycle.queries
    request = requests.in_states("pending")[0]
    writes_before = len(okta_m.membership_writes())
    slack_m.click(ALICE, "approve", value=request.id)
    delivery = slack_m.last_delivery()
    eventually(lambda: requests.get(request.id).state == "active")
    answers_before = len(slack_m.responses(ALICE))
    assert slack_m.deliver_again(delivery, retry_num=1).status_code == 200
    eventually(lambda: len(slack_m.responses(ALICE)) > answers_before)
    assert "Already approved by <@U0ALICE>" in str(slack_m.responses(ALICE)[-1])
    assert len(okta_m.membership_writes()) == writes_before + 1
    actions = [e.action for e in bot.service.lifecycle.audit.events(request.id)]
    assert actions.count("approved") == 1 and actions.count("activate") == 1


def test_a_replayed_slash_command_changes_nothing(bot, slack_m):
    """Given Bob typed /request-access, when the same command arrives again (its trigger already
    used), then it is acknowledged, no request or audit event appears, and Bob's form stays."""
    requests, audit = bot.service.lifecycle.queries, bot.service.lifecycle.audit
    with slack_m.lock:
        slack_m.workspace.clear_modals(BOB)
    assert slack_m.command(BOB, text="eng").status_code == 200
    delivery = slack_m.last_delivery()
    modal = eventually(lambda: slack_m.open_view(BOB))
    rows, events = len(requests.in_states("pending", "active")), len(audit.events())
    assert slack_m.deliver_again(delivery, retry_num=1).status_code == 200
    time.sleep(0.5)
    assert slack_m.open_view(BOB)["id"] == modal["id"]
    assert len(requests.in_states("pending", "active")) == rows and len(audit.events()) == events


def test_a_state_change_and_its_audit_event_are_one_transaction(bot):
    """Given the repositories, when a request's state changes, then its audit event is written
    by the same commit (a crash cannot separate them), and a change that loses the
    compare-and-set writes no event."""
    from datetime import datetime

    engine = make_engine(bot.settings.database_url)  # its own, so only our commits count
    requests, audit = Requests(engine), AuditLog(engine)
    now = datetime.now(UTC)
    requests.add(stored_request(now, id="tx1", requester=DAVE, requester_email="dave@acme.com",
                             account_id="a", entitlement_id="e", entitlement_name="e",
                             duration=timedelta(seconds=60), justification="j"),
                 also=[audit.entry(RequestSubmitted(request_id="tx1", actor=DAVE), now)])
    commits = []
    count = commits.append
    sa_event.listen(engine, "commit", count)
    try:
        assert requests.move("tx1", "pending", state="cancelled",
                             also=[audit.entry(RequestCancelled(request_id="tx1", actor=DAVE), now)])
        assert len(commits) == 1
        assert not requests.move("tx1", "pending", state="denied",
                                 also=[audit.entry(RequestDenied(request_id="tx1", actor=ALICE), now)])
    finally:
        sa_event.remove(engine, "commit", count)
    assert [e.action for e in audit.events("tx1")] == ["submitted", "cancel"]
    engine.dispose()

"""Every request must carry Slack's signature over its exact bytes, made within five minutes."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest

from sandbox.slack_platform import sign
from tests.support.harness import CAROL, SIGNING_SECRET, eventually

FORM = "application/x-www-form-urlencoded"


def command_body(trigger_id: str) -> bytes:
    return urlencode({"command": "/request-access", "text": "", "user_id": CAROL, "team_id": "T0LATCHKEY",
                      "channel_id": "C0GENERAL", "trigger_id": trigger_id,
                      "response_url": "http://127.0.0.1:9/none"}).encode()


@pytest.mark.parametrize("case", ["wrong secret", "stale", "future", "missing signature",
                                  "missing timestamp", "body changed after signing"])
def test_unsigned_or_tampered_requests_are_rejected_without_effect(bot, slack, case):
    """Given a request that Slack did not sign as sent, then the bot answers 401 and opens nothing."""
    body = command_body(slack.workspace.issue_trigger(CAROL))
    now = int(time.time())
    kwargs = {
        "wrong secret": dict(secret="not-the-secret"),
        "stale": dict(timestamp=now - 310),
        "future": dict(timestamp=now + 310),
        "missing signature": dict(signature=""),
        "missing timestamp": dict(timestamp="", signature=sign(SIGNING_SECRET, "", body)),
        "body changed after signing": dict(signature=sign(SIGNING_SECRET, str(now), body + b"&x=1"),
                                           timestamp=now),
    }[case]
    response = slack.post_raw(body, FORM, **kwargs)
    assert response.status_code == 401
    slack.command(CAROL)  # a genuine request afterwards is served, and is the only one that was
    eventually(lambda: slack.open_view(CAROL))
    assert len(slack.calls_to("POST", "/api/views.open")) == 1


def test_a_correctly_signed_request_is_accepted(bot, slack):
    """The control for the test above: the same body, properly signed, opens the form."""
    response = slack.post_raw(command_body(slack.workspace.issue_trigger(CAROL)), FORM)
    assert response.status_code == 200
    assert eventually(lambda: slack.open_view(CAROL))["title"]["text"] == "Request access"


def test_health_and_readiness(bot):
    """Given a started bot, then /healthz and /readyz answer 200."""
    import httpx

    assert httpx.get(bot.url + "/healthz").status_code == 200
    assert httpx.get(bot.url + "/readyz").text == "ready"

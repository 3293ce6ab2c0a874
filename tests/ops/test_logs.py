"""Structured logs: one JSON object per line, a request id per Slack request, never a secret."""

from __future__ import annotations

import io
import json
import logging
from datetime import timedelta

import pytest

from bot import logs
from tests.support.harness import ALICE, BOT_TOKEN, CAROL, OKTA_TOKEN, SIGNING_SECRET, soon
from tests.support.slack import request_access


@pytest.fixture
def json_logs():
    """Route every log record, at DEBUG, through the JSON format `latchkey serve` uses; restore after."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level,
             {name: logging.getLogger(name).level for name in logs.NOISY})
    stream = io.StringIO()
    logs.configure("DEBUG", "json", stream)
    yield stream
    handlers, level, noisy = saved
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, noisy_level in noisy.items():
        logging.getLogger(name).setLevel(noisy_level)


def entries(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]  # every line is JSON


def test_a_whole_story_logs_json_lines_without_any_secret(json_logs, bot, slack, okta, clock):
    """Given JSON logs at DEBUG, when a request is submitted, approved, granted and revoked, then
    every line is a JSON object, Slack requests carry a request id, and neither the Slack token,
    the signing secret nor the Okta token appears anywhere in the output."""
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    request_access(slack)
    soon(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])
    slack.click(ALICE, "approve")
    soon(lambda: carol in okta.members(group))
    soon(lambda: bot.service.lifecycle.queries.in_states("active"))  # the grant is recorded
    clock.advance(timedelta(hours=4, seconds=1))
    soon(lambda: carol not in okta.members(group))

    output = json_logs.getvalue()
    for secret in (BOT_TOKEN, SIGNING_SECRET, OKTA_TOKEN):
        assert secret not in output
    lines = entries(json_logs)
    assert {"time", "level", "logger", "message"} <= set(lines[0])
    slack_requests = [e for e in lines if e["logger"] == "bot.slack.requests"]
    assert any(e["message"] == "slack command /request-access from U0CAROL" for e in slack_requests)
    assert all(e.get("request_id") for e in slack_requests)
    assert len({e["request_id"] for e in slack_requests}) == len(slack_requests)  # one id each


def test_a_failing_listener_logs_under_the_request_id_of_its_slack_request(json_logs, bot, slack, okta,
                                                                           monkeypatch):
    """Given an approval that breaks inside the listener thread, then the error line carries the
    same request id as the line that received the click, so an operator can follow one request."""
    request_access(slack)
    soon(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])

    def broken(*args, **kwargs):
        raise RuntimeError("database on fire")
    monkeypatch.setattr(bot.service.lifecycle, "approve", broken)
    slack.click(ALICE, "approve")
    error = soon(lambda: [e for e in entries(json_logs) if e["level"] == "ERROR"
                                and "database on fire" in e.get("exception", "")])[0]
    click = [e for e in entries(json_logs) if e["logger"] == "bot.slack.requests"
             and e["message"] == "slack block_actions from U0ALICE"][-1]
    assert error["request_id"] == click["request_id"]
    assert error["thread"] != click["thread"]  # the id crossed into bolt's listener thread


def test_tokens_quoted_by_a_library_are_masked():
    """Given a message that quotes tokens and a database password, then the line shows none."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "call failed: %s %s %s %s", (
        "Authorization: Bearer xoxb-123-456-abc", "xapp-1-A0-99-ff",
        "Authorization: SSWS 00abcDEF", "postgresql+psycopg://latchkey:hunter2@db/latchkey"), None)
    handler.emit(record)
    line = stream.getvalue()
    for secret in ("xoxb-123", "xapp-1", "00abcDEF", "hunter2"):
        assert secret not in line
    assert "postgresql+psycopg://[redacted]@db/latchkey" in json.loads(line)["message"]

    stream.truncate(0), stream.seek(0)
    handler.emit(logging.LogRecord("x", logging.ERROR, __file__, 1, "header was 'SSWS 00abcDEF'", (), None))
    assert json.loads(stream.getvalue())["message"] == "header was 'SSWS [redacted]'"


def test_an_unknown_log_format_is_refused():
    with pytest.raises(ValueError, match="text or json"):
        logs.configure("INFO", "yaml", io.StringIO())


def test_text_format_names_the_request(capsys):
    """Given text logs, a line logged while handling a Slack request ends with its id."""
    formatter = logs.TextFormatter()
    record = logging.LogRecord("bot", logging.INFO, __file__, 1, "hello %s", (CAROL,), None)
    record.request_id = "abc123"
    assert formatter.format(record).endswith("bot: hello U0CAROL [request abc123]")

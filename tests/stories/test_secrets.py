"""No secret reaches Slack, the database or an export, whatever a target's error quotes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from sqlalchemy import text
from sqlmodel import Session

from bot.audit_export import write
from bot.config import Settings
from bot.slack.app import web_client
from bot.slack.audit_lines import format_line
from storage.audit_log import AuditLog
from storage.request_queries import RequestQueries
from storage.requests import Requests
from storage.tables import AuditRow
from tests.support.cli import run
from tests.support.harness import BOB, BOT_TOKEN, CAROL, MEMBERSHIP, OKTA_TOKEN, SIGNING_SECRET, eventually
from tests.support.requests import approved
from tests.support.slack import texts
from tests.support.stored import stored_request

SECRETS = (OKTA_TOKEN, SIGNING_SECRET, BOT_TOKEN)
CHANNEL = "C0GENERAL"


def leaked(*texts_: str) -> list[str]:
    return [secret for secret in SECRETS for text in texts_ if secret in text]


def sent_to_slack(slack) -> str:
    """Every Web API call and response_url post the bot made, as Slack received it."""
    return "\n".join(call.body.decode(errors="replace") for call in slack.calls)


@pytest.mark.parametrize("status", [403, 503])
def test_a_token_echoed_in_an_error_reaches_no_message_row_post_or_export(make_bot, slack, okta,
                                                                           clock, status):
    """Given Okta (or a proxy before it) answers the grant with an error quoting the request's
    Authorization header, when the request is approved and fails, then Carol's and the owners'
    DMs, the stored request, the audit log, the audit channel and `latchkey audit export` all say
    what failed, and none holds the token."""
    bot = make_bot(max_attempts=1, audit_channel=CHANNEL).start()
    okta.echo_credentials(status=status, times=1000, path=MEMBERSHIP)
    request = approved(bot, slack)
    if status >= 500:  # worth retrying: each round is retried after a backoff; skip the wait
        for attempt in (1, 2):
            eventually(lambda: bot.request(request.id).attempts == attempt)
            clock.advance(timedelta(minutes=10))
            bot.service.scheduler.wake_at(clock.now())
    eventually(lambda: bot.request(request.id).state == "failed")
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))
    eventually(lambda: "granting failed" in texts(slack.dm(BOB)))
    eventually(lambda: "could not grant" in texts(slack.messages(CHANNEL)))

    stored = bot.request(request.id).last_error
    assert f"answered {status}" in stored and "(Authorization: SSWS [redacted])" in stored
    audit = [row.detail for row in AuditLog(bot.service.engine).events()]
    assert any("SSWS [redacted]" in detail for detail in audit)
    export = run(["audit", "export", "--since", "1d"], env={"DATABASE_URL": bot.settings.database_url})
    assert export.returncode == 0 and "SSWS [redacted]" in export.stdout
    assert "SSWS [redacted]" in texts(slack.dm(CAROL))
    assert leaked(stored, *audit, export.stdout, sent_to_slack(slack)) == []


def test_an_old_audit_event_holding_a_token_is_masked_in_the_export_and_the_channel(engine):
    """Given an audit event written before masking existed, with secrets in its error, then the
    export and the audit channel line mask them."""
    Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET)  # as `serve` loads it
    with Session(engine) as session:
        session.add(AuditRow(at=datetime.now(UTC), actor="latchkey", action="fail", request_id="a1",
                             detail=json.dumps({"error": f"Slack said: signing secret "
                                                         f"{SIGNING_SECRET}, token xoxb-9-9-abc"})))
        session.commit()
    row = AuditLog(engine).last("fail")
    exported = StringIO()
    write([row], exported, "json")
    for shown in (exported.getvalue(), format_line(row)):
        assert SIGNING_SECRET not in shown and "xoxb-9-9-abc" not in shown and "[redacted]" in shown


def test_whatever_the_bot_sends_slack_is_masked_on_the_way_out(slack):
    """Given a text that quotes a configured secret and a Slack token (a message no earlier
    mask saw), when the bot's Web API client posts it, then Slack receives it masked."""
    Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET)
    client = web_client(BOT_TOKEN, slack.url + "/api/")
    client.chat_postMessage(channel=CAROL, text=f"secret {SIGNING_SECRET}, token xoxp-1-2-abc",
                            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": SIGNING_SECRET}}])
    assert leaked(sent_to_slack(slack)) == [] and "xoxp-1-2-abc" not in sent_to_slack(slack)
    assert "secret [redacted], token [redacted]" in texts(slack.dm(CAROL))


def test_an_error_stored_before_masking_existed_is_read_back_masked(engine):
    """Given a request whose stored error holds a token (written by an older Latchkey), then
    every reader (DMs, Home tab, `/request-access list`) gets it masked."""
    Requests(engine).add(stored_request(datetime.now(UTC), id="a1b2c3", requester=CAROL,
                                     requester_email="carol@acme.com", justification="x", state="failed"))
    with engine.begin() as conn:  # as an older version wrote it, past today's column type
        conn.execute(text("UPDATE access_request SET last_error = :error"),
                     {"error": "answered 403 (Authorization: SSWS 00aBcD-1234)"})
    assert RequestQueries(engine).get("a1b2c3").last_error == "answered 403 (Authorization: SSWS [redacted])"

"""`latchkey check` as an operator (or an init container) runs it: a real process, its table and
its exit status, against the sandbox Slack and Okta."""

from __future__ import annotations

from bot.check import INFO, OK, PROBLEM, Finding, run_checks
from bot.config import Settings, parse_config
from tests.support.cli import run, serve_env
from tests.support.config import config_text
from tests.support.harness import BOT_TOKEN, OKTA_TOKEN, SIGNING_SECRET, make_settings


def test_check_passes_and_shows_what_each_connector_can_do(tmp_path, slack, okta):
    """Given a working deployment, when `latchkey check` runs, then it exits 0 and shows the
    Slack workspace, the database and what the Okta token can sync and provision."""
    result = run(["check"], env=serve_env(tmp_path, slack.url, config_text(okta.url)))
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "all checks passed" in out
    assert "workspace Latchkey Sandbox" in out and "auth.test" in out
    assert "sync users" in out and "provision group membership" in out
    assert "problem" not in out
    for secret in (BOT_TOKEN, SIGNING_SECRET, OKTA_TOKEN):
        assert secret not in out + result.stderr


def test_a_bad_slack_token_fails_the_check_with_a_clear_message(tmp_path, slack, okta):
    """Given a Slack token the workspace does not know, then `latchkey check` exits 1 and says
    that Slack refused the token, while still checking the connectors."""
    env = {**serve_env(tmp_path, slack.url, config_text(okta.url)), "SLACK_BOT_TOKEN": "xoxb-wrong"}
    result = run(["check"], env=env)
    assert result.returncode == 1
    assert "Slack answered invalid_auth: SLACK_BOT_TOKEN is not valid for this workspace" in \
        " ".join(result.stdout.split())
    assert "sync users" in result.stdout  # one problem does not hide the other checks
    assert "xoxb-wrong" not in result.stdout


def test_a_bad_connector_token_fails_the_check(tmp_path, slack, okta):
    env = {**serve_env(tmp_path, slack.url, config_text(okta.url)), "OKTA_API_TOKEN": "wrong"}
    result = run(["check"], env=env)
    assert result.returncode == 1
    assert "okta" in result.stdout and "problem" in result.stdout


def test_a_bad_config_fails_the_check_naming_the_key(tmp_path, slack, okta):
    """A config that cannot be used is a configuration error: exit status 2, as for `serve`."""
    bad = config_text(okta.url, approvals=0)
    result = run(["check"], env=serve_env(tmp_path, slack.url, bad))
    assert result.returncode == 2
    assert "policy.approvals" in " ".join(result.stdout.split())


def test_unreachable_slack_is_a_problem_not_a_crash(tmp_path, okta, monkeypatch):
    """In-process: Slack's URL answers nothing; the finding says so and the others still run."""
    monkeypatch.setenv("OKTA_API_TOKEN", OKTA_TOKEN)
    settings = Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                        slack_api_url="http://127.0.0.1:9/api/",
                        database_url=f"sqlite:///{tmp_path}/c.db")
    findings = run_checks(settings, parse_config(config_text(okta.url)))
    by_subject = {f.subject: f for f in findings if f.what in ("auth.test", "connect")}
    assert by_subject["slack"].status == PROBLEM and by_subject["slack"].detail
    assert by_subject["database"] == Finding("database", "connect", OK, f"sqlite:///{tmp_path}/c.db")
    assert any(f.subject == "okta" and f.status == OK for f in findings)
    schema = next(f for f in findings if f.what == "schema")
    assert schema.status == INFO and "latchkey db upgrade" in schema.detail  # not a problem


def test_details_are_printed_verbatim_with_tokens_masked():
    """Text from a target system is shown as is (no rich markup), and a quoted token is masked."""
    from rich.console import Console

    from bot.check import render

    console = Console(width=200, record=True)
    render([Finding("okta", "sync users", PROBLEM, "[E0000011] Bearer xoxb-1-2 was refused")], console)
    text = console.export_text()
    assert "[E0000011] Bearer [redacted] was refused" in text and "xoxb-1-2" not in text


def test_segment_write_rights_cost_one_iam_write_that_changes_nothing(tmp_path, okta, slack, monkeypatch):
    """Segment has no read-only way to show a token's rights: the check proves them with one
    IAM write (counted against the 60-a-minute limit, as the README says) that removes an
    address nobody has, so every group keeps its members."""
    from sandbox.segment import SegmentSandbox

    monkeypatch.setenv("OKTA_API_TOKEN", OKTA_TOKEN)
    monkeypatch.setenv("SEGMENT_TOKEN", "sgp-check-token")
    with SegmentSandbox(tokens={"sgp-check-token": "workspace_owner"}) as segment:
        group = segment.add_group("Engineering")
        segment.add_member(group, segment.add_user("ada@acme.com"))
        settings = Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                            slack_api_url=slack.url, database_url=f"sqlite:///{tmp_path}/c.db")
        segment_connector = {"type": "segment", "token": "${SEGMENT_TOKEN}", "base_url": segment.url,
                             "owners": ["U0ALICE"]}
        findings = run_checks(settings, parse_config(config_text(okta.url, connectors={"segment": segment_connector})))
        [probe] = segment.writes()
        members = segment.members(group)
    assert {f.what: f.status for f in findings if f.subject == "segment"}[
        "provision group membership"] == OK
    assert probe.method == "DELETE" and probe.path == f"/group/{group}/users"
    assert len(members) == 1


def test_break_glass_nobody_else_could_review_fails_the_check(tmp_path, slack, okta):
    """Given break-glass on a connector whose one owner could be the requester, then `latchkey
    check` exits 2 (the config is refused) and says who alone could review it and what to add."""
    config = config_text(okta.url, owners=("U0ALICE",), policy={"break_glass": True})
    result = run(["check"], env=serve_env(tmp_path, slack.url, config))
    assert result.returncode == 2
    said = " ".join(result.stdout.split())
    assert "allows break_glass, but only U0ALICE could review it" in said and "add a `fallback`" in said


def test_a_connector_outage_is_a_problem_not_a_missing_right(tmp_path, slack, okta, monkeypatch):
    """In-process: Okta answers 503 while the check probes; the connector's row is a problem
    naming the outage, and no capability is reported as unavailable."""
    monkeypatch.setenv("OKTA_API_TOKEN", OKTA_TOKEN)
    okta.fail(503, times=100, path=r"/api/v1/groups")
    config = parse_config(config_text(okta.url, max_attempts=1))
    okta_rows = [f for f in run_checks(make_settings(tmp_path, slack.url), config)
                 if f.subject == "okta"]
    assert [(f.what, f.status) for f in okta_rows] == [("capabilities", PROBLEM)]
    assert "TransientError" in okta_rows[0].detail and "503" in okta_rows[0].detail

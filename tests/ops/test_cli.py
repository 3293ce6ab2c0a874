"""The `latchkey` command as an operator runs it: a real process, its exit status and output."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from importlib.metadata import version

import httpx
from alembic.script import ScriptDirectory

from storage.engine import alembic_config, make_engine
from tests.support.cli import LATCHKEY, run, serve_env
from tests.support.config import config_text
from tests.support.harness import BOT_TOKEN, CAROL, OKTA_TOKEN, SIGNING_SECRET, eventually, free_port
from tests.support.requests import approved


def said(text: str) -> str:
    """What a message says, without the box typer draws around usage errors or its line breaks."""
    return " ".join(re.sub("[│╭╮╰╯─]", " ", text).split())


def test_demo_plays_the_whole_story():
    """Given no Slack workspace and no config, when `latchkey demo --fast` runs, then it shows
    the request, the approval, the Okta membership and its removal, and exits 0."""
    result = run(["demo", "--fast"])
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Okta eng-admins members (after the approval): carol@acme.com" in out
    assert "Already approved by @Alice" in out
    assert "Okta eng-admins members (at the end): nobody" in out


def test_demo_with_step_up_shows_an_approval_waiting_on_the_approvers_phone():
    """Given `latchkey demo --fast --step-up`, then after the first story Alice's approval of
    billing-admins waits on an Okta Verify push, and counts once she accepts it."""
    result = run(["demo", "--fast", "--step-up"])
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Okta eng-admins members (at the end): nobody" in out  # the first story, whole
    assert "Check your phone" in out
    assert "Okta billing-admins members (while the push waits): nobody" in out
    assert "Okta billing-admins members (after she accepted): carol@acme.com" in out
    assert "step_up_passed → approved" in " ".join(out.split())


def test_version_is_the_installed_package_version():
    result = run(["--version"])
    assert result.returncode == 0 and result.stdout.strip() == f"latchkey {version('latchkey')}"


def test_usage_and_configuration_errors_exit_2_naming_the_problem(tmp_path):
    """Every command reads the same settings as `serve`, checked the same way, and bad usage or a
    bad setting exits 2 with a message, before anything is tried."""
    database = {"DATABASE_URL": f"sqlite:///{tmp_path}/l.db"}
    cases = [(["audit", "export", "--since", "1d", "--format", "xml"], {}, "'xml' is not one of 'json', 'csv'"),
             (["serve", "--log-level", "chatty"], {}, "'chatty' is not one of"),
             (["db", "upgrade"], {**database, "LATCHKEY_LOG_FORMAT": "yaml"}, "LATCHKEY_LOG_FORMAT"),
             (["audit", "export", "--since", "1d"], {**database, "LATCHKEY_LOG_LEVEL": "chatty"},
              "LATCHKEY_LOG_LEVEL"),
             (["db", "upgrade", "no-such-revision"], database, "no-such-revision"),
             (["no-such-command"], {}, "No such command")]
    for args, env, message in cases:
        result = run(args, env=env)
        assert (result.returncode, message in said(result.stderr)) == (2, True), (args, result.stderr)
        assert "Traceback" not in result.stderr


def test_a_database_that_cannot_be_reached_fails_the_run_with_exit_1():
    """`db upgrade` and `audit export` say why the database failed, without a traceback or the
    password, and exit 1."""
    env = {"DATABASE_URL": "postgresql+psycopg://latchkey:hunter2@127.0.0.1:9/latchkey"}
    for args in (["db", "upgrade"], ["audit", "export", "--since", "1d"]):
        result = run(args, env=env)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith("latchkey: database:") and "Connection refused" in result.stderr
        assert "Traceback" not in result.stderr and "hunter2" not in result.stderr


def test_the_demo_of_an_install_without_the_sandboxes_says_where_it_runs():
    """The image does not ship sandbox/: `latchkey demo` there explains, and exits 2."""
    without_sandbox = ("import sys; sys.modules['sandbox'] = None; sys.argv = ['latchkey', 'demo']; "
                       "from bot.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", without_sandbox], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2, result.stderr
    assert "make demo" in said(result.stderr) and "Traceback" not in result.stderr


def test_bad_config_stops_start_up_naming_the_key(tmp_path, slack, okta):
    """Given a config with a bad duration, when `latchkey serve` starts, then it exits 2 and says
    which key is wrong and why."""
    bad = config_text(okta.url, max_duration="8 hours")
    result = run(["serve", "--port", "0"], env=serve_env(tmp_path, slack.url, bad))
    assert result.returncode == 2
    assert "policy.max_duration" in result.stderr and "not a duration" in result.stderr


def test_missing_secret_stops_start_up(tmp_path, slack, okta):
    """Given no SLACK_SIGNING_SECRET, then `latchkey serve` refuses to start and says so."""
    env = serve_env(tmp_path, slack.url, config_text(okta.url))
    env["SLACK_SIGNING_SECRET"] = ""
    result = run(["serve"], env=env)
    assert result.returncode == 2 and "SLACK_SIGNING_SECRET" in result.stderr


def test_serve_answers_slack_and_stops_cleanly(tmp_path, slack, okta):
    """Given a valid config, when `latchkey serve --host --port` runs, then /readyz turns 200, a
    signed slash command opens the form, and SIGTERM stops it with status 0."""
    port = free_port()
    env = serve_env(tmp_path, slack.url, config_text(okta.url))
    process = subprocess.Popen(LATCHKEY + ["serve", "--host", "127.0.0.1", "--port", str(port)],
                               env={**os.environ, **env}, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        base = f"http://127.0.0.1:{port}"

        def ready():
            try:
                return httpx.get(base + "/readyz").status_code == 200
            except httpx.TransportError:
                return False

        eventually(ready, timeout=20)
        assert httpx.get(base + "/healthz").status_code == 200
        slack.bot_url = base + "/slack/events"
        assert slack.command(CAROL, text="eng-admins").status_code == 200
        eventually(lambda: slack.open_view(CAROL))
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 0, stderr
    assert OKTA_TOKEN not in stderr and SIGNING_SECRET not in stderr and BOT_TOKEN not in stderr


def test_db_upgrade_creates_the_schema(tmp_path):
    """Given an empty database, when `latchkey db upgrade` runs, then it reports the head revision."""
    result = run(["db", "upgrade"], env={"DATABASE_URL": f"sqlite:///{tmp_path}/new.db"})
    assert result.returncode == 0, result.stderr
    head = ScriptDirectory.from_config(alembic_config(make_engine("sqlite://"))).get_current_head()
    assert f"database at revision {head}" in result.stdout


def test_sync_prints_what_it_found(tmp_path, slack, okta):
    """Given a config, when `latchkey sync` runs, then it reports each connector's counts and exits 0;
    an unknown connector id exits 2 naming the ones there are."""
    env = serve_env(tmp_path, slack.url, config_text(okta.url))
    result = run(["sync"], env=env)
    assert result.returncode == 0, result.stderr
    # 6 groups, and the 10 standard admin roles Okta always has
    assert "okta: 16 entitlements, 4 accounts, 1 grants" in result.stdout
    result = run(["sync", "jira"], env=env)
    assert result.returncode == 2 and "have: okta" in result.stderr


def test_sync_failure_exits_non_zero(tmp_path, slack, okta):
    """Given a wrong Okta token, when `latchkey sync` runs, then it says why and exits 1."""
    env = {**serve_env(tmp_path, slack.url, config_text(okta.url)), "OKTA_API_TOKEN": "wrong"}
    result = run(["sync"], env=env)
    assert result.returncode == 1
    assert "E0000011" in result.stdout and "wrong" not in result.stdout.replace("wrong token", "")


def test_audit_export_as_json_lines_and_csv(bot, slack, okta):
    """Given a request approved and granted, when the audit log is exported, then every event is
    there in order, as JSON Lines or CSV, with who did what and why."""
    import csv
    import io
    import json


    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    env = {"DATABASE_URL": bot.settings.database_url}
    result = run(["audit", "export", "--since", "1d"], env=env)
    assert result.returncode == 0, result.stderr
    everything = [json.loads(line) for line in result.stdout.splitlines()]
    assert everything[0]["action"] == "config_loaded"  # what the bot started with
    events = everything[1:]
    assert [e["action"] for e in events] == ["submitted", "approved", "claim", "activate"]
    assert events[0]["actor"] == CAROL and events[0]["detail"]["justification"] == "Deploy the INC-42 hotfix"
    assert events[1]["actor"] == "U0ALICE" and all(e["request_id"] == request.id for e in events)
    rows = list(csv.DictReader(io.StringIO(run(["audit", "export", "--since", "2000-01-01",
                                                "--format", "csv"], env=env).stdout)))
    assert [r["action"] for r in rows] == [e["action"] for e in everything]
    assert run(["audit", "export", "--since", "2999-01-01"], env=env).stdout == ""
    for secret in (OKTA_TOKEN, BOT_TOKEN, SIGNING_SECRET):  # no secret ever enters the audit log
        assert secret not in result.stdout
    bad = run(["audit", "export", "--since", "last tuesday"], env=env)
    assert bad.returncode == 2 and "neither a date" in bad.stderr

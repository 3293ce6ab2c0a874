"""The `latchkey` command as an operator runs it: a real process, its exit status and output."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from tests.harness import BOT_TOKEN, CAROL, OKTA_TOKEN, SIGNING_SECRET, config_text, eventually

LATCHKEY = [sys.executable, "-m", "bot.cli"]


def run(args, env=None, timeout=60):
    return subprocess.run(LATCHKEY + args, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


def serve_env(tmp_path: Path, slack_url: str, config: str) -> dict:
    (tmp_path / "latchkey.yaml").write_text(config)
    return {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack_url + "/api/", "DATABASE_URL": f"sqlite:///{tmp_path}/l.db",
            "LATCHKEY_CONFIG": str(tmp_path / "latchkey.yaml"), "OKTA_API_TOKEN": OKTA_TOKEN}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_demo_plays_the_whole_story():
    """Given no Slack workspace and no config, when `latchkey demo --fast` runs, then it shows
    the request, the approval, the Okta membership and its removal, and exits 0."""
    result = run(["demo", "--fast"])
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "Okta eng-admins members (after the approval): carol@acme.com" in out
    assert "Already approved by @Alice" in out
    assert "Okta eng-admins members (at the end): nobody" in out


def test_bad_config_stops_start_up_naming_the_key(tmp_path, slack, okta):
    """Given a config with a bad duration, when `latchkey serve` starts, then it exits 2 and says
    which key is wrong and why."""
    bad = config_text(okta.url).replace("max_duration: 8h", "max_duration: 8 hours")
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
    assert "database at revision 0002" in result.stdout

"""Socket Mode: with SLACK_APP_TOKEN set, Latchkey connects out to Slack instead of listening."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import httpx
from pydantic import SecretStr
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.server import make_server
from bot.service import Service
from bot.transport import socket_mode_handler
from sandbox.slack_workspace import APP_ID, TEAM_DOMAIN, TEAM_ID
from tests.ops.socket_mode_server import SocketModeServer
from tests.support.cli import serve_env
from tests.support.config import config_text
from tests.support.harness import CAROL, soon

APP_TOKEN = "xapp-1-A0LATCHKEY-1-test"


def with_app_token(bot, token: str = APP_TOKEN):
    bot.settings = bot.settings.model_copy(update={"slack_app_token": SecretStr(token)})
    return bot


def test_serve_chooses_socket_mode_only_when_an_app_token_is_set(make_bot):
    """Without SLACK_APP_TOKEN (or with an empty one) Slack comes over HTTP; with it, a Socket
    Mode handler for the same bolt App is built, not yet connected."""
    bot = make_bot()
    assert socket_mode_handler(Service(bot.settings, bot.config, bot.clock)) is None
    assert socket_mode_handler(Service(with_app_token(bot, "").settings, bot.config, bot.clock)) is None

    service = Service(with_app_token(bot).settings, bot.config, bot.clock)
    handler = socket_mode_handler(service)
    try:
        assert isinstance(handler, SocketModeHandler)
        assert handler.app is service.slack_app and handler.app_token == APP_TOKEN
        assert not handler.client.is_connected()
    finally:
        handler.close()
        service.stop()


def test_in_socket_mode_the_http_port_serves_probes_and_metrics_but_not_slack(make_bot):
    bot = with_app_token(make_bot())
    service = Service(bot.settings, bot.config, bot.clock)
    service.start()
    server = make_server(service, "127.0.0.1", 0, threads=2, slack_http=False)

    def run():
        try:
            server.run()
        except OSError:  # closed below
            pass
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.effective_port}"
    try:
        assert httpx.get(url + "/healthz").status_code == 200
        soon(lambda: httpx.get(url + "/readyz").status_code == 200)
        assert httpx.get(url + "/metrics").status_code == 200
        refused = httpx.post(url + "/slack/events", content=b"{}")
        assert refused.status_code == 404 and "Socket Mode" in refused.text
    finally:
        server.close()
        thread.join(timeout=5)
        service.stop()


def test_a_slash_command_over_the_socket_opens_the_form(make_bot, slack, monkeypatch):
    """Given Slack reachable only over Socket Mode, when Carol types /request-access, then the
    envelope is acknowledged over the socket and the request form opens (with "payload" in the
    text, which only HTTP bodies needed a workaround for: see bot/server.py)."""
    with SocketModeServer() as socket_server:
        web_api = slack.api.call

        def call(method, token, args):  # the sandbox does not know apps.connections.open
            if method == "apps.connections.open":
                assert token == APP_TOKEN
                return {"url": socket_server.url}
            return web_api(method, token, args)
        monkeypatch.setattr(slack.api, "call", call)

        bot = with_app_token(make_bot()).start()
        handler = socket_mode_handler(bot.service)
        try:
            handler.connect()
            soon(lambda: socket_server.connections == 1)
            socket_server.send({"envelope_id": "env-1", "type": "slash_commands",
                                "accepts_response_payload": True, "payload": {
                                    "token": "x", "team_id": TEAM_ID, "team_domain": TEAM_DOMAIN,
                                    "channel_id": "C0GENERAL", "channel_name": "general",
                                    "user_id": CAROL, "user_name": "carol", "command": "/request-access",
                                    "text": "payload-admins", "api_app_id": APP_ID,
                                    "response_url": "https://hooks.slack.invalid/commands/1",
                                    "trigger_id": slack.workspace.issue_trigger(CAROL)}})
            soon(lambda: socket_server.acknowledgement("env-1"))
            soon(lambda: slack.open_view(CAROL))
        finally:
            handler.close()


def test_serve_says_so_when_slack_refuses_the_app_token(tmp_path, slack, okta):
    """Given an app token Slack refuses, `latchkey serve` exits 2 naming Socket Mode, instead of
    silently listening for HTTP requests that will never come."""
    env = {**os.environ, **serve_env(tmp_path, slack.url, config_text(okta.url)),
           "SLACK_APP_TOKEN": "xapp-refused"}
    result = subprocess.run([sys.executable, "-m", "bot.cli", "serve", "--port", "0"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    assert "cannot connect to Slack over Socket Mode" in result.stderr
    assert "xapp-refused" not in result.stderr

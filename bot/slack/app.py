"""build_app(): the slack-bolt App with every listener registered, talking to SLACK_API_URL."""

from __future__ import annotations

import logging
import secrets
from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.slack import actions, commands, options, views, wording
from bot.slack.context import Deps

log = logging.getLogger(__name__)


def web_client(token: str, api_url: str) -> WebClient:
    """A Web API client that waits out Slack's 429s (Retry-After) and retries dropped connections."""
    return WebClient(token=token, base_url=api_url, timeout=10, retry_handlers=[
        ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)])


def build_app(client: WebClient, signing_secret: str, deps: Deps) -> App:
    app = App(client=client, signing_secret=signing_secret,
              # Start-up must not depend on Slack being reachable; `latchkey check` tests the token.
              token_verification_enabled=False,
              listener_executor=ThreadPoolExecutor(32, thread_name_prefix="slack-listener"))
    for module in (commands, options, views, actions):
        module.register(app, deps)

    @app.error
    def on_error(error, body, respond=None, logger=None):
        # One handler for every listener: log with an id the person can quote to an admin.
        error_id = secrets.token_hex(4)
        log.error("error %s in Slack listener (%s): %r", error_id, body.get("type"), error,
                  exc_info=error)
        if respond is not None and body.get("response_url"):
            respond(text=wording.unexpected(error_id), response_type="ephemeral", replace_original=False)

    return app

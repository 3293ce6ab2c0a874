"""build_app(): the slack-bolt App with every listener registered, talking to SLACK_API_URL."""

from __future__ import annotations

import logging

from slack_bolt import App, BoltResponse
from slack_bolt.middleware.authorization import SingleTeamAuthorization
from slack_sdk import WebClient
from slack_sdk.http_retry import ConnectionErrorRetryHandler, RateLimitErrorRetryHandler

from bot.logs import ContextExecutor, bind_request_id
from bot.slack import actions, commands, form, home, options, review_actions, views
from bot.slack.context import Deps
from connectors.masking import mask_all

log = logging.getLogger(__name__)

# Each listener keeps its thread through the Slack round trips it makes after `ack()` (views.open,
# users.info), and bolt starts the next listener, whose `ack()` answers Slack, only on a free
# thread: so the pool must hold a whole burst (an incident brings dozens of people at once), or
# acknowledgements queue behind other people's round trips.  Threads are made only when needed.
LISTENER_THREADS = 256


class MaskingWebClient(WebClient):
    """Masks every text it sends to Slack (`masking.mask_all`): whatever a message, a form, the
    Home tab or the audit channel quotes, no secret leaves for Slack.  The last line of
    defence: error texts are masked where they are made and where they are stored."""

    def api_call(self, api_method: str, *, data: dict | None = None, params: dict | None = None,
                 json: dict | None = None, **kwargs):
        return super().api_call(api_method, data=_masked(data), params=_masked(params),
                                json=_masked(json), **kwargs)


def _masked(payload: dict | None) -> dict | None:
    # `token` is the call's own credential (e.g. the app-level token of apps.connections.open,
    # which slack_sdk sends as the Authorization header): the one value that must go as it is.
    return payload and {key: value if key == "token" else mask_all(value) for key, value in payload.items()}


def web_client(token: str, api_url: str) -> WebClient:
    """A Web API client that waits out Slack's 429s (Retry-After), retries dropped connections
    and masks what it sends."""
    return MaskingWebClient(token=token, base_url=api_url, timeout=10, retry_handlers=[
        ConnectionErrorRetryHandler(max_retry_count=2), RateLimitErrorRetryHandler(max_retry_count=3)])


def learn_identity(app: App) -> None:
    """Ask Slack who the app is (`auth.test`) now, so that no request waits for it.

    Bolt asks lazily, on the first request, before any listener runs; a burst arriving at a
    freshly started process would make one such round trip per request, each holding a server
    thread, before a single acknowledgement.  Meant to run in the background at start-up: if
    Slack cannot be reached, bolt still asks on the first request as before.
    """
    for middleware in app._middleware_list:  # bolt offers no public way to hand it the answer
        if isinstance(middleware, SingleTeamAuthorization) and not middleware.auth_test_result:
            try:
                middleware.auth_test_result = app.client.auth_test()
            except Exception as exc:
                log.warning("could not ask Slack who this app is (auth.test): %s", exc)


def _strip_nul(payload: dict) -> None:
    """Remove NUL characters from every string in a parsed payload, in place."""
    stack = [payload]
    while stack:
        node = stack.pop()
        for key, value in list(node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(value, str):
                if "\x00" in value:
                    node[key] = value.replace("\x00", "")
            elif isinstance(value, (dict, list)):
                stack.append(value)


def build_app(client: WebClient, signing_secret: str, deps: Deps) -> App:
    app = App(client=client, signing_secret=signing_secret,
              # Start-up must not depend on Slack being reachable; `latchkey check` tests the token.
              token_verification_enabled=False,
              # Runs listeners in the request's context, so their log lines carry its request id.
              listener_executor=ContextExecutor(LISTENER_THREADS, thread_name_prefix="slack-listener"))
    app.middleware(bind_request_id)

    @app.middleware
    def without_nul_characters(body, next):
        # Slack never sends NUL characters and PostgreSQL cannot store them: one in a payload
        # was put there by hand.  Drop them before any listener (or query) sees the payload.
        _strip_nul(body)
        return next()

    @app.middleware
    def once_per_event(body, next):
        # Slack re-sends an event it thinks we missed (X-Slack-Retry-Num); act on it only once,
        # even when the retry reaches another replica.
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not deps.seen_events.first_time(event_id, deps.lifecycle.clock.now()):
            return BoltResponse(status=200, body="")
        return next()
    for module in (commands, options, views, actions, form, home, review_actions):
        module.register(app, deps)

    @app.error
    def on_error(error, body):
        # Listeners are guarded (bot/slack/errors.py); this catches failures around them.
        log.error("error in Slack middleware (%s): %r", body.get("type"), error, exc_info=error)

    return app

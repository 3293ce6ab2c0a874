"""How Slack reaches Latchkey: over HTTP, or over Socket Mode when `SLACK_APP_TOKEN` is set.

- HTTP: Slack posts every command, click and event to `POST /slack/events`; the cluster needs a
  public Ingress with TLS.  Requests are signature-checked with `SLACK_SIGNING_SECRET`.
- Socket Mode: Latchkey opens a WebSocket to Slack (`apps.connections.open`, then wss) and
  receives the same payloads over it; nothing needs to be reachable from outside.  The HTTP port
  still serves `/healthz`, `/readyz` and `/metrics` for the cluster, but not `/slack/events`.

Both run the same bolt App, so every listener behaves the same either way.  Each replica holds
its own socket (Slack allows about ten per app) and Slack delivers each request to one of them.
"""

from __future__ import annotations

import logging

from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.service import Service


def socket_mode_handler(service: Service) -> SocketModeHandler | None:
    """A Socket Mode handler for the service's Slack app, or None to serve Slack over HTTP.

    The handler is built but not connected; `connect()` opens the socket without blocking and
    reconnects by itself when Slack rotates or drops the connection.
    """
    token = service.settings.slack_app_token
    if token is None or not token.get_secret_value():
        return None
    return SocketModeHandler(service.slack_app, token.get_secret_value(),
                             logger=logging.getLogger("slack_sdk.socket_mode"),
                             concurrency=16)


def describe(handler: SocketModeHandler | None, host: str, port: int) -> str:
    if handler is None:
        return f"listening on http://{host}:{port}/slack/events"
    return (f"connected to Slack over Socket Mode; serving /healthz, /readyz and /metrics on "
            f"http://{host}:{port}")

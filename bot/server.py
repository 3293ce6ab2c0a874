"""The HTTP surface: Slack's endpoint, health probes and metrics, served by waitress (threaded WSGI)."""

from __future__ import annotations

import json
import logging
import threading
from urllib.parse import parse_qsl

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_bolt.context import BoltContext
from slack_bolt.request import BoltRequest
from slack_bolt.request.internals import build_context
from waitress.server import create_server

from bot.service import Service

SLACK_PATH = "/slack/events"
log = logging.getLogger(__name__)


def wsgi_app(service: Service, slack_http: bool = True):
    """`slack_http=False` (Socket Mode): Slack's payloads arrive over the socket, not here."""
    slack = _SlackHandler(service.slack_app, path=SLACK_PATH) if slack_http else None

    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if method == "GET" and path == "/healthz":
            return _plain(start_response, "200 OK", "ok")
        if method == "GET" and path == "/readyz":
            if service.ready():
                return _plain(start_response, "200 OK", "ready")
            return _plain(start_response, "503 Service Unavailable", "not ready")
        if method == "GET" and path == "/metrics":
            body, content_type = service.metrics.render()
            start_response("200 OK", [("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return [body]
        if slack is None:
            return _plain(start_response, "404 Not Found", "Slack requests arrive over Socket Mode")
        try:
            return slack(environ, start_response)
        except Exception as exc:
            # bolt parses the body before it checks the signature or dispatches (and dispatch
            # answers its own errors): what escapes is a body that is no Slack payload at all,
            # e.g. bytes that are not UTF-8, broken JSON, or a payload that is not an object.
            log.warning("refused a request to %s that is not a Slack payload: %s",
                        SLACK_PATH, type(exc).__name__)
            return _plain(start_response, "400 Bad Request", "not a Slack request")

    return app


# -- a workaround for slack_bolt's body parsing, to remove once bolt checks for the key ------------
# slack_bolt (1.30, request/internals.py `parse_body`) reads any form body in which the text
# "payload" appears anywhere as an interactivity payload, so a slash command typed as
# `/request-access payload-admins`, sent from #payload-team, from the workspace `payloadco` or by
# the user `payload.fan`, parses as an empty body, reaches no listener and gets 404.  Slack sends
# interactivity (clicks, submissions, select options) as a form whose `payload` *key* holds the
# JSON; slash commands are plain forms; events are JSON (bolt parses those correctly).  Socket
# Mode is not affected: its payloads arrive already parsed.
class _SlackRequest(BoltRequest):
    """A BoltRequest whose form body is parsed by its keys, not by a substring."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if self.mode == "http" and self.raw_body and not _is_json(self.raw_body, self.content_type):
            form = dict(parse_qsl(self.raw_body, keep_blank_values=True))
            self.body = json.loads(form["payload"]) if "payload" in form else form
            self.context = build_context(BoltContext(kwargs.get("context") or {}), self.body)

    def to_copyable(self) -> _SlackRequest:  # bolt copies a request for lazy listeners
        return _SlackRequest(body=self.raw_body, query=self.query, headers=self.headers,
                             context=self.context.to_copyable(), mode=self.mode)


def _is_json(raw_body: str, content_type: str | None) -> bool:
    return content_type == "application/json" or raw_body.startswith("{")  # as bolt decides


class _SlackHandler(SlackRequestHandler):
    def dispatch(self, request):
        return self.app.dispatch(_SlackRequest(body=request.get_body(), query=request.query_string,
                                               headers=request.get_headers()))


def _plain(start_response, status: str, body: str):
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data)))])
    return [data]


def make_server(service: Service, host: str, port: int, threads: int = 16, slack_http: bool = True,
                **waitress_options):
    """A waitress server; `port=0` picks a free port (see `server.effective_port`)."""
    return create_server(wsgi_app(service, slack_http), host=host, port=port, threads=threads,
                         ident="latchkey", clear_untrusted_proxy_headers=True, **waitress_options)


class BackgroundServer:
    """Runs a service's HTTP surface on a thread: for the demo and the tests."""

    def __init__(self, service: Service, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        # A short loop timeout lets stop() finish at once rather than after up to a second.
        self._server = make_server(service, host, port, threads=8, asyncore_loop_timeout=0.05)
        self._thread = threading.Thread(target=self._run, daemon=True, name="latchkey-http")

    @property
    def url(self) -> str:
        return f"http://{self._server.effective_host}:{self._server.effective_port}"

    def start(self) -> BackgroundServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:  # closed by stop()
            pass

    def stop(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)

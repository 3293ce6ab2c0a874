"""The HTTP surface: Slack's endpoint, health probes and metrics, served by waitress (threaded WSGI)."""

from __future__ import annotations

import logging
import threading

from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.service import Service

SLACK_PATH = "/slack/events"
log = logging.getLogger(__name__)


def wsgi_app(service: Service, slack_http: bool = True):
    """`slack_http=False` (Socket Mode): Slack's payloads arrive over the socket, not here."""
    slack = SlackRequestHandler(service.slack_app, path=SLACK_PATH) if slack_http else None

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
        except Exception as exc:  # noqa: BLE001
            # bolt parses the body before it checks the signature or dispatches (and dispatch
            # answers its own errors): what escapes is a body that is no Slack payload at all,
            # e.g. bytes that are not UTF-8, broken JSON, or a payload that is not an object.
            log.warning("refused a request to %s that is not a Slack payload: %s",
                        SLACK_PATH, type(exc).__name__)
            return _plain(start_response, "400 Bad Request", "not a Slack request")

    return app


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

    def start(self) -> "BackgroundServer":
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

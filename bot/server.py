"""The HTTP surface: Slack's endpoint plus health probes, served by waitress (threaded WSGI)."""

from __future__ import annotations

import threading

from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from bot.service import Service

SLACK_PATH = "/slack/events"


def wsgi_app(service: Service):
    slack = SlackRequestHandler(service.slack_app, path=SLACK_PATH)

    def app(environ, start_response):
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        if method == "GET" and path == "/healthz":
            return _plain(start_response, "200 OK", "ok")
        if method == "GET" and path == "/readyz":
            if service.ready():
                return _plain(start_response, "200 OK", "ready")
            return _plain(start_response, "503 Service Unavailable", "not ready")
        return slack(environ, start_response)

    return app


def _plain(start_response, status: str, body: str):
    data = body.encode()
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(data)))])
    return [data]


def make_server(service: Service, host: str, port: int, threads: int = 16):
    """A waitress server; `port=0` picks a free port (see `server.effective_port`)."""
    return create_server(wsgi_app(service), host=host, port=port, threads=threads,
                         ident="latchkey", clear_untrusted_proxy_headers=True)


class BackgroundServer:
    """Runs a service's HTTP surface on a thread: for the demo and the tests."""

    def __init__(self, service: Service, host: str = "127.0.0.1", port: int = 0) -> None:
        self.service = service
        self._server = make_server(service, host, port, threads=8)
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

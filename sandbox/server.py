"""The HTTP plumbing every sandbox shares: a real server on loopback, a call log, injected faults.

Each sandbox (Slack, Okta, ...) subclasses `SandboxServer` and implements `route()`; the base
class turns raw HTTP into a `Call`, records it, applies any fault the test injected, and writes
the `Reply` back.  Servers bind 127.0.0.1 on port 0 so tests can run side by side.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Call:
    """One request as the sandbox received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-cased names
    body: bytes

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(payload).encode()
        return cls(status, body, {"Content-Type": "application/json", **(headers or {})})


@dataclass
class _Fault:
    method_pattern: re.Pattern
    path_pattern: re.Pattern
    remaining: int
    make_reply: object  # Callable[[Call], Reply]


class SandboxServer:
    """Base class: subclasses implement `route(call) -> Reply` and hold their own state."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.latency = 0.0  # seconds added to every answer, to stand in for a slow API
        self._faults: list[_Fault] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, port: int = 0) -> SandboxServer:
        handler = _handler_for(self)
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._httpd.daemon_threads = True
        # Handler threads may sit on idle keep-alive connections; stop() must not wait for them.
        self._httpd.block_on_close = False
        # shutdown() waits for the serve loop to wake; the default 0.5 s poll made every stop()
        # (so every test using a sandbox) half a second slower.
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}-http")
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:41234."""
        assert self._httpd, "sandbox not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # -- faults ----------------------------------------------------------------------------
    def inject(self, make_reply, *, path: str = ".*", method: str = ".*", times: int = 1) -> None:
        """Answer the next `times` calls whose method and path match (regex) with `make_reply(call)`."""
        with self.lock:
            self._faults.append(_Fault(re.compile(method), re.compile(path), times, make_reply))

    def hold(self, *, path: str = ".*", method: str = ".*", timeout: float = 30.0) -> threading.Event:
        """Keep matching calls waiting (an API that has not answered yet) until the returned
        event is set, or `timeout` passes; then answer them as usual."""
        released = threading.Event()

        def held(call: Call) -> Reply:
            released.wait(timeout)
            return self.route(call)
        self.inject(held, path=path, method=method, times=1_000_000)
        return released

    def calls_to(self, method: str, path_regex: str) -> list[Call]:
        with self.lock:
            return [c for c in self.calls
                    if c.method == method and re.fullmatch(path_regex, c.path)]

    def _take_fault(self, call: Call):
        with self.lock:
            for fault in self._faults:
                if fault.remaining and fault.method_pattern.fullmatch(call.method) \
                        and fault.path_pattern.fullmatch(call.path):
                    fault.remaining -= 1
                    return fault.make_reply
        return None

    # -- dispatch --------------------------------------------------------------------------
    def dispatch(self, call: Call) -> Reply:
        with self.lock:
            self.calls.append(call)
        if self.latency:
            time.sleep(self.latency)
        fault = self._take_fault(call)
        if fault is not None:
            return fault(call)
        return self.route(call)

    def route(self, call: Call) -> Reply:  # pragma: no cover - abstract
        raise NotImplementedError


def _handler_for(server: SandboxServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out as two writes; with Nagle on, the body waits for the client's
        # delayed ACK, adding ~40 ms to every answer that has a body.
        disable_nagle_algorithm = True

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            call = Call(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query, keep_blank_values=True),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=body,
            )
            try:
                reply = server.dispatch(call)
            except Exception as exc:  # a sandbox bug must show up as a 500, not a hang
                reply = Reply.json(500, {"sandbox_error": repr(exc)})
            # send_response() would add its own Date even when the reply sets one (Okta's 429
            # pairs Date with X-Rate-Limit-Reset), leaving two Date headers; add it only if absent.
            self.send_response_only(reply.status)
            self.send_header("Server", self.version_string())
            if not any(name.lower() == "date" for name in reply.headers):
                self.send_header("Date", self.date_time_string())
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(reply.body)))
            self.end_headers()
            self.wfile.write(reply.body)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, *args) -> None:  # keep test output readable
            pass

    return Handler

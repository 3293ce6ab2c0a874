"""Logging: plain text for a terminal, one JSON object per line (`LATCHKEY_LOG_FORMAT=json`) for
a log pipeline, each line carrying the id of the Slack request it belongs to.

The id is set by a bolt middleware (`bind_request_id`) in a context variable; `ContextExecutor`
carries it into the listener threads, and `RequestIdFilter` stamps it on every record.  Both
formats pass through `masking.mask()`, a last line of defence: secrets are SecretStr and never
logged on purpose, but a token quoted by a library's error message would be masked.
"""

from __future__ import annotations

import contextvars
import json
import logging
import secrets
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Literal

from connectors.masking import mask

LogFormat = Literal["text", "json"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("latchkey_request_id",
                                                                      default=None)

# Libraries that log request details (URLs, headers, payloads) at DEBUG; kept at WARNING.
NOISY = ("slack_sdk", "slack_bolt", "httpx", "httpcore", "apscheduler", "waitress.queue",
         "urllib3", "websocket")

class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        if getattr(record, "request_id", None):
            line += f" [request {record.request_id}]"
        return mask(line)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, thread, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": mask(record.getMessage()),
            "thread": record.threadName,
        }
        if getattr(record, "request_id", None):
            entry["request_id"] = record.request_id
        if record.exc_info:
            entry["exception"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str = "INFO", fmt: str = "text", stream=None) -> logging.Handler:
    """Send every log record to `stream` (stderr) in the chosen format; returns the handler."""
    if fmt not in ("text", "json"):
        raise ValueError(f"LATCHKEY_LOG_FORMAT must be text or json, not {fmt!r}")
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for noisy in NOISY:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return handler


# -- Slack request ids ----------------------------------------------------------------------------
_log = logging.getLogger("bot.slack.requests")


def bind_request_id(body: dict, next):
    """Bolt middleware: give each Slack request an id that every log line it causes carries.

    Not reset afterwards: bolt runs the listeners after the middleware chain has returned, on
    this same thread (then copied into the listener thread by `ContextExecutor`).  The thread's
    next Slack request replaces the id.
    """
    request_id.set(secrets.token_hex(6))
    _log.debug("slack %s from %s", _kind(body), _user(body))
    return next()


def _kind(body: dict) -> str:
    if "command" in body:
        return f"command {body['command']}"
    if body.get("type") == "event_callback":
        return f"event {(body.get('event') or {}).get('type')}"
    return str(body.get("type") or "request")


def _user(body: dict) -> str | None:
    user = body.get("user")
    return body.get("user_id") or (user.get("id") if isinstance(user, dict) else user)


class ContextExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks run in the submitter's context, so the request id follows the
    work from bolt's request thread into its listener threads."""

    def submit(self, fn, /, *args, **kwargs):
        context = contextvars.copy_context()
        return super().submit(context.run, fn, *args, **kwargs)

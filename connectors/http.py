"""What every connector's HTTP client shares: one pooled httpx client, a bounded retry policy,
and the mapping of HTTP answers onto the error tree of connectors/base.py.

Retries, bounded by `max_attempts` calls in all (and, where someone is waiting on the answer,
by `max_wait`: a retry that would wait longer is given up at once):

- 429: wait what the API says (`retry_after()`, overridden per API: Okta's X-Rate-Limit-Reset,
  a plain Retry-After elsewhere) plus a little jitter; without it, exponential backoff.
- 5xx, 408, timeouts, network errors: exponential backoff with jitter (0.5 s, 1 s, 2 s ...).

Every error message names the API, method and path and what the API said, never a credential:
credentials live only in the httpx client's default headers or its `httpx.Auth` (for schemes
that sign each request, such as DPoP, or renew a token), and what an answer quotes is
masked and clipped (`masking.excerpt`), so a proxy that echoes the request's Authorization
header cannot carry the token into a message.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from email.utils import parsedate_to_datetime

import httpx

from connectors.base import (
    ConnectorError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    TransientError,
)
from connectors.masking import excerpt

log = logging.getLogger(__name__)

RATE_LIMIT_JITTER = 0.5  # seconds added at most to a rate-limit wait, so clients don't stampede
MAX_RATE_LIMIT_WAIT = 60.0
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0

# Someone waits on the request form for a check, and Slack gives a form 3 seconds to answer:
# two tries of at most 0.8 s, and a retry only after a short wait (a 5xx's first backoff; a
# 429 asking for more is given up at once, as "cannot check right now").
FORM_ATTEMPTS, FORM_TIMEOUT, FORM_MAX_WAIT = 2, 0.8, 0.7
QUOTED = 300  # characters of an API's error account quoted in a message, at most
READ_AT_MOST = 4000  # of a raw body: more could never show within QUOTED, however it is masked

_TRANSPORT_ERRORS = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)

_rate_limit_listeners: list[Callable[[float], None]] = []


def on_rate_limit_wait(listener: Callable[[float], None]) -> None:
    """Call `listener(seconds)` before every wait after a 429: bot/metrics.py counts them, so
    that connectors/ stays free of metrics."""
    _rate_limit_listeners.append(listener)


class ApiClient:
    """Base class of the connectors' clients; subclasses add the API's calls and may override
    `describe_error()` and `retry_after()` for the API's error body and rate-limit headers."""

    api_name = "API"

    def __init__(self, base_url: str, headers: dict[str, str], *, auth: httpx.Auth | None = None,
                 max_attempts: int = 5, timeout: float = 10.0, max_wait: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._max_attempts = max_attempts
        self._max_wait = max_wait  # a retry that would wait longer is given up at once
        self._sleep = sleep
        self._http = httpx.Client(base_url=base_url, timeout=timeout, headers=headers, auth=auth)

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        """Send with retries; return a 2xx response or raise a ConnectorError subclass."""
        attempt = 1
        while True:
            try:
                return self._send(method, path, kwargs)
            except TransientError as error:
                delay = retry_delay(error, attempt)
                if attempt >= self._max_attempts or (self._max_wait is not None and delay > self._max_wait):
                    raise
                log.warning("%s; attempt %d of %d, retrying in %.2f s",
                            error, attempt, self._max_attempts, delay)
                if isinstance(error, RateLimitedError):
                    for listener in _rate_limit_listeners:
                        listener(delay)
                self._sleep(delay)
                attempt += 1

    def _send(self, method: str, path: str, kwargs: dict) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except _TRANSPORT_ERRORS as exc:
            reason = f"{type(exc).__name__}: {exc}"
            raise TransientError(f"{self.api_name} {method} {path} failed: {reason}") from exc
        if response.is_success:
            return response
        raise self.error_for(method, path, response)

    def error_for(self, method: str, path: str, response: httpx.Response) -> ConnectorError:
        """Map a non-2xx answer onto connectors/base.py's error tree."""
        status = response.status_code
        said = excerpt(self.describe_error(response), QUOTED)
        message = f"{self.api_name} {method} {path} answered {status} {said}"
        if status == 429:
            return RateLimitedError(message, retry_after=self.retry_after(response))
        if status >= 500 or status == 408:
            return TransientError(message)
        if status in (401, 403):
            return PermissionDeniedError(message)
        if status == 404:
            return NotFoundError(message)
        if 400 <= status < 500:
            return InvalidRequestError(message)
        return ConnectorError(message)  # e.g. a redirect: we never follow them

    def describe_error(self, response: httpx.Response) -> str:
        """An account of the error body (`error_for` masks and clips it); override for an API's
        own error shape."""
        text = response.text[:READ_AT_MOST].strip()
        return f"{response.reason_phrase}: {text}" if text else response.reason_phrase

    def retry_after(self, response: httpx.Response) -> float | None:
        """Seconds to wait after a 429, from `Retry-After` (seconds or an HTTP date)."""
        return retry_after_header(response)


def retry_after_header(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        return max(parsedate_to_datetime(value).timestamp() - time.time(), 0.0)
    except (TypeError, ValueError):
        return None


def retry_delay(error: TransientError, attempt: int) -> float:
    if isinstance(error, RateLimitedError) and error.retry_after is not None:
        return min(error.retry_after + random.uniform(0, RATE_LIMIT_JITTER), MAX_RATE_LIMIT_WAIT)
    delay = min(FIRST_BACKOFF * 2 ** (attempt - 1), MAX_BACKOFF)
    return min(delay + random.uniform(0, delay / 4), MAX_BACKOFF)


def every_item(fetch: Callable[[str | None], tuple[list[dict], str | None]]) -> Iterator[dict]:
    """Every item of a client's list, one page at a time, stopping when the caller stops: for
    lists known to be short (a user's groups) or read until a match (a user by email)."""
    cursor = None
    while True:
        page, cursor = fetch(cursor)
        yield from page
        if cursor is None:
            return

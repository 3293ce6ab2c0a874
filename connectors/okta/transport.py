"""How every call to the Okta Management API is made, whatever it asks for.

One `OktaTransport` per org owns the base URL, the `httpx.Auth` that signs each request
(auth.py), retries, Okta's rate-limit headers, `Link` pagination and Okta's error body.  It
knows no endpoint: the resource calls (client.py) name paths and read the JSON.

- Retries follow connectors/http.py; on a 429 the wait is until Okta's window resets
  (`X-Rate-Limit-Reset` − `Date`, both from Okta's clock, so our clock's skew cannot matter).
- Pagination, as baton-okta does it: a page is asked for with `limit` and `after`, and the cursor
  of the next page is the `after` value of the `Link rel="next"` header; the next request is
  rebuilt from our own parameters, so a Link header can never send the credential elsewhere.
- Errors are the tree in connectors/base.py, each carrying Okta's `errorCode` (see `okta_code`);
  messages name the method, path, errorCode and errorSummary, never the credential.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from connectors.base import ConnectorError
from connectors.http import ApiClient

MAX_PAGE_SIZE = 1000  # Okta caps `limit` here
_AUTH_PARAM = re.compile(r'([a-z_]+)="([^"]*)"')  # name="value" in a WWW-Authenticate challenge


def okta_base_url(domain: str) -> str:
    """`acme.okta.com` → `https://acme.okta.com`; a full URL is kept (minus a trailing slash).

    Ports are kept so tests and the demo can point at a local sandbox; anything that would change
    where requests go (a path, query, fragment or credentials) is refused.
    """
    text = domain.strip()
    if not text:
        raise ValueError("Okta domain is empty")
    parts = urlsplit(text if "://" in text else f"https://{text}")
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"Okta URL scheme must be http or https, not {parts.scheme!r}")
    if "@" in parts.netloc:  # not echoed: it may hold a password
        raise ValueError("Okta domain must not contain user info (credentials)")
    if not parts.hostname:
        raise ValueError(f"Okta domain {text!r} has no host name")
    if parts.path not in ("", "/"):
        raise ValueError(f"Okta domain must not contain a path ({parts.path!r})")
    if parts.query or parts.fragment:
        raise ValueError("Okta domain must not contain a query or fragment")
    _ = parts.port  # raises ValueError for a port that is not a number in range
    return f"{parts.scheme}://{parts.netloc}"


def okta_code(error: ConnectorError) -> str | None:
    """Okta's `errorCode` (e.g. `E0000046`) of an error the transport raised, if Okta sent one."""
    return getattr(error, "okta_code", None)


ListPage = tuple[list[dict], str | None]  # one page of wire objects and the next `after`


class OktaTransport(ApiClient):
    """One Okta org, one way of authenticating, one pooled `httpx.Client`."""

    api_name = "Okta"

    def __init__(self, base_url: str, auth: httpx.Auth, *, page_size: int = 200,
                 max_attempts: int = 5, timeout: float = 10.0, max_wait: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(base_url, {"Accept": "application/json"}, auth=auth,
                         max_attempts=max_attempts, timeout=timeout, max_wait=max_wait, sleep=sleep)
        self.auth, self.base_url = auth, base_url
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))

    def close(self) -> None:
        super().close()
        close_auth = getattr(self.auth, "close", None)  # an OAuth Auth holds its own client
        if close_auth is not None:
            close_auth()

    def page(self, path: str, after: str | None, **filters: str | None) -> tuple[Any, str | None]:
        """One page of a list: its JSON body, and the `after` cursor of the next page (None at
        the end).  Filters that are None are left out."""
        params = {"limit": str(self._page_size)}
        if after:
            params["after"] = after
        params.update({name: value for name, value in filters.items() if value is not None})
        response = self.request("GET", path, params=params)
        return response.json(), next_cursor(response, path)

    def check_readable(self, path: str) -> Any:
        """Read one item of a list, to learn whether the credential may read it at all; its JSON."""
        return self.request("GET", path, params={"limit": "1"}).json()

    def error_for(self, method: str, path: str, response: httpx.Response) -> ConnectorError:
        error = super().error_for(method, path, response)
        error.okta_code = _error_body(response).get("errorCode")
        return error

    def describe_error(self, response: httpx.Response) -> str:
        body = _error_body(response)
        if "errorCode" not in body:
            return _challenge(response) or response.reason_phrase
        causes = "; ".join(c.get("errorSummary", "") for c in body.get("errorCauses") or [])
        text = f"{body['errorCode']}: {body.get('errorSummary', '')}"
        return f"{text} ({causes})" if causes else text

    def retry_after(self, response: httpx.Response) -> float | None:
        return rate_limit_reset(response)


def _error_body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _challenge(response: httpx.Response) -> str:
    """What an OAuth refusal says in `WWW-Authenticate`, e.g. `insufficient_scope: The access
    token provided does not contain the required scopes. (needs okta.groups.manage)`: Okta
    answers a token without the endpoint's scope 403 with no error body, only this header."""
    params = dict(_AUTH_PARAM.findall(response.headers.get("WWW-Authenticate", "")))
    if "error" not in params:
        return ""
    text = f"{params['error']}: {params.get('error_description', '')}".rstrip(": ")
    return f"{text} (needs {params['scope']})" if params.get("scope") else text


def rate_limit_reset(response: httpx.Response) -> float | None:
    """Seconds until Okta's window resets, by Okta's clock."""
    try:
        reset = int(response.headers["X-Rate-Limit-Reset"])
        date = parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (KeyError, ValueError, TypeError):
        return None
    return max(reset - date, 0.0)


def rate_limit_ceiling(response: httpx.Response) -> int | None:
    """The calls a minute Okta allows the endpoint's bucket (`X-Rate-Limit-Limit`), if it says."""
    try:
        return int(response.headers["X-Rate-Limit-Limit"])
    except (KeyError, ValueError):
        return None


def next_cursor(response: httpx.Response, path: str) -> str | None:
    link = response.links.get("next")
    if link is None:
        return None
    after = parse_qs(urlsplit(link.get("url", "")).query).get("after")
    if not after:  # following it blindly would re-read the first page forever
        raise ConnectorError(f"Okta GET {path} sent a next link without an after cursor")
    return after[0]


def path_segment(value: str) -> str:
    """Percent-encode an id for a path segment, so an odd id cannot reach another endpoint."""
    return quote(value, safe="")

"""HTTP client for the Okta Management API: wire JSON, retries and error mapping, nothing more.

It knows URLs, headers, Okta's `Link` pagination and Okta's error body; it knows nothing of
Latchkey's model (connector.py maps the JSON).  Each list method returns ONE page and the
`after` cursor of the next page (None at the end).  As baton-okta does, the cursor is the `after`
value of the `Link rel="next"` header, and the next request is rebuilt from our own parameters.

Retries follow connectors/http.py; on a 429 the wait is until Okta's window resets
(`X-Rate-Limit-Reset` − `Date`, both from Okta's clock).

Retrying writes is safe: Okta's group-membership PUT and DELETE are idempotent.  Errors are the
tree in connectors/base.py; their messages name the method, path and Okta's errorCode and
errorSummary, never the token (which lives only in the httpx client's default headers).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from connectors.base import ConnectorError
from connectors.http import ApiClient

MAX_PAGE_SIZE = 1000  # Okta caps `limit` here


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


class OktaClient(ApiClient):
    """One Okta org, one API token, one pooled `httpx.Client`."""

    api_name = "Okta"

    def __init__(self, base_url: str, token: str, *, page_size: int = 200, max_attempts: int = 5,
                 timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(base_url, {"Authorization": f"SSWS {token}", "Accept": "application/json"},
                         max_attempts=max_attempts, timeout=timeout, sleep=sleep)
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))

    # -- reads ----------------------------------------------------------------------------------
    def get_org(self) -> dict:
        return self.request("GET", "/api/v1/org").json()

    def get_user(self, user_id: str) -> dict:
        return self.request("GET", f"/api/v1/users/{_segment(user_id)}").json()

    def get_group(self, group_id: str) -> dict:
        return self.request("GET", f"/api/v1/groups/{_segment(group_id)}").json()

    def list_users(self, after: str | None = None,
                   search: str | None = None) -> tuple[list[dict], str | None]:
        return self._list("/api/v1/users", after, search=search)

    def find_users_by_email(self, email: str) -> list[dict]:
        """Users whose email equals `email` (Okta compares case-insensitively); the first page only,
        since an email is shared by a handful of users at most."""
        users, _ = self._list("/api/v1/users", None, search=f'profile.email eq "{_quoted(email)}"')
        return users

    def list_groups(self, after: str | None = None) -> tuple[list[dict], str | None]:
        return self._list("/api/v1/groups", after)

    def list_group_members(self, group_id: str,
                           after: str | None = None) -> tuple[list[dict], str | None]:
        return self._list(f"/api/v1/groups/{_segment(group_id)}/users", after)

    def list_user_groups(self, user_id: str,
                         after: str | None = None) -> tuple[list[dict], str | None]:
        return self._list(f"/api/v1/users/{_segment(user_id)}/groups", after)

    # -- writes ---------------------------------------------------------------------------------
    def add_member(self, group_id: str, user_id: str) -> None:
        self.request("PUT", _membership_path(group_id, user_id))

    def remove_member(self, group_id: str, user_id: str) -> None:
        self.request("DELETE", _membership_path(group_id, user_id))

    def close(self) -> None:
        self._http.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _list(self, path: str, after: str | None,
              **filters: str | None) -> tuple[list[dict], str | None]:
        params = {"limit": str(self._page_size)}
        if after:
            params["after"] = after
        params.update({name: value for name, value in filters.items() if value is not None})
        response = self.request("GET", path, params=params)
        return response.json(), _next_cursor(response, path)

    def describe_error(self, response: httpx.Response) -> str:
        return _describe(response)

    def retry_after(self, response: httpx.Response) -> float | None:
        return _rate_limit_reset(response)


def _describe(response: httpx.Response) -> str:
    """`E0000001: Api validation failed (cause; cause)` from Okta's error body, if there is one."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "errorCode" not in body:
        return response.reason_phrase
    causes = "; ".join(c.get("errorSummary", "") for c in body.get("errorCauses") or [])
    text = f"{body['errorCode']}: {body.get('errorSummary', '')}"
    return f"{text} ({causes})" if causes else text


def _rate_limit_reset(response: httpx.Response) -> float | None:
    """Seconds until Okta's window resets, by Okta's clock (so our clock's skew cannot matter)."""
    try:
        reset = int(response.headers["X-Rate-Limit-Reset"])
        date = parsedate_to_datetime(response.headers["Date"]).timestamp()
    except (KeyError, ValueError, TypeError):
        return None
    return max(reset - date, 0.0)


def _next_cursor(response: httpx.Response, path: str) -> str | None:
    link = response.links.get("next")
    if link is None:
        return None
    after = parse_qs(urlsplit(link.get("url", "")).query).get("after")
    if not after:  # following it blindly would re-read the first page forever
        raise ConnectorError(f"Okta GET {path} sent a next link without an after cursor")
    return after[0]


def _membership_path(group_id: str, user_id: str) -> str:
    return f"/api/v1/groups/{_segment(group_id)}/users/{_segment(user_id)}"


def _segment(value: str) -> str:
    """Percent-encode an id for a path segment, so an odd id cannot reach another endpoint."""
    return quote(value, safe="")


def _quoted(value: str) -> str:
    """Escape a value for a double-quoted string in Okta's search expression language."""
    return value.replace("\\", "\\\\").replace('"', '\\"')

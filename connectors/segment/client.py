"""HTTP client for the Twilio Segment Public API: wire JSON, retries and error mapping, nothing more.

It knows URLs, headers, Segment's envelope (`{"data": {...}}` / `{"errors": [...]}`) and cursor
pagination; it knows nothing of Latchkey's model (connector.py maps the JSON).  Each list method
returns ONE page and the cursor of the next page (None at the end), from `data.pagination.next`.

Wire facts, from Segment's own SDKs (segmentio/public-api-sdk-go, -typescript) and API docs:

- Hosts: `https://api.segmentapis.com` (US); EU workspaces use `https://eu1.api.segmentapis.com`
  (the US host redirects there, and we never follow redirects, so set `base_url`).
- `Authorization: Bearer <token>`; media type `application/vnd.segment.v1+json`.
- Pagination: `pagination[count]` (1..1000; 200 where it may be left out) and `pagination[cursor]`, bracket style as the Go SDK
  and baton-segment send it (the docs' examples use `pagination.count`; we infer both work).
- Group members are removed with `DELETE /group/{id}/users` (singular `group`), one
  `emails.<i>=<address>` parameter per address, exactly as the Go SDK sends it.
- `PUT /users/{id}/permissions` and `PUT /groups/{id}/permissions` REPLACE the whole list.
- Rate limits: a 429 carries `X-RateLimit-Reset` (an RFC 5322 date) and, in the error body,
  `data.msBeforeNext`; IAM writes are limited to 60 requests a minute.

Retries follow connectors/http.py.  Retrying a write is safe: adding a member who is already in,
removing one who is gone, and re-sending the same full permission list all land in one state.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from urllib.parse import quote, urlsplit

import httpx

from connectors.base import ConnectorError
from connectors.http import ApiClient, retry_after_header

DEFAULT_BASE_URL = "https://api.segmentapis.com"
EU_BASE_URL = "https://eu1.api.segmentapis.com"
MEDIA_TYPE = "application/vnd.segment.v1+json"
DEFAULT_PAGE_SIZE = 200  # what Segment uses when a list may leave out pagination
MAX_PAGE_SIZE = 1000  # Segment's cap on pagination[count]

Items = tuple[list[dict], str | None]


class SegmentClient(ApiClient):
    """One Segment workspace (the token decides which), one pooled `httpx.Client`."""

    api_name = "Segment"

    def __init__(self, base_url: str, token: str, *, page_size: int = DEFAULT_PAGE_SIZE,
                 max_attempts: int = 5, timeout: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(base_url.rstrip("/") or DEFAULT_BASE_URL,
                         {"Authorization": f"Bearer {token}", "Accept": MEDIA_TYPE},
                         max_attempts=max_attempts, timeout=timeout, sleep=sleep)
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))

    # -- reads ----------------------------------------------------------------------------------
    def get_workspace(self) -> dict:
        return self._get("/", "workspace")

    def list_users(self, cursor: str | None = None) -> Items:
        return self._list("/users", "users", cursor)

    def get_user(self, user_id: str) -> dict:
        """The user with their `permissions` (the list endpoint may leave them out)."""
        return self._get(f"/users/{_segment(user_id)}", "user")

    def list_user_groups(self, user_id: str, cursor: str | None = None) -> Items:
        return self._list(f"/users/{_segment(user_id)}/groups", "groups", cursor)

    def list_groups(self, cursor: str | None = None) -> Items:
        return self._list("/groups", "userGroups", cursor)

    def get_group(self, group_id: str) -> dict:
        # The key is `userGroup`; baton-segment read `group`, saw no permissions, and its next
        # PUT wiped them.  _get raises rather than let a missing key look like an empty list.
        return self._get(f"/groups/{_segment(group_id)}", "userGroup")

    def list_group_members(self, group_id: str, cursor: str | None = None) -> Items:
        return self._list(f"/groups/{_segment(group_id)}/users", "users", cursor)

    def list_roles(self, cursor: str | None = None) -> Items:
        return self._list("/roles", "roles", cursor)

    def list_sources(self, cursor: str | None = None) -> Items:
        return self._list("/sources", "sources", cursor)

    # -- writes ---------------------------------------------------------------------------------
    def add_group_members(self, group_id: str, emails: list[str]) -> None:
        """Add workspace users by email.  Segment INVITES an address it does not know, so callers
        pass only emails read from existing users."""
        self.request("POST", f"/groups/{_segment(group_id)}/users", json={"emails": emails},
                     headers={"Content-Type": MEDIA_TYPE})

    def remove_group_members(self, group_id: str, emails: list[str]) -> None:
        params = {f"emails.{index}": email for index, email in enumerate(emails)}
        self.request("DELETE", f"/group/{_segment(group_id)}/users", params=params)

    def replace_user_permissions(self, user_id: str, permissions: list[dict]) -> None:
        self._replace_permissions(f"/users/{_segment(user_id)}/permissions", permissions)

    def replace_group_permissions(self, group_id: str, permissions: list[dict]) -> None:
        self._replace_permissions(f"/groups/{_segment(group_id)}/permissions", permissions)

    # -- plumbing -------------------------------------------------------------------------------
    def _replace_permissions(self, path: str, permissions: list[dict]) -> None:
        self.request("PUT", path, json={"permissions": permissions},
                     headers={"Content-Type": MEDIA_TYPE})

    def _get(self, path: str, key: str) -> dict:
        return _field(self._data("GET", path, self.request("GET", path)), key, "GET", path)

    def _list(self, path: str, key: str, cursor: str | None) -> Items:
        params = {"pagination[count]": str(self._page_size)}
        if cursor:
            params["pagination[cursor]"] = cursor
        data = self._data("GET", path, self.request("GET", path, params=params))
        next_cursor = (_field(data, "pagination", "GET", path) or {}).get("next")
        if next_cursor is not None and next_cursor == cursor:  # following it would loop forever
            raise ConnectorError(f"Segment GET {path} returned its own cursor as the next one")
        return _field(data, key, "GET", path), next_cursor

    @staticmethod
    def _data(method: str, path: str, response: httpx.Response) -> dict:
        try:
            data = response.json().get("data")
        except (ValueError, AttributeError):
            data = None
        if not isinstance(data, dict):
            raise ConnectorError(f"Segment {method} {path} answered without a data envelope")
        return data

    def describe_error(self, response: httpx.Response) -> str:
        return _describe(response)

    def retry_after(self, response: httpx.Response) -> float | None:
        return _rate_limit_wait(response)


def _field(data: dict, key: str, method: str, path: str):
    if key not in data:
        raise ConnectorError(f"Segment {method} {path} answered without data.{key}")
    return data[key]


def _describe(response: httpx.Response) -> str:
    """`type: message` for each entry of Segment's `errors` array, or the status phrase."""
    if response.is_redirect:  # an EU workspace called on the US host (or the reverse)
        target = urlsplit(response.headers.get("Location", ""))
        return (f"redirect to {target.scheme}://{target.netloc}: set base_url to that host "
                f"(EU workspaces use {EU_BASE_URL})")
    try:
        errors = response.json().get("errors")
    except (ValueError, AttributeError):
        errors = None
    if not isinstance(errors, list) or not errors:
        return response.reason_phrase
    return "; ".join(f"{e.get('type', 'error')}: {e.get('message', '')}"
                     for e in errors if isinstance(e, dict))


def _rate_limit_wait(response: httpx.Response) -> float | None:
    """Seconds until Segment lifts the limit.  `msBeforeNext` in the body is relative, so no clock
    skew can matter; failing that `X-RateLimit-Reset` (a date) against Segment's own `Date`."""
    try:
        errors = response.json().get("errors") or [{}]
        return max(float(errors[0]["data"]["msBeforeNext"]) / 1000, 0.0)
    except (ValueError, AttributeError, LookupError, TypeError):
        pass
    try:
        reset = parsedate_to_datetime(response.headers["X-RateLimit-Reset"]).timestamp()
        now = parsedate_to_datetime(response.headers["Date"]).timestamp() \
            if "Date" in response.headers else time.time()
        return max(reset - now, 0.0)
    except (KeyError, ValueError, TypeError):
        return retry_after_header(response)


def _segment(value: str) -> str:
    """Percent-encode an id for a path segment, so an odd id cannot reach another endpoint."""
    return quote(value, safe="")

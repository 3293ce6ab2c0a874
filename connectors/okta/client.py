"""HTTP client for the Okta Management API: wire JSON, retries and error mapping, nothing more.

It knows URLs, headers, Okta's `Link` pagination and Okta's error body; it knows nothing of
Latchkey's model (the resource kinds beside it map the JSON).  Each list method returns ONE page
and the `after` cursor of the next page (None at the end).  As baton-okta does, the cursor is the
`after` value of the `Link rel="next"` header, and the next request is rebuilt from our own
parameters.  Three reads are not paged: a user's roles, a group's roles (Okta answers them whole;
a stray `rel="next"` there must not be followed, or a sync would loop) and a role's permissions.

Retries follow connectors/http.py; on a 429 the wait is until Okta's window resets
(`X-Rate-Limit-Reset` − `Date`, both from Okta's clock).

Retrying writes is safe: group-membership PUT/DELETE are idempotent, a repeated role POST answers
E0000090 (read as "already granted") and a repeated DELETE answers 404 (read as "already gone").
Errors are the tree in connectors/base.py, each carrying Okta's `errorCode` (see `okta_code`);
messages name the method, path, errorCode and errorSummary, never the token (which lives only in
the httpx client's default headers).
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


def okta_code(error: ConnectorError) -> str | None:
    """Okta's `errorCode` (e.g. `E0000046`) of an error this client raised, if Okta sent one."""
    return getattr(error, "okta_code", None)


ListPage = tuple[list[dict], str | None]  # one page of wire objects and the next `after`


class OktaClient(ApiClient):
    """One Okta org, one API token, one pooled `httpx.Client`."""

    api_name = "Okta"

    def __init__(self, base_url: str, token: str, *, page_size: int = 200, max_attempts: int = 5,
                 timeout: float = 10.0, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(base_url, {"Authorization": f"SSWS {token}", "Accept": "application/json"},
                         max_attempts=max_attempts, timeout=timeout, sleep=sleep)
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))

    # -- users and groups -----------------------------------------------------------------------
    def get_current_user(self) -> dict:
        """The admin user the API token belongs to (Okta's `users/me`)."""
        return self.request("GET", "/api/v1/users/me").json()

    def get_user(self, user_id: str) -> dict:
        return self.request("GET", f"/api/v1/users/{_segment(user_id)}").json()

    def get_group(self, group_id: str) -> dict:
        return self.request("GET", f"/api/v1/groups/{_segment(group_id)}").json()

    def list_users(self, after: str | None = None, search: str | None = None) -> ListPage:
        return self._list("/api/v1/users", after, search=search)

    def find_users_by_email(self, email: str) -> list[dict]:
        """Users whose email equals `email` (Okta compares case-insensitively); the first page only,
        since an email is shared by a handful of users at most."""
        users, _ = self._list("/api/v1/users", None, search=f'profile.email eq "{_quoted(email)}"')
        return users

    def list_groups(self, after: str | None = None) -> ListPage:
        return self._list("/api/v1/groups", after)

    def list_group_members(self, group_id: str, after: str | None = None) -> ListPage:
        return self._list(f"/api/v1/groups/{_segment(group_id)}/users", after)

    def list_user_groups(self, user_id: str, after: str | None = None) -> ListPage:
        return self._list(f"/api/v1/users/{_segment(user_id)}/groups", after)

    def add_member(self, group_id: str, user_id: str) -> None:
        self.request("PUT", _membership_path(group_id, user_id))

    def remove_member(self, group_id: str, user_id: str) -> None:
        self.request("DELETE", _membership_path(group_id, user_id))

    # -- apps -----------------------------------------------------------------------------------
    def list_apps(self, after: str | None = None, filter: str | None = None) -> ListPage:
        return self._list("/api/v1/apps", after, filter=filter)

    def list_app_users(self, app_id: str, after: str | None = None) -> ListPage:
        return self._list(f"/api/v1/apps/{_segment(app_id)}/users", after)

    def get_app_user(self, app_id: str, user_id: str) -> dict:
        return self.request("GET", _app_user_path(app_id, user_id)).json()

    def assign_app_user(self, app_id: str, user_id: str, user_name: str) -> dict:
        """Create a direct (scope USER) assignment, as baton-okta does."""
        body = {"id": user_id, "scope": "USER", "credentials": {"userName": user_name}}
        return self.request("POST", f"/api/v1/apps/{_segment(app_id)}/users", json=body).json()

    def set_app_user_scope(self, app_id: str, user_id: str, scope: str) -> dict:
        """Turn a group-derived assignment into a direct one (USER) or back (GROUP)."""
        return self.request("POST", _app_user_path(app_id, user_id), json={"scope": scope}).json()

    def remove_app_user(self, app_id: str, user_id: str) -> None:
        self.request("DELETE", _app_user_path(app_id, user_id))

    # -- admin roles ----------------------------------------------------------------------------
    def list_role_assignees(self, after: str | None = None) -> ListPage:
        """One page of users holding admin roles; paged by the `Link` header (body `value`)."""
        path = "/api/v1/iam/assignees/users"
        response = self._get_page(path, after, {})
        return response.json().get("value") or [], _next_cursor(response, path)

    def list_user_roles(self, user_id: str) -> list[dict]:
        return self.request("GET", f"/api/v1/users/{_segment(user_id)}/roles").json()

    def list_group_roles(self, group_id: str) -> list[dict]:
        return self.request("GET", f"/api/v1/groups/{_segment(group_id)}/roles").json()

    def list_role_permissions(self, role_id: str) -> list[str]:
        """The permission names of a custom role, e.g. `okta.groups.members.manage`."""
        body = self.request("GET", f"/api/v1/iam/roles/{_segment(role_id)}/permissions").json()
        return [permission["label"] for permission in body.get("permissions") or []]

    def assign_role(self, user_id: str, role_type: str) -> dict:
        return self.request("POST", f"/api/v1/users/{_segment(user_id)}/roles",
                            json={"type": role_type}).json()

    def remove_role(self, user_id: str, assignment_id: str) -> None:
        self.request("DELETE",
                     f"/api/v1/users/{_segment(user_id)}/roles/{_segment(assignment_id)}")

    # -- probes ---------------------------------------------------------------------------------
    def check_readable(self, path: str) -> None:
        """Read one item of a list, to learn whether the token may read it at all."""
        self.request("GET", path, params={"limit": "1"})

    # -- plumbing -------------------------------------------------------------------------------
    def _list(self, path: str, after: str | None, **filters: str | None) -> ListPage:
        response = self._get_page(path, after, filters)
        return response.json(), _next_cursor(response, path)

    def _get_page(self, path: str, after: str | None,
                  filters: dict[str, str | None]) -> httpx.Response:
        params = {"limit": str(self._page_size)}
        if after:
            params["after"] = after
        params.update({name: value for name, value in filters.items() if value is not None})
        return self.request("GET", path, params=params)

    def error_for(self, method: str, path: str, response: httpx.Response) -> ConnectorError:
        error = super().error_for(method, path, response)
        error.okta_code = _error_body(response).get("errorCode")
        return error

    def describe_error(self, response: httpx.Response) -> str:
        body = _error_body(response)
        if "errorCode" not in body:
            return response.reason_phrase
        causes = "; ".join(c.get("errorSummary", "") for c in body.get("errorCauses") or [])
        text = f"{body['errorCode']}: {body.get('errorSummary', '')}"
        return f"{text} ({causes})" if causes else text

    def retry_after(self, response: httpx.Response) -> float | None:
        return _rate_limit_reset(response)


def _error_body(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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


def _app_user_path(app_id: str, user_id: str) -> str:
    return f"/api/v1/apps/{_segment(app_id)}/users/{_segment(user_id)}"


def _segment(value: str) -> str:
    """Percent-encode an id for a path segment, so an odd id cannot reach another endpoint."""
    return quote(value, safe="")


def _quoted(value: str) -> str:
    """Escape a value for a double-quoted string in Okta's search expression language."""
    return value.replace("\\", "\\\\").replace('"', '\\"')

"""The Okta Management API calls Latchkey makes: one method per endpoint, wire JSON in and out.

Each method names a path and reads Okta's JSON; how the call is made (authentication, retries,
rate limits, `Link` pagination, errors) is the `OktaTransport` beneath (transport.py), so a new
way to authenticate (auth.py) changes nothing here.  Nothing here knows Latchkey's model: the
resource kinds beside it (groups.py, apps.py, roles.py) map the JSON.  The admin-role calls are
`OktaClient.roles` (role_calls.py), the MFA factor calls `OktaClient.factors` (factor_calls.py).

Each list method returns ONE page and the `after` cursor of the next page (None at the end).

The System Log is read as Okta documents *polling* (`list_log_events`): no `until`, ascending
order, `since` for the first read and then the `after` of the `rel="next"` link, which a polling
answer always carries, even when it holds no events.

Retrying writes is safe: group-membership PUT/DELETE are idempotent, a repeated role POST answers
E0000090 (read as "already granted") and a repeated DELETE answers 404 (read as "already gone").
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import NamedTuple

import httpx

from connectors.base import ConnectorError
from connectors.okta.auth import SswsToken
from connectors.okta.factor_calls import OktaFactorCalls
from connectors.okta.oauth import OktaOAuth
from connectors.okta.role_calls import OktaRoleCalls
from connectors.okta.transport import (
    ListPage,
    OktaTransport,
    next_cursor,
    okta_base_url,
    okta_code,
    path_segment,
    rate_limit_ceiling,
)

__all__ = ["ListPage", "LogPage", "OktaClient", "okta_base_url", "okta_code"]

LOGS = "/api/v1/logs"
LOG_PAGE = 1000  # the most events Okta answers at once


class LogPage(NamedTuple):
    """One polling read of the System Log: its events (LogEvent objects, in the order Okta stored
    them), the `after` to read on from, and the log's rate limit a minute, if Okta said."""

    events: list[dict]
    after: str
    limit_per_minute: int | None



class OktaClient:
    """One Okta org's users, groups, apps and (as `roles`) admin roles, reached through one
    `OktaTransport`.

    `credentials` is an API token (sent as SSWS) or any `httpx.Auth`: `OktaOAuth` (oauth.py)
    for a service app, or another scheme (see auth.py).
    """

    def __init__(self, base_url: str, credentials: str | httpx.Auth, *, page_size: int = 200,
                 max_attempts: int = 5, timeout: float = 10.0, max_wait: float | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        auth = SswsToken(credentials) if isinstance(credentials, str) else credentials
        self.transport = OktaTransport(base_url, auth, page_size=page_size, max_attempts=max_attempts,
                                       timeout=timeout, max_wait=max_wait, sleep=sleep)
        self.roles = OktaRoleCalls(self.transport)  # the admin-role endpoints
        self.factors = OktaFactorCalls(self.transport)  # a user's MFA factors, and push verification

    def close(self) -> None:
        self.transport.close()

    @property
    def oauth(self) -> OktaOAuth | None:
        """The service app's OAuth, when that is how this client authenticates."""
        auth = self.transport.auth
        return auth if isinstance(auth, OktaOAuth) else None

    # -- users ----------------------------------------------------------------------------------
    def get_current_user(self) -> dict:
        """The admin user the credential belongs to (Okta's `users/me`)."""
        return self.transport.request("GET", "/api/v1/users/me").json()

    def get_user(self, user_id: str) -> dict:
        return self.transport.request("GET", f"/api/v1/users/{path_segment(user_id)}").json()

    def list_users(self, after: str | None = None, search: str | None = None) -> ListPage:
        return self.transport.page("/api/v1/users", after, search=search)

    def find_users_by_email(self, email: str) -> list[dict]:
        """Users whose email equals `email` (Okta compares case-insensitively); the first page only,
        since an email is shared by a handful of users at most."""
        search = f'profile.email eq "{_quoted(email)}"'
        users, _ = self.transport.page("/api/v1/users", None, search=search)
        return users

    def clear_user_sessions(self, user_id: str, oauth_tokens: bool) -> None:
        """Revoke all of the user's sessions (and their OAuth tokens, if asked); 204."""
        self.transport.request("DELETE", f"/api/v1/users/{path_segment(user_id)}/sessions",
                               params={"oauthTokens": "true" if oauth_tokens else "false"})

    def list_user_groups(self, user_id: str, after: str | None = None) -> ListPage:
        return self.transport.page(f"/api/v1/users/{path_segment(user_id)}/groups", after)

    # -- groups and memberships -----------------------------------------------------------------
    def get_group(self, group_id: str) -> dict:
        return self.transport.request("GET", f"/api/v1/groups/{path_segment(group_id)}").json()

    def list_groups(self, after: str | None = None) -> ListPage:
        return self.transport.page("/api/v1/groups", after)

    def list_group_members(self, group_id: str, after: str | None = None) -> ListPage:
        return self.transport.page(f"/api/v1/groups/{path_segment(group_id)}/users", after)

    def add_member(self, group_id: str, user_id: str) -> None:
        self.transport.request("PUT", _membership_path(group_id, user_id))

    def remove_member(self, group_id: str, user_id: str) -> None:
        self.transport.request("DELETE", _membership_path(group_id, user_id))

    # -- apps and assignments -------------------------------------------------------------------
    def list_apps(self, after: str | None = None, filter: str | None = None) -> ListPage:
        return self.transport.page("/api/v1/apps", after, filter=filter)

    def get_app(self, app_id: str) -> dict:
        return self.transport.request("GET", f"/api/v1/apps/{path_segment(app_id)}").json()

    def list_app_users(self, app_id: str, after: str | None = None) -> ListPage:
        return self.transport.page(f"/api/v1/apps/{path_segment(app_id)}/users", after)

    def get_app_user(self, app_id: str, user_id: str) -> dict:
        return self.transport.request("GET", _app_user_path(app_id, user_id)).json()

    def assign_app_user(self, app_id: str, user_id: str, user_name: str) -> dict:
        """Create a direct (scope USER) assignment, as baton-okta does."""
        body = {"id": user_id, "scope": "USER", "credentials": {"userName": user_name}}
        path = f"/api/v1/apps/{path_segment(app_id)}/users"
        return self.transport.request("POST", path, json=body).json()

    def set_app_user_scope(self, app_id: str, user_id: str, scope: str) -> dict:
        """Turn a group-derived assignment into a direct one (USER) or back (GROUP)."""
        path = _app_user_path(app_id, user_id)
        return self.transport.request("POST", path, json={"scope": scope}).json()

    def remove_app_user(self, app_id: str, user_id: str) -> None:
        self.transport.request("DELETE", _app_user_path(app_id, user_id))

    # -- the System Log -------------------------------------------------------------------------
    def list_log_events(self, after: str | None, since: str, filter: str) -> LogPage:
        """One page of log events after `after`, or from `since` (an RFC 3339 time) without one
        (Okta refuses both at once); `filter` is a SCIM expression such as
        `eventType eq "group.user_membership.add"`."""
        params = {"limit": str(LOG_PAGE), "sortOrder": "ASCENDING", "filter": filter}
        params.update({"after": after} if after else {"since": since})
        response = self.transport.request("GET", LOGS, params=params)
        following = next_cursor(response, LOGS)
        if following is None:  # without it the next read could only start over
            raise ConnectorError(f"Okta GET {LOGS} answered a polling read without a next link")
        return LogPage(response.json(), following, rate_limit_ceiling(response))


def _membership_path(group_id: str, user_id: str) -> str:
    return f"/api/v1/groups/{path_segment(group_id)}/users/{path_segment(user_id)}"


def _app_user_path(app_id: str, user_id: str) -> str:
    return f"/api/v1/apps/{path_segment(app_id)}/users/{path_segment(user_id)}"


def _quoted(value: str) -> str:
    """Escape a value for a double-quoted string in Okta's search expression language."""
    return value.replace("\\", "\\\\").replace('"', '\\"')

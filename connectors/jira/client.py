"""HTTP client for Jira Cloud's REST API v3: wire JSON, retries and error mapping, nothing more.

Wire facts, from Atlassian's Jira Cloud platform REST API v3 documentation:

- Basic auth with the Atlassian account's email and an API token.
- `GET /rest/api/3/issue/{issueIdOrKey}?fields=summary,status,assignee` answers the issue with
  only those fields: `fields.status.name`, `fields.status.statusCategory.key` (`new`,
  `indeterminate` or `done`), `fields.assignee` (null when unassigned; `accountId`, and
  `emailAddress` unless the person's profile visibility hides it).
- 404 both for an issue that does not exist and for one the account may not browse.
- `GET /rest/api/3/user/search?query=<email>` lists users whose display name or email starts
  with the query (emails again subject to profile visibility).
- Errors: `{"errorMessages": [...], "errors": {field: message}}`; 429 with `Retry-After`.

Retries follow connectors/http.py; every call here is a read, so retrying is always safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from connectors.http import FORM_ATTEMPTS, FORM_MAX_WAIT, FORM_TIMEOUT, READ_AT_MOST, ApiClient

ISSUE_FIELDS = "summary,status,assignee"
USERS_PER_SEARCH = 10  # an email matches one person; a few more show an ambiguous query


class JiraClient(ApiClient):
    """One Jira Cloud site, as one Atlassian account sees it."""

    api_name = "Jira"

    def __init__(self, site: str, email: str, token: str, *, max_attempts: int = FORM_ATTEMPTS,
                 timeout: float = FORM_TIMEOUT, max_wait: float | None = FORM_MAX_WAIT,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(site.rstrip("/"), {"Accept": "application/json"}, auth=httpx.BasicAuth(email, token),
                         max_attempts=max_attempts, timeout=timeout, max_wait=max_wait, sleep=sleep)

    def get_issue(self, key: str) -> dict:
        """The issue with its summary, status and assignee (NotFoundError if none can be seen)."""
        return self.request("GET", f"/rest/api/3/issue/{quote(key, safe='')}",
                            params={"fields": ISSUE_FIELDS}).json()

    def search_users(self, query: str) -> list[dict]:
        return self.request("GET", "/rest/api/3/user/search",
                            params={"query": query, "maxResults": USERS_PER_SEARCH}).json()

    def describe_error(self, response: httpx.Response) -> str:
        try:
            body = response.json()
            said = [*body.get("errorMessages", []), *(f"{k}: {v}" for k, v in body.get("errors", {}).items())]
        except (ValueError, AttributeError):
            return super().describe_error(response)
        return "; ".join(map(str, said))[:READ_AT_MOST] or response.reason_phrase

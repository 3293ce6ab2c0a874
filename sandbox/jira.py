"""A stateful local stand-in for Jira Cloud's REST API v3, served over real HTTP: the calls
Latchkey makes to check tickets, answered as Atlassian's documentation describes them.

- Basic auth with an Atlassian account's email and API token; anything else answers 401 with
  Jira's error body `{"errorMessages": [...], "errors": {}}`.
- `GET /rest/api/3/issue/{issueIdOrKey}?fields=a,b`: the issue with only the fields asked for
  (all of them without `fields` or with `*all`); 404 with "Issue does not exist or you do not have permission to see
  it." for an unknown key.  `status` carries its `statusCategory` (`new`, `indeterminate`,
  `done`); `assignee` is null when unassigned and leaves out `emailAddress` when the person's
  profile hides it.
- `GET /rest/api/3/user/search?query=`: users whose display name or email starts with the query
  (a hidden email still matches, and is still left out of the answer).
- Rate limiting: `rate_limited` calls are answered 429 with `Retry-After`.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from urllib.parse import unquote

from sandbox.server import Call, Reply, SandboxServer

CATEGORIES = {"new": (2, "To Do", "blue-gray"), "indeterminate": (4, "In Progress", "yellow"),
              "done": (3, "Done", "green")}
STATUS_CATEGORY = {"To Do": "new", "In Progress": "indeterminate", "In Review": "indeterminate",
                   "Done": "done", "Closed": "done", "Won't Do": "done"}


@dataclass
class JiraUser:
    account_id: str
    email: str
    name: str
    email_hidden: bool = False

    def wire(self, site: str) -> dict:
        user = {"self": f"{site}/rest/api/3/user?accountId={self.account_id}", "accountId": self.account_id,
                "accountType": "atlassian", "displayName": self.name, "active": True, "timeZone": "UTC"}
        if not self.email_hidden:
            user["emailAddress"] = self.email
        return user


@dataclass
class JiraIssue:
    key: str
    summary: str
    status: str = "To Do"  # a name of STATUS_CATEGORY
    assignee: str | None = None  # an account id
    id: str = ""


class JiraSandbox(SandboxServer):
    """Issues and users of one Jira Cloud site, seen by any account in `accounts` (email → token)."""

    def __init__(self, accounts: dict[str, str] | None = None) -> None:
        super().__init__()
        self.accounts = accounts or {"latchkey@acme.com": "jira-test-token"}
        self.issues: dict[str, JiraIssue] = {}
        self.users: dict[str, JiraUser] = {}
        self.rate_limited = 0  # the next calls answered 429
        self.retry_after = 1
        self._routes = [
            (re.compile(r"/rest/api/3/issue/(?P<key>[^/]+)"), self._get_issue),
            (re.compile(r"/rest/api/3/user/search"), self._search_users),
        ]

    # -- seeding -----------------------------------------------------------------------------
    def add_user(self, account_id: str, email: str, name: str, email_hidden: bool = False) -> JiraUser:
        with self.lock:
            user = self.users[account_id] = JiraUser(account_id, email, name, email_hidden)
            return user

    def add_issue(self, key: str, summary: str, status: str = "To Do", assignee: str | None = None) -> JiraIssue:
        assert status in STATUS_CATEGORY, f"unknown status {status}"
        with self.lock:
            issue = self.issues[key] = JiraIssue(key, summary, status, assignee, str(10000 + len(self.issues)))
            return issue

    def set_status(self, key: str, status: str) -> None:
        assert status in STATUS_CATEGORY, f"unknown status {status}"
        with self.lock:
            self.issues[key].status = status

    # -- HTTP --------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        if not self._authenticated(call):
            return _error(401, "You are not authenticated. Authentication required to perform this operation.")
        with self.lock:
            if self.rate_limited:
                self.rate_limited -= 1
                return Reply.json(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                                  {"Retry-After": str(self.retry_after)})
        for pattern, handler in self._routes:
            if call.method == "GET" and (match := pattern.fullmatch(call.path)):
                return handler(call, **match.groupdict())
        return _error(404, "Not found")

    def _authenticated(self, call: Call) -> bool:
        scheme, _, credentials = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            email, _, token = base64.b64decode(credentials).decode().partition(":")
        except ValueError:
            return False
        return self.accounts.get(email) == token

    def _get_issue(self, call: Call, key: str) -> Reply:
        key = unquote(key)
        with self.lock:
            issue = self.issues.get(key.upper())
            if issue is None:
                return _error(404, "Issue does not exist or you do not have permission to see it.")
            fields = self._fields(issue)
        wanted = (call.arg("fields") or "*all").split(",")
        if "*all" not in wanted:
            fields = {name: value for name, value in fields.items() if name in wanted}
        return Reply.json(200, {"expand": "renderedFields,names,schema", "id": issue.id,
                                "self": f"{self.url}/rest/api/3/issue/{issue.id}", "key": issue.key,
                                "fields": fields})

    def _fields(self, issue: JiraIssue) -> dict:
        category = STATUS_CATEGORY[issue.status]
        category_id, category_name, colour = CATEGORIES[category]
        assignee = self.users.get(issue.assignee) if issue.assignee else None
        return {
            "summary": issue.summary,
            "status": {"self": f"{self.url}/rest/api/3/status/1", "name": issue.status, "id": "1",
                       "statusCategory": {"self": f"{self.url}/rest/api/3/statuscategory/{category_id}",
                                          "id": category_id, "key": category, "colorName": colour,
                                          "name": category_name}},
            "assignee": assignee.wire(self.url) if assignee else None,
            "issuetype": {"name": "Task"},
        }

    def _search_users(self, call: Call) -> Reply:
        query = (call.arg("query") or "").casefold()
        if not query:
            return _error(400, "One of 'query', 'account ID' or 'property' must be provided.")
        limit = int(call.arg("maxResults") or 50)
        with self.lock:
            found = [u.wire(self.url) for u in self.users.values()
                     if any(word.startswith(query) for word in u.name.casefold().split())
                     or u.name.casefold().startswith(query)
                     or u.email.casefold().startswith(query)]
        return Reply.json(200, found[:limit])


def _error(status: int, message: str) -> Reply:
    return Reply.json(status, {"errorMessages": [message], "errors": {}})

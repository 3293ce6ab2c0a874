"""A stateful local stand-in for the Twilio Segment Public API, served over real HTTP.

It answers the calls Latchkey's Segment connector makes the way Segment does (see the Public
API reference, https://docs.segmentapis.com, and Segment's SDKs):

- `Authorization: Bearer <token>`; a token has a tier: `workspace_owner` may do anything,
  `read_only` may read but lacks the IAM write permission (403 on every write).
- Answers are `application/vnd.segment.v1+json`, `{"data": {...}}` or `{"errors": [...]}`.
- Lists need `pagination[count]` (1..1000; `pagination.count` works too) and take
  `pagination[cursor]`; `data.pagination.next` is null on the last page.  Cursors are base64
  offsets, as Segment's are ("MA==", "Mw==" ...).  `page_size` caps every page.
- `GET /groups/{id}` answers `data.userGroup`; lists leave out `permissions`.
- Members are added by email (`POST /groups/{id}/users`; an unknown address becomes an invite)
  and removed with the documented `DELETE /group/{id}/users?emails.0=...` (also `emails=`
  repeated, and on `/groups/{id}/users` as baton-segment calls it).  A JSON-array string such
  as `emails=["a@b.c"]` is not an address and is refused.
- `PUT /users/{id}/permissions` and `PUT /groups/{id}/permissions` REPLACE the whole list, after
  validating roles, resource types and ids, and that labels sit on WORKSPACE resources only.
- IAM writes are limited to `write_limit` (60) a minute per token → 429 with X-RateLimit-* and
  `data.msBeforeNext`; successful answers carry X-RateLimit-Consumed/Remaining/Reset.
- Faults on demand: `rate_limit()` and `fail()`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import re
import time
from collections import deque
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import unquote

from sandbox.server import Call, Reply, SandboxServer

TIERS = ("workspace_owner", "read_only")
MEDIA_TYPE = "application/vnd.segment.v1+json"
BODY_TYPES = ("application/json", "application/vnd.segment.v1")  # v1, v1beta, v1alpha
MAX_COUNT = 1000
WRITE_LIMIT = 60  # per minute, documented for group membership and permission writes
READ_LIMIT = 600  # per minute, reported in headers but not enforced
WINDOW = 60.0
RESOURCE_TYPES = ("WORKSPACE", "SOURCE")

_EMAIL = re.compile(r'[^@\s\[\]"]+@[^@\s\[\]"]+')
_EMAILS_KEY = re.compile(r"emails(\.\d+|\[\d*\])?")


class SegmentError(Exception):
    """A Segment error answer, raised anywhere in a handler and turned into a Reply by `route`."""

    def __init__(self, status: int, type_: str, message: str, data: dict | None = None) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.data = status, type_, message, data

    def reply(self, headers: dict[str, str] | None = None) -> Reply:
        error = {"type": self.type, "message": self.message, "status": self.status}
        if self.data is not None:
            error["data"] = self.data
        return _reply(self.status, {"errors": [error]}, headers)


def _reply(status: int, payload: dict, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, json.dumps(payload).encode(),
                 {"Content-Type": MEDIA_TYPE, **(headers or {})})


def _invalid(message: str) -> SegmentError:
    return SegmentError(422, "ValidationError", message)


def _not_found(kind: str, object_id: str) -> SegmentError:
    return SegmentError(404, "resource-not-found", f"{kind} {object_id} not found")


def _cursor(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode()


def _segment_id(kind: str, serial: int) -> str:
    """A 22-character id, stable per serial, in Segment's alphabet."""
    digest = base64.b64encode(hashlib.sha256(f"{kind}{serial}".encode()).digest()).decode()
    return re.sub(r"[^A-Za-z0-9]", "", digest)[:22]


class _Window:
    """A sliding one-minute request window (no boundary where the count suddenly resets)."""

    def __init__(self, limit: int, enforced: bool) -> None:
        self.limit, self.enforced, self.times = limit, enforced, deque()

    def admit(self, now: float) -> bool:
        while self.times and now - self.times[0] >= WINDOW:
            self.times.popleft()
        if self.enforced and len(self.times) >= self.limit:
            return False
        self.times.append(now)
        return True

    def reset_at(self, now: float) -> float:
        return (self.times[0] if self.times else now) + WINDOW

    def headers(self, now: float) -> dict[str, str]:
        return {"X-RateLimit-Consumed": str(len(self.times)),
                "X-RateLimit-Remaining": str(max(self.limit - len(self.times), 0)),
                "X-RateLimit-Reset": formatdate(self.reset_at(now), usegmt=True)}


def _too_many(ms_before_next: int, consumed: int, reset_at: float) -> Reply:
    """Segment's documented 429: headers plus the limit's state in `errors[0].data`."""
    error = SegmentError(429, "RequestError", "Too many requests", {
        "remainingPoints": 0, "msBeforeNext": ms_before_next, "consumedPoints": consumed})
    return error.reply({"X-RateLimit-Consumed": str(consumed), "X-RateLimit-Remaining": "0",
                        "X-RateLimit-Reset": formatdate(reset_at, usegmt=True)})


class SegmentSandbox(SandboxServer):
    """One Segment workspace: users, user groups and members, roles, sources and permissions."""

    def __init__(self, page_size: int = 3, tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        self.write_limit = WRITE_LIMIT
        self.tokens = dict(tokens or {"segment-test-token": "workspace_owner"})
        if unknown := set(self.tokens.values()) - set(TIERS):
            raise ValueError(f"unknown token tier(s) {sorted(unknown)}; use one of {TIERS}")
        self._serial = 0
        self.workspace = {"id": self._next_id("workspace"), "name": "Latchkey Sandbox",
                          "slug": "latchkey-sandbox"}
        self._users: dict[str, dict] = {}
        self._groups: dict[str, dict] = {}
        self._members: dict[str, dict[str, None]] = {}  # group id → user ids, in joining order
        self._invites: dict[str, set[str]] = {}
        self._roles: dict[str, dict] = {}
        self._sources: dict[str, dict] = {}
        self._permissions: dict[str, list[dict]] = {}  # user or group id → stored input form
        self._windows: dict[tuple[str, bool], _Window] = {}
        self._writes: list[Call] = []
        self._routes: list[tuple[re.Pattern, dict[str, Callable[..., dict]]]] = [
            (re.compile(r"/"), {"GET": self._get_workspace}),
            (re.compile(r"/users"), {"GET": self._list_users}),
            (re.compile(r"/users/(?P<uid>[^/]+)"), {"GET": self._get_user}),
            (re.compile(r"/users/(?P<uid>[^/]+)/groups"), {"GET": self._list_user_groups}),
            (re.compile(r"/users/(?P<uid>[^/]+)/permissions"), {"PUT": self._put_user_permissions}),
            (re.compile(r"/groups"), {"GET": self._list_groups}),
            (re.compile(r"/groups/(?P<gid>[^/]+)"), {"GET": self._get_group}),
            (re.compile(r"/groups/(?P<gid>[^/]+)/users"), {"GET": self._list_members,
                                                           "POST": self._add_members,
                                                           "DELETE": self._remove_members}),
            (re.compile(r"/group/(?P<gid>[^/]+)/users"), {"DELETE": self._remove_members}),
            (re.compile(r"/groups/(?P<gid>[^/]+)/permissions"),
             {"PUT": self._put_group_permissions}),
            (re.compile(r"/roles"), {"GET": self._list_roles}),
            (re.compile(r"/sources"), {"GET": self._list_sources}),
        ]

    # -- seeding and inspection (for tests) ---------------------------------------------------
    def add_user(self, email: str, name: str = "") -> str:
        with self.lock:
            if self._user_by_email(email):
                raise ValueError(f"a user with email {email!r} already exists")
            user_id = self._next_id("user")
            self._users[user_id] = {"id": user_id, "name": name, "email": email}
            return user_id

    def add_group(self, name: str) -> str:
        with self.lock:
            group_id = self._next_id("group")
            self._groups[group_id] = {"id": group_id, "name": name}
            self._members[group_id], self._invites[group_id] = {}, set()
            return group_id

    def add_member(self, group_id: str, user_id: str) -> None:
        with self.lock:
            self._user(user_id)
            self._members[group_id][user_id] = None

    def add_role(self, name: str, description: str = "") -> str:
        with self.lock:
            role_id = self._next_id("role")
            self._roles[role_id] = {"id": role_id, "name": name, "description": description}
            return role_id

    def add_source(self, name: str, source_id: str | None = None) -> str:
        """Add a source; `source_id` lets a test use an id with odd characters."""
        with self.lock:
            source_id = source_id or self._next_id("source")
            slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
            self._sources[source_id] = {"id": source_id, "slug": slug, "name": name,
                                        "enabled": True, "workspaceId": self.workspace["id"]}
            return source_id

    def set_permissions(self, principal: str, permissions: list[dict]) -> None:
        """Seed a user's or group's permissions, validated as a PUT would validate them."""
        with self.lock:
            self._principal(principal)
            try:
                self._permissions[principal] = self._validated(permissions)
            except SegmentError as error:
                raise ValueError(error.message) from error

    def permissions(self, principal: str) -> list[dict]:
        """What is stored: `{roleId, resources: [{id, type, labels}]}` entries, in order."""
        with self.lock:
            return copy.deepcopy(self._permissions.get(principal, []))

    def members(self, group_id: str) -> set[str]:
        with self.lock:
            return set(self._members[group_id])

    def invites(self, group_id: str) -> set[str]:
        with self.lock:
            return set(self._invites[group_id])

    def writes(self) -> list[Call]:
        """Write calls that were accepted (not faulted, refused or rejected)."""
        with self.lock:
            return list(self._writes)

    # -- faults ---------------------------------------------------------------------------------
    def rate_limit(self, times: int = 1, path: str = ".*", method: str = ".*",
                   reset_in: float = 1.0) -> None:
        """Answer the next `times` matching calls with Segment's 429, lifting in `reset_in` s."""
        def too_many(_call: Call) -> Reply:
            return _too_many(int(reset_in * 1000), self.write_limit, time.time() + reset_in)
        self.inject(too_many, path=path, method=method, times=times)

    def fail(self, status: int = 500, times: int = 1, path: str = ".*", method: str = ".*") -> None:
        error = SegmentError(status, "internal-error" if status >= 500 else "error",
                             "Internal server error" if status >= 500 else "Request failed")
        self.inject(lambda _call: error.reply(), path=path, method=method, times=times)

    # -- HTTP -------------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        with self.lock:
            try:
                token = self._authorize(call)
                handler, params = self._resolve(call)
                window, now = self._window(token, call.method != "GET"), time.time()
                if not window.admit(now):
                    return _too_many(int((window.reset_at(now) - now) * 1000), len(window.times),
                                     window.reset_at(now))
                data = handler(call, **params)
                if call.method != "GET":
                    self._writes.append(call)
                return _reply(200, {"data": data}, window.headers(now))
            except SegmentError as error:
                return error.reply()

    def _authorize(self, call: Call) -> str:
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        tier = self.tokens.get(token) if scheme == "Bearer" else None
        if tier is None:
            raise SegmentError(401, "unauthorized", "Supplied token is not authorized.")
        if call.method != "GET" and tier != "workspace_owner":
            raise SegmentError(403, "forbidden",
                               "The token does not have the IAM permission this request needs.")
        return token

    def _resolve(self, call: Call) -> tuple[Callable[..., dict], dict[str, str]]:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(call.path)
            if match and call.method in handlers:
                return handlers[call.method], {k: unquote(v) for k, v in match.groupdict().items()}
        raise SegmentError(404, "not-found", f"No route for {call.method} {call.path}")

    def _window(self, token: str, write: bool) -> _Window:
        key = (token, write)
        if key not in self._windows:
            self._windows[key] = _Window(self.write_limit if write else READ_LIMIT, write)
        return self._windows[key]

    # -- endpoints ----------------------------------------------------------------------------
    def _get_workspace(self, call: Call) -> dict:
        return {"workspace": dict(self.workspace)}

    def _list_users(self, call: Call) -> dict:
        return self._page(call, "users", [dict(u) for u in self._users.values()])

    def _get_user(self, call: Call, uid: str) -> dict:
        return {"user": {**self._user(uid), "permissions": self._output(uid)}}

    def _list_user_groups(self, call: Call, uid: str) -> dict:
        self._user(uid)
        groups = [self._group_json(gid) for gid, members in self._members.items() if uid in members]
        return self._page(call, "groups", groups)

    def _put_user_permissions(self, call: Call, uid: str) -> dict:
        self._user(uid)
        return self._replace_permissions(call, uid)

    def _list_groups(self, call: Call) -> dict:
        return self._page(call, "userGroups", [self._group_json(gid) for gid in self._groups])

    def _get_group(self, call: Call, gid: str) -> dict:
        self._group(gid)
        return {"userGroup": {**self._group_json(gid), "permissions": self._output(gid)}}

    def _list_members(self, call: Call, gid: str) -> dict:
        self._group(gid)
        return self._page(call, "users", [dict(self._users[uid]) for uid in self._members[gid]])

    def _add_members(self, call: Call, gid: str) -> dict:
        self._group(gid)
        emails = self._body(call).get("emails")
        for email in self._valid_emails(emails if isinstance(emails, list) else []):
            user = self._user_by_email(email)
            if user:
                self._members[gid][user["id"]] = None
            else:  # Segment invites an address it does not know
                self._invites[gid].add(email.lower())
        return {"userGroup": self._group_json(gid)}

    def _remove_members(self, call: Call, gid: str) -> dict:
        self._group(gid)
        emails = [v for key, values in call.query.items() if _EMAILS_KEY.fullmatch(key)
                  for v in values]
        for email in self._valid_emails(emails):
            user = self._user_by_email(email)
            if user:
                self._members[gid].pop(user["id"], None)
            self._invites[gid].discard(email.lower())
        return {"status": "SUCCESS"}

    def _put_group_permissions(self, call: Call, gid: str) -> dict:
        self._group(gid)
        return self._replace_permissions(call, gid)

    def _list_roles(self, call: Call) -> dict:
        return self._page(call, "roles", [dict(r) for r in self._roles.values()])

    def _list_sources(self, call: Call) -> dict:
        return self._page(call, "sources", [dict(s) for s in self._sources.values()])

    # -- permissions ----------------------------------------------------------------------------
    def _replace_permissions(self, call: Call, principal: str) -> dict:
        permissions = self._body(call).get("permissions")
        if not isinstance(permissions, list):
            raise _invalid("permissions: must be a list")
        self._permissions[principal] = self._validated(permissions)
        return {"permissions": self._output(principal)}

    def _validated(self, permissions: list) -> list[dict]:
        return [self._valid_entry(entry) for entry in permissions]

    def _valid_entry(self, entry) -> dict:
        if not isinstance(entry, dict) or entry.get("roleId") not in self._roles:
            raise _invalid(f"permissions: unknown roleId in {entry!r}")
        resources = entry.get("resources")
        if not isinstance(resources, list) or not resources:
            raise _invalid(f"permissions: role {entry['roleId']} needs at least one resource")
        return {"roleId": entry["roleId"],
                "resources": [self._valid_resource(r) for r in resources]}

    def _valid_resource(self, resource) -> dict:
        if not isinstance(resource, dict) or resource.get("type") not in RESOURCE_TYPES:
            raise _invalid(f"resources: unknown resource type in {resource!r}")
        known = {"WORKSPACE": {self.workspace["id"]}, "SOURCE": set(self._sources)}
        if resource.get("id") not in known[resource["type"]]:
            raise _invalid(f"resources: no {resource['type']} with id {resource.get('id')!r}")
        labels = resource.get("labels") or []
        if labels and resource["type"] != "WORKSPACE":
            raise _invalid("resources: labels are exclusive to WORKSPACE permissions")
        if not all(isinstance(label, dict) and {"key", "value"} <= set(label) for label in labels):
            raise _invalid("resources: a label needs a key and a value")
        return {"id": resource["id"], "type": resource["type"], "labels": copy.deepcopy(labels)}

    def _output(self, principal: str) -> list[dict]:
        return [{"roleId": entry["roleId"], "roleName": self._roles[entry["roleId"]]["name"],
                 "resources": copy.deepcopy(entry["resources"])}
                for entry in self._permissions.get(principal, [])]

    # -- helpers --------------------------------------------------------------------------------
    def _page(self, call: Call, key: str, items: list[dict]) -> dict:
        """One page of `items` with Segment's pagination object."""
        count = self._pagination(call, "count")
        if count is None or not count.isdigit() or not 1 <= int(count) <= MAX_COUNT:
            raise _invalid(f"pagination.count: must be an integer from 1 to {MAX_COUNT}")
        offset = self._offset(self._pagination(call, "cursor"))
        size = min(int(count), self.page_size)
        end = offset + size
        return {key: items[offset:end], "pagination": {
            "current": _cursor(offset),
            "next": _cursor(end) if end < len(items) else None,
            "previous": _cursor(max(offset - size, 0)) if offset else None,
            "totalEntries": len(items)}}

    @staticmethod
    def _pagination(call: Call, name: str) -> str | None:
        return call.arg(f"pagination[{name}]", call.arg(f"pagination.{name}"))

    @staticmethod
    def _offset(cursor: str | None) -> int:
        if cursor is None:
            return 0
        try:
            offset = int(base64.b64decode(cursor, validate=True).decode())
        except ValueError:
            offset = -1
        if offset < 0:
            raise _invalid("pagination.cursor: not a cursor this API issued")
        return offset

    @staticmethod
    def _body(call: Call) -> dict:
        content_type = call.headers.get("content-type", "")
        if not content_type.startswith(BODY_TYPES):
            raise SegmentError(415, "unsupported-media-type", f"cannot read {content_type!r}")
        try:
            body = call.json()
        except ValueError:
            raise _invalid("body: not JSON") from None
        if not isinstance(body, dict):
            raise _invalid("body: must be an object")
        return body

    @staticmethod
    def _valid_emails(emails: list) -> list[str]:
        if not emails:
            raise _invalid("emails: at least one email is required")
        bad = [e for e in emails if not isinstance(e, str) or not _EMAIL.fullmatch(e)]
        if bad:
            raise _invalid(f"emails: not email addresses: {bad!r}")
        return emails

    def _group_json(self, gid: str) -> dict:
        return {**self._groups[gid], "memberCount": len(self._members[gid])}

    def _user(self, uid: str) -> dict:
        if uid not in self._users:
            raise _not_found("User", uid)
        return dict(self._users[uid])

    def _group(self, gid: str) -> dict:
        if gid not in self._groups:
            raise _not_found("User group", gid)
        return self._groups[gid]

    def _principal(self, principal: str) -> None:
        if principal not in self._users and principal not in self._groups:
            raise KeyError(principal)

    def _user_by_email(self, email: str) -> dict | None:
        return next((u for u in self._users.values() if u["email"].lower() == email.lower()), None)

    def _next_id(self, kind: str) -> str:
        self._serial += 1
        return _segment_id(kind, self._serial)

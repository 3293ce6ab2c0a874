"""A stateful local stand-in for the Okta Management API (`/api/v1`), served over real HTTP.

It answers the calls Latchkey's Okta connector makes the way Okta does (see
research/connectors.md §2 and §7): `SSWS` token auth with a super-admin or read-only tier, Okta's
error body, `X-Rate-Limit-*` and `Date` on every response, `Link` pagination with an opaque
`after` cursor, DEPROVISIONED users hidden unless `search`/`filter` is given, and group
membership that only OKTA_GROUP groups allow to change.  `page_size` caps every page so tests
see many pages with a handful of objects.  Faults come from `rate_limit()` and `fail()`.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from email.utils import formatdate
from urllib.parse import unquote, urlencode

from sandbox.server import Call, Reply, SandboxServer

TIERS = ("super_admin", "read_only")
USER_STATUSES = ("ACTIVE", "DEPROVISIONED", "LOCKED_OUT", "PASSWORD_EXPIRED", "PROVISIONED",
                 "RECOVERY", "STAGED", "SUSPENDED")
GROUP_TYPES = ("OKTA_GROUP", "APP_GROUP", "BUILT_IN")

MAX_LIMIT = 1000  # Okta's own cap on `limit`
RATE_LIMIT = 600  # requests per minute reported in X-Rate-Limit-Limit (reported, not enforced)

_SUMMARIES = {
    "E0000001": "Api validation failed",
    "E0000006": "You do not have permission to perform the requested action",
    "E0000007": "Not found: Resource not found",
    "E0000008": "The requested path was not found",
    "E0000009": "Internal Server Error",
    "E0000011": "Invalid token provided",
    "E0000022": "The endpoint does not support the provided HTTP method",
    "E0000031": "Invalid search criteria.",
    "E0000047": "API call exceeded rate limit due to too many requests.",
}
_CODE_FOR_STATUS = {400: "E0000001", 401: "E0000011", 403: "E0000006", 404: "E0000007",
                    405: "E0000022", 429: "E0000047"}

# The only user queries the connector sends; anything else is refused rather than ignored, so
# a client relying on an unsupported expression fails here instead of in production.
_EMAIL_EQ = re.compile(r'profile\.email eq "((?:[^"\\]|\\.)*)"')


class OktaError(Exception):
    """An Okta error answer, raised anywhere in a handler and turned into a Reply by `route`."""

    def __init__(self, status: int, code: str, summary: str | None = None,
                 causes: tuple[str, ...] = ()) -> None:
        super().__init__(code)
        self.status, self.code, self.causes = status, code, causes
        self.summary = summary or _SUMMARIES[code]

    @classmethod
    def for_status(cls, status: int) -> "OktaError":
        fallback = "E0000009" if status >= 500 else "E0000001"
        return cls(status, _CODE_FOR_STATUS.get(status, fallback))

    def reply(self) -> Reply:
        return Reply.json(self.status, {
            "errorCode": self.code,
            "errorSummary": self.summary,
            "errorLink": self.code,
            "errorId": "oae" + uuid.uuid4().hex[:19],
            "errorCauses": [{"errorSummary": cause} for cause in self.causes],
        })


def _not_found(object_id: str, kind: str) -> OktaError:
    return OktaError(404, "E0000007", f"Not found: Resource not found: {object_id} ({kind})")


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


def _okta_id(prefix: str, serial: int) -> str:
    """A 20-char Okta-looking id that sorts in creation order (the `after` cursor relies on it)."""
    tail = hashlib.sha1(f"{prefix}{serial}".encode()).hexdigest()[:11]
    return f"{prefix}{serial:06d}{tail}"


class OktaSandbox(SandboxServer):
    """Okta users, groups and group membership behind the Management API."""

    def __init__(self, page_size: int = 3, tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        self.tokens = dict(tokens or {"okta-test-token": "super_admin"})
        if unknown := set(self.tokens.values()) - set(TIERS):
            raise ValueError(f"unknown token tier(s) {sorted(unknown)}; use one of {TIERS}")
        self._users: dict[str, dict] = {}
        self._groups: dict[str, dict] = {}
        self._members: dict[str, set[str]] = {}
        self._writes: list[Call] = []
        self._serial = 0
        self._rate_window, self._rate_used = 0, 0
        self._org = {"id": _okta_id("00o", 0), "companyName": "Latchkey Sandbox",
                     "subdomain": "sandbox", "status": "ACTIVE", "created": _iso(time.time())}
        self._routes = [
            (re.compile(r"/api/v1/org"), {"GET": self._get_org}),
            (re.compile(r"/api/v1/users"), {"GET": self._list_users}),
            (re.compile(r"/api/v1/users/(?P<uid>[^/]+)"), {"GET": self._get_user}),
            (re.compile(r"/api/v1/users/(?P<uid>[^/]+)/groups"), {"GET": self._list_user_groups}),
            (re.compile(r"/api/v1/groups"), {"GET": self._list_groups}),
            (re.compile(r"/api/v1/groups/(?P<gid>[^/]+)"), {"GET": self._get_group}),
            (re.compile(r"/api/v1/groups/(?P<gid>[^/]+)/users"), {"GET": self._list_group_users}),
            (re.compile(r"/api/v1/groups/(?P<gid>[^/]+)/users/(?P<uid>[^/]+)"),
             {"PUT": self._put_member, "DELETE": self._delete_member}),
        ]

    # -- seeding and inspection (for tests) ---------------------------------------------------
    def add_user(self, email: str, first: str = "", last: str = "", status: str = "ACTIVE") -> str:
        if status not in USER_STATUSES:
            raise ValueError(f"unknown user status {status!r}")
        with self.lock:
            if any(u["profile"]["login"].lower() == email.lower() for u in self._users.values()):
                raise ValueError(f"login {email!r} already exists")  # Okta logins are unique
            user_id, now = self._next_id("00u"), _iso(time.time())
            self._users[user_id] = {
                "id": user_id, "status": status, "created": now,
                "activated": None if status == "STAGED" else now,
                "statusChanged": now, "lastLogin": None, "lastUpdated": now,
                "profile": {"login": email, "email": email, "firstName": first, "lastName": last,
                            "displayName": f"{first} {last}".strip() or None, "secondEmail": None},
            }
            return user_id

    def add_group(self, name: str, type: str = "OKTA_GROUP", description: str = "") -> str:
        if type not in GROUP_TYPES:
            raise ValueError(f"unknown group type {type!r}")
        with self.lock:
            group_id, now = self._next_id("00g"), _iso(time.time())
            self._groups[group_id] = {
                "id": group_id, "type": type, "created": now, "lastUpdated": now,
                "lastMembershipUpdated": now, "objectClass": ["okta:user_group"],
                "profile": {"name": name, "description": description or None},
            }
            self._members[group_id] = set()
            return group_id

    def add_member(self, group_id: str, user_id: str) -> None:
        """Seed a membership directly, for any group type (Okta's app imports do the same)."""
        with self.lock:
            if user_id not in self._users:
                raise KeyError(user_id)
            self._members[group_id].add(user_id)

    def members(self, group_id: str) -> set[str]:
        with self.lock:
            return set(self._members[group_id])

    def membership_writes(self) -> list[Call]:
        """Membership PUT/DELETE calls that were accepted (not faulted, refused or rejected)."""
        with self.lock:
            return list(self._writes)

    # -- faults ---------------------------------------------------------------------------------
    def rate_limit(self, times: int = 1, path: str = ".*", reset_in: int = 1) -> None:
        """Answer the next `times` matching calls with Okta's 429, resetting in `reset_in` s."""
        def too_many(_call: Call) -> Reply:
            now = int(time.time())
            reply = OktaError(429, "E0000047").reply()
            reply.headers.update({"Date": formatdate(now, usegmt=True),
                                  "X-Rate-Limit-Limit": str(RATE_LIMIT),
                                  "X-Rate-Limit-Remaining": "0",
                                  "X-Rate-Limit-Reset": str(now + reset_in)})
            return reply
        self.inject(too_many, path=path, times=times)

    def fail(self, status: int = 500, times: int = 1, path: str = ".*", method: str = ".*") -> None:
        self.inject(lambda _call: OktaError.for_status(status).reply(),
                    path=path, method=method, times=times)

    # -- HTTP -------------------------------------------------------------------------------------
    def dispatch(self, call: Call) -> Reply:
        # Added here rather than in route() so injected faults carry the headers too.
        reply = super().dispatch(call)
        for name, value in self._standard_headers().items():
            reply.headers.setdefault(name, value)
        return reply

    def route(self, call: Call) -> Reply:
        with self.lock:
            try:
                self._authorize(call)
                handler, params = self._resolve(call)
                return handler(call, **params)
            except OktaError as error:
                return error.reply()

    def _standard_headers(self) -> dict[str, str]:
        now = int(time.time())
        window = now - now % 60
        with self.lock:
            if window != self._rate_window:
                self._rate_window, self._rate_used = window, 0
            self._rate_used += 1
            remaining = max(RATE_LIMIT - self._rate_used, 0)
        return {"Date": formatdate(now, usegmt=True), "X-Rate-Limit-Limit": str(RATE_LIMIT),
                "X-Rate-Limit-Remaining": str(remaining), "X-Rate-Limit-Reset": str(window + 60)}

    def _authorize(self, call: Call) -> None:
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        tier = self.tokens.get(token) if scheme == "SSWS" else None
        if tier is None:
            raise OktaError(401, "E0000011")
        if call.method != "GET" and tier != "super_admin":
            raise OktaError(403, "E0000006")

    def _resolve(self, call: Call) -> tuple[Callable[..., Reply], dict[str, str]]:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(call.path)
            if match:
                if call.method not in handlers:
                    raise OktaError(405, "E0000022")
                return handlers[call.method], {k: unquote(v) for k, v in match.groupdict().items()}
        raise OktaError(404, "E0000008")

    # -- endpoints ----------------------------------------------------------------------------
    def _get_org(self, call: Call) -> Reply:
        return self._json({**self._org, "_links": {"self": {"href": f"{self.url}/api/v1/org"}}})

    def _list_users(self, call: Call) -> Reply:
        users = self._users_matching(call)
        return self._page(call, [self._user_json(u) for u in users], default_limit=200)

    def _get_user(self, call: Call, uid: str) -> Reply:
        return self._json(self._user_json(self._user(uid, by_login=True)))

    def _list_user_groups(self, call: Call, uid: str) -> Reply:
        user = self._user(uid, by_login=True)
        groups = [g for gid, g in self._groups.items() if user["id"] in self._members[gid]]
        return self._page(call, [self._group_json(g) for g in groups], default_limit=200)

    def _list_groups(self, call: Call) -> Reply:
        if call.arg("search") is not None or call.arg("filter") is not None:
            raise OktaError(400, "E0000031", causes=("the sandbox supports only q and expand",))
        prefix = (call.arg("q") or "").lower()
        groups = [g for g in self._groups.values()
                  if g["profile"]["name"].lower().startswith(prefix)]
        stats = call.arg("expand") == "stats"
        return self._page(call, [self._group_json(g, stats) for g in groups],
                          default_limit=MAX_LIMIT)

    def _get_group(self, call: Call, gid: str) -> Reply:
        return self._json(self._group_json(self._group(gid), call.arg("expand") == "stats"))

    def _list_group_users(self, call: Call, gid: str) -> Reply:
        members = sorted(self._members[self._group(gid)["id"]])
        return self._page(call, [self._user_json(self._users[uid]) for uid in members],
                          default_limit=1000)

    def _put_member(self, call: Call, gid: str, uid: str) -> Reply:
        group = self._modifiable_group(gid, uid)
        if uid not in self._members[gid]:
            self._members[gid].add(uid)
            group["lastMembershipUpdated"] = _iso(time.time())
        self._writes.append(call)
        return Reply(204)

    def _delete_member(self, call: Call, gid: str, uid: str) -> Reply:
        group = self._modifiable_group(gid, uid)
        if uid in self._members[gid]:  # removing a non-member is a 204 too, as in Okta
            self._members[gid].discard(uid)
            group["lastMembershipUpdated"] = _iso(time.time())
        self._writes.append(call)
        return Reply(204)

    # -- helpers --------------------------------------------------------------------------------
    def _users_matching(self, call: Call) -> list[dict]:
        expression = call.arg("search") or call.arg("filter")
        if expression is None:  # Okta hides deprovisioned users from a plain listing
            return [u for u in self._users.values() if u["status"] != "DEPROVISIONED"]
        if expression == "status pr" and call.arg("search") is not None:
            return list(self._users.values())
        match = _EMAIL_EQ.fullmatch(expression)
        if not match:
            raise OktaError(400, "E0000031", causes=(f"unsupported expression: {expression}",))
        email = re.sub(r"\\(.)", r"\1", match.group(1)).lower()
        return [u for u in self._users.values() if (u["profile"]["email"] or "").lower() == email]

    def _user(self, key: str, by_login: bool = False) -> dict:
        if key in self._users:
            return self._users[key]
        if by_login:
            for user in self._users.values():
                if user["profile"]["login"].lower() == key.lower():
                    return user
        raise _not_found(key, "User")

    def _group(self, gid: str) -> dict:
        if gid not in self._groups:
            raise _not_found(gid, "UserGroup")
        return self._groups[gid]

    def _modifiable_group(self, gid: str, uid: str) -> dict:
        group = self._group(gid)
        self._user(uid)
        if group["type"] != "OKTA_GROUP":
            raise OktaError(400, "E0000001", "Api validation failed: group membership", causes=(
                f"Membership of a group of type {group['type']} cannot be modified; "
                "only OKTA_GROUP memberships can be changed through the API.",))
        return group

    def _page(self, call: Call, items: list[dict], default_limit: int) -> Reply:
        """One page of `items` (already in stable id order) with Okta's `Link` header."""
        requested = self._limit(call, default_limit)
        size = min(requested, MAX_LIMIT, self.page_size)
        after = call.arg("after")
        rest = [item for item in items if after is None or item["id"] > after]
        page = rest[:size]
        links = [f'<{self._link(call)}>; rel="self"']
        if len(rest) > size:
            links.append(f'<{self._link(call, requested, page[-1]["id"])}>; rel="next"')
        # Real Okta sends one Link header per rel; Reply holds one value per name, so join them
        # with a comma, which RFC 8288 defines as the same thing.
        return self._json(page, {"Link": ", ".join(links)})

    @staticmethod
    def _limit(call: Call, default: int) -> int:
        raw = call.arg("limit")
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < 1:
            raise OktaError(400, "E0000001", causes=(f"limit: '{raw}' is not a positive integer",))
        return int(raw)

    def _link(self, call: Call, limit: int | None = None, after: str | None = None) -> str:
        """The self link (as asked) or the next link (limit + after, then the original filters)."""
        if after is None:
            query = [(k, v) for k, values in call.query.items() for v in values]
        else:
            kept = [(k, call.arg(k)) for k in ("search", "filter", "q", "expand")
                    if call.arg(k) is not None]
            query = [("limit", str(limit)), ("after", after), *kept]
        return f"{self.url}{call.path}" + (f"?{urlencode(query)}" if query else "")

    def _user_json(self, user: dict) -> dict:
        return {**user, "_links": {"self": {"href": f"{self.url}/api/v1/users/{user['id']}"}}}

    def _group_json(self, group: dict, stats: bool = False) -> dict:
        base = f"{self.url}/api/v1/groups/{group['id']}"
        body = {**group, "_links": {"users": {"href": f"{base}/users"},
                                    "apps": {"href": f"{base}/apps"}}}
        if stats:
            body["_embedded"] = {"stats": {"usersCount": len(self._members[group["id"]]),
                                           "appsCount": 0}}
        return body

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return _okta_id(prefix, self._serial)

    @staticmethod
    def _json(payload, headers: dict[str, str] | None = None) -> Reply:
        return Reply.json(200, payload, headers)

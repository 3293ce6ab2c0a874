"""A stateful local stand-in for the Celigo integrator.io API (`/v1`), served over real HTTP.

It answers the calls Latchkey's Celigo connector makes the way Celigo documents them
(developer.celigo.com): Bearer auth, JSON arrays paged by an
RFC 5988 `Link` header (`?skip=&limit=`, rel="next" and rel="prev"), the error envelope
`{"errors": [{"code", "message", "field"}]}`, `PUT /v1/ashares/{id}` that REPLACES the record
(writable fields the body omits are erased; read-only ones are Celigo's and stay) and answers 204,
404 for an unknown id, 422 for a bad access level, 429 with `Retry-After` in seconds.
`page_size` caps every page so tests see many pages with a handful of objects.

Token tiers (`tokens` maps a token to one):
- `admin`: a Full access token of an owner or administrator (`tokenInfo` scope "*"): everything.
- `read_only`: a token that reads users and integrations but may not change users (403 on PUT).
- `no_users`: a token that reads integrations only (403 on every `/v1/ashares` call).
Celigo documents 403 for "token lacks administrator"; which reads a Custom-scoped token may make,
its `tokenInfo` scope value ("custom" here) and the envelope `code` values other than
`invalid_field` and `rate_limited` are inferred.
"""

from __future__ import annotations

import copy
import hashlib
import re
import time
from collections.abc import Callable
from urllib.parse import unquote

from sandbox.server import Call, Reply, SandboxServer

TIERS = {"admin": {"read_users", "write_users", "read_integrations"},
         "read_only": {"read_users", "read_integrations"},
         "no_users": {"read_integrations"}}
LEVELS = ("administrator", "manage", "monitor")
INTEGRATION_LEVELS = ("manage", "monitor")
MAX_LIMIT = 1000  # Celigo's largest (and default) page

# Fields Celigo sets itself (readOnly in celigo/ai managing-users response.yml): a PUT keeps them.
READ_ONLY_FIELDS = frozenset({"_id", "accepted", "dismissed", "lastSignIn", "isProductionAdmin",
                              "createdVia", "sharedWithUser", "createdAt", "lastModified"})

_MESSAGES = {
    400: ("bad_request", "The request is malformed."),
    401: ("unauthorized", "Invalid or missing API token."),
    403: ("forbidden", "The API token does not have permission to perform this action."),
    404: ("not_found", "Object not found."),
    405: ("method_not_allowed", "Method not allowed."),
    422: ("invalid_field", "Validation failed."),
    429: ("rate_limited", "Too many requests."),
}


class CeligoError(Exception):
    """A Celigo error answer, raised anywhere in a handler and turned into a Reply by `route`."""

    def __init__(self, status: int, message: str | None = None, field: str | None = None,
                 code: str | None = None) -> None:
        default_code, default_message = _MESSAGES.get(
            status, ("server_error", "Internal server error."))
        super().__init__(code or default_code)
        self.status, self.code, self.field = status, code or default_code, field
        self.message = message or default_message

    def reply(self, headers: dict[str, str] | None = None) -> Reply:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return Reply.json(self.status, {"errors": [error]}, headers)


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(epoch))


class CeligoSandbox(SandboxServer):
    """Celigo account shares (users) and integrations behind the integrator.io API."""

    def __init__(self, page_size: int = 3, tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        self.tokens = dict(tokens or {"celigo-admin-token": "admin"})
        if unknown := set(self.tokens.values()) - set(TIERS):
            raise ValueError(f"unknown token tier(s) {sorted(unknown)}; use one of {list(TIERS)}")
        self._shares: dict[str, dict] = {}
        self._integrations: dict[str, dict] = {}
        self._writes: list[Call] = []
        self._serial = 0
        # (path, {method: (handler, right needed)}); tokenInfo needs only a valid token.
        self._routes = [
            (re.compile(r"/v1/tokenInfo"), {"GET": (self._token_info, None)}),
            (re.compile(r"/v1/ashares"), {"GET": (self._list_shares, "read_users")}),
            (re.compile(r"/v1/ashares/(?P<sid>[^/]+)"),
             {"GET": (self._get_share, "read_users"), "PUT": (self._put_share, "write_users")}),
            (re.compile(r"/v1/integrations"),
             {"GET": (self._list_integrations, "read_integrations")}),
        ]

    # -- seeding and inspection (for tests) ---------------------------------------------------
    def add_share(self, email: str, name: str = "", access_level: str | None = "monitor", *,
                  accepted: bool = True, disabled: bool = False, **settings) -> str:
        """A user of the account; `access_level` None makes an integration-only user.
        `settings` sets or adds writable fields, e.g. accountMFARequired=True."""
        if access_level is not None and access_level not in LEVELS:
            raise ValueError(f"unknown access level {access_level!r}")
        with self.lock:
            share_id, user_id, now = self._next_id(), self._next_id(), _iso(time.time())
            share = {"_id": share_id, "integrationAccessLevel": [], "accepted": accepted,
                     "dismissed": False, "disabled": disabled, "accountMFARequired": False,
                     "accountSSORequired": False, "allowToEditRetryData": False,
                     "allowAccessToAPIM": False, "createdAt": now, "lastModified": now,
                     "sharedWithUser": {"_id": user_id, "email": email, "name": name,
                                        "allowedToResetMFA": False,
                                        "accountSSOLinked": "not_linked"},
                     **settings}
            if access_level is not None:
                share["accessLevel"] = access_level
            self._shares[share_id] = share
            return share_id

    def add_integration(self, name: str, description: str = "",
                        access: dict[str, str] | None = None) -> str:
        """An integration; `access` maps share ids to their per-integration level."""
        with self.lock:
            integration_id, now = self._next_id(), _iso(time.time())
            self._integrations[integration_id] = {
                "_id": integration_id, "name": name, "description": description,
                "createdAt": now, "lastModified": now}
            for share_id, level in (access or {}).items():
                if level not in INTEGRATION_LEVELS:
                    raise ValueError(f"unknown integration access level {level!r}")
                self._shares[share_id]["integrationAccessLevel"].append(
                    {"_integrationId": integration_id, "accessLevel": level})
            return integration_id

    def share(self, share_id: str) -> dict:
        """The stored record, as GET /v1/ashares/{id} would return it (a copy)."""
        with self.lock:
            return copy.deepcopy(self._shares[share_id])

    def share_writes(self) -> list[Call]:
        """Share PUTs that were accepted (not faulted, refused or rejected)."""
        with self.lock:
            return list(self._writes)

    # -- faults ---------------------------------------------------------------------------------
    def rate_limit(self, times: int = 1, path: str = ".*", retry_after: int = 1) -> None:
        """Answer the next `times` matching calls with Celigo's 429 and `Retry-After`."""
        message = f"Too many requests. Retry after {retry_after} seconds."
        self.inject(lambda _call: CeligoError(429, message).reply(
            {"Retry-After": str(retry_after)}), path=path, times=times)

    def fail(self, status: int = 500, times: int = 1, path: str = ".*", method: str = ".*") -> None:
        self.inject(lambda _call: CeligoError(status).reply(), path=path, method=method,
                    times=times)

    # -- HTTP -------------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        with self.lock:
            try:
                tier = self._tier(call)
                handler, right, params = self._resolve(call)
                if right is not None and right not in TIERS[tier]:
                    raise CeligoError(403)
                return handler(call, **params)
            except CeligoError as error:
                return error.reply()

    def _tier(self, call: Call) -> str:
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        tier = self.tokens.get(token) if scheme == "Bearer" else None
        if tier is None:
            raise CeligoError(401)
        return tier

    def _resolve(self, call: Call) -> tuple[Callable[..., Reply], str | None, dict[str, str]]:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(call.path)
            if match:
                if call.method not in handlers:
                    raise CeligoError(405)
                handler, right = handlers[call.method]
                return handler, right, {k: unquote(v) for k, v in match.groupdict().items()}
        raise CeligoError(404, "Resource not found.")

    # -- endpoints ----------------------------------------------------------------------------
    def _token_info(self, call: Call) -> Reply:
        token = call.headers["authorization"].partition(" ")[2]
        user_id = hashlib.sha1(token.encode()).hexdigest()[:24]
        scope = "*" if self.tokens[token] == "admin" else "custom"
        return Reply.json(200, {"_userId": user_id, "scope": scope})

    def _list_shares(self, call: Call) -> Reply:
        return self._page(call, list(self._shares.values()))

    def _get_share(self, call: Call, sid: str) -> Reply:
        return Reply.json(200, self._share(sid))

    def _put_share(self, call: Call, sid: str) -> Reply:
        old = self._share(sid)
        body = self._body(call)
        self._validate(body)
        kept = {key: value for key, value in old.items() if key in READ_ONLY_FIELDS}
        given = {key: value for key, value in body.items()
                 if key not in READ_ONLY_FIELDS and value is not None}
        # Replacement, not a merge: what the body leaves out is gone (integrationAccessLevel is
        # always present in Celigo's answers, so it comes back empty rather than missing).
        self._shares[sid] = {**kept, "integrationAccessLevel": [], **given,
                             "lastModified": _iso(time.time())}
        self._writes.append(call)
        return Reply(204)

    def _list_integrations(self, call: Call) -> Reply:
        return self._page(call, list(self._integrations.values()))

    # -- helpers --------------------------------------------------------------------------------
    def _share(self, sid: str) -> dict:
        if sid not in self._shares:
            raise CeligoError(404)
        return self._shares[sid]

    @staticmethod
    def _body(call: Call) -> dict:
        try:
            body = call.json()
        except ValueError:
            raise CeligoError(400, "Malformed JSON.", code="invalid_json") from None
        if not isinstance(body, dict):
            raise CeligoError(400, "The body must be a JSON object.", code="invalid_json")
        return body

    def _validate(self, body: dict) -> None:
        level = body.get("accessLevel")
        if level is not None and level not in LEVELS:
            raise CeligoError(422, f"accessLevel must be one of {', '.join(LEVELS)}",
                              "accessLevel")
        entries = body.get("integrationAccessLevel") or []
        valid = isinstance(entries, list) and all(
            isinstance(e, dict) and e.get("_integrationId") in self._integrations
            and e.get("accessLevel") in INTEGRATION_LEVELS for e in entries)
        if not valid:
            raise CeligoError(422, "integrationAccessLevel entries need a known _integrationId "
                                   "and accessLevel manage or monitor", "integrationAccessLevel")

    def _page(self, call: Call, items: list[dict]) -> Reply:
        """One page of `items` (in creation order) with Celigo's `Link` header."""
        skip, limit = self._number(call, "skip", 0, 0), self._number(call, "limit", MAX_LIMIT, 1)
        size = min(limit, MAX_LIMIT, self.page_size)
        links = []
        if skip + size < len(items):
            links.append(f'<{self.url}{call.path}?skip={skip + size}&limit={limit}>; rel="next"')
        if skip > 0:
            links.append(f'<{self.url}{call.path}?skip={max(skip - size, 0)}&limit={limit}>; '
                         'rel="prev"')
        # One Link header holding both rels, comma-separated, as in Celigo's documented example.
        headers = {"Link": ", ".join(links)} if links else None
        return Reply.json(200, items[skip:skip + size], headers)

    @staticmethod
    def _number(call: Call, name: str, default: int, minimum: int) -> int:
        raw = call.arg(name)
        if raw is None:
            return default
        if not raw.isdigit() or int(raw) < minimum:
            raise CeligoError(400, f"{name} must be an integer of at least {minimum}",
                              name, code="invalid_query_params")
        return int(raw)

    def _next_id(self) -> str:
        """A 24-hex-digit ObjectId-looking id that sorts in creation order."""
        self._serial += 1
        return f"65f0{self._serial:020x}"

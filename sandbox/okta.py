"""A stateful local stand-in for the Okta Management API (`/api/v1`), served over real HTTP.

It answers the calls Latchkey's Okta connector makes the way Okta documents them
(https://developer.okta.com/docs/api/): `SSWS` token auth, Okta's error body, `X-Rate-Limit-*` and `Date` on every response,
`Link` pagination with an opaque `after` cursor (`page_size` caps every page, so a handful of
objects makes many pages), DEPROVISIONED users hidden unless `search`/`filter` is given, and
membership changes only for OKTA_GROUP groups.  Faults come from `rate_limit()` and `fail()`.

Apps: Okta keeps ONE assignment per app and user.  Assigning a group to an app makes its members
app users of scope GROUP; a direct assignment (scope USER) wins while it exists.  Deleting an app
user whom an assigned group still covers is refused with 403 E0000046 (as real Okta does, per
terraform-provider-okta's notes); `POST /apps/{a}/users/{u} {"scope": "GROUP"|"USER"}` converts
between the two (as Okta's Workflows template "Convert Application Assignment Scope" does).

Admin roles: users and groups hold role assignments (a user's list shows both, with
assignmentType USER or GROUP); a duplicate direct assignment answers E0000090 (409: status not
verified); `/groups/{id}/roles` is never paged (no `rel="next"`).

OAuth 2.0 for service apps (`add_service_app`), with private_key_jwt and DPoP, is
sandbox/okta_oauth.py: each resource call's token must hold the endpoint's scope (as Okta's
Management API reference names it per endpoint), and the app's admin roles decide the rest; an
app without an admin role is shown no users (200, an empty list) and refused everything else.
`ssws_enabled = False` turns API tokens off, to prove a deployment uses OAuth alone.

MFA factors and Okta Verify pushes (`/users/{id}/factors…`) are sandbox/okta_factors.py.

The System Log (`/api/v1/logs`, sandbox/okta_log.py) records an event for every change made
through the API (membership, app assignment, admin role; a group's members gaining or losing an
app it is assigned to) and for every change `console` makes as an admin would in the Admin
Console (sandbox/okta_console.py).  The seeding helpers below set up the org as it stood before
the test, and record nothing.

Token tiers (Okta's standard admin roles), each token owned by an admin service account that `/users/me`
returns and that no listing shows (so seeded counts stay exact):
  super_admin      SUPER_ADMIN: everything;
  group_app_admin  READ_ONLY_ADMIN + APP_ADMIN + USER_ADMIN: reads and group/app writes, but no
                   admin-role reads or writes (403 E0000006);
  read_only        a custom role with okta.iam.read (+ users/groups/apps read): every read,
                   no write.
"""

from __future__ import annotations

import hashlib
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate
from urllib.parse import unquote, urlencode

from sandbox.okta_console import OktaConsole
from sandbox.okta_factors import OktaFactors
from sandbox.okta_log import (
    SYSTEM_ACTOR,
    SystemLog,
    app_target,
    app_user_target,
    client_actor,
    group_target,
    role_target,
    user_target,
)
from sandbox.okta_oauth import TOKEN_PATH, AccessToken, AuthorizationServer, Refused, ServiceApp
from sandbox.server import Call, Reply, SandboxServer

USER_STATUSES = ("ACTIVE", "DEPROVISIONED", "LOCKED_OUT", "PASSWORD_EXPIRED", "PROVISIONED",
                 "RECOVERY", "STAGED", "SUSPENDED")
GROUP_TYPES = ("OKTA_GROUP", "APP_GROUP", "BUILT_IN")
APP_STATUSES = ("ACTIVE", "INACTIVE")
SIGN_ON_MODES = ("AUTO_LOGIN", "BASIC_AUTH", "BOOKMARK", "BROWSER_PLUGIN", "OPENID_CONNECT",
                 "SAML_1_1", "SAML_2_0", "SECURE_PASSWORD_STORE", "WS_FEDERATION")
STANDARD_ROLES = {
    "API_ACCESS_MANAGEMENT_ADMIN": "API Access Management Administrator",
    "APP_ADMIN": "Application Administrator",
    "GROUP_MEMBERSHIP_ADMIN": "Group Membership Administrator",
    "HELP_DESK_ADMIN": "Help Desk Administrator",
    "MOBILE_ADMIN": "Mobile Administrator",
    "ORG_ADMIN": "Organization Administrator",
    "READ_ONLY_ADMIN": "Read-Only Administrator",
    "REPORT_ADMIN": "Report Administrator",
    "SUPER_ADMIN": "Super Administrator",
    "USER_ADMIN": "Group Administrator",
}
# tier → (rights, the owner's standard roles, the owner's custom-role permissions)
READ_ONLY_PERMISSIONS = ("okta.iam.read", "okta.users.read", "okta.groups.read", "okta.apps.read")
TIERS = {
    "super_admin": ({"read", "write", "role_read", "role_write"}, ("SUPER_ADMIN",), ()),
    "group_app_admin": ({"read", "write"}, ("READ_ONLY_ADMIN", "APP_ADMIN", "USER_ADMIN"), ()),
    "read_only": ({"read", "role_read"}, (), READ_ONLY_PERMISSIONS),
}

OAUTH_SCOPES = ("okta.users.read", "okta.users.manage", "okta.groups.read", "okta.groups.manage",
                "okta.apps.read", "okta.apps.manage", "okta.roles.read", "okta.roles.manage",
                "okta.logs.read", "okta.orgs.read")

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
    "E0000046": "Deactivate application for user forbidden.",
    "E0000047": "API call exceeded rate limit due to too many requests.",
    "E0000090": "Duplicate role assignment exception.",
}
_CODE_FOR_STATUS = {400: "E0000001", 401: "E0000011", 403: "E0000006", 404: "E0000007",
                    405: "E0000022", 429: "E0000047"}

# The only user queries the connector sends; anything else is refused rather than ignored, so
# a client relying on an unsupported expression fails here instead of in production.
_EMAIL_EQ = re.compile(r'profile\.email eq "((?:[^"\\]|\\.)*)"')
_APP_STATUS_EQ = re.compile(r'status eq "(ACTIVE|INACTIVE)"')


class OktaError(Exception):
    """An Okta error answer, raised anywhere in a handler and turned into a Reply by `route`."""

    def __init__(self, status: int, code: str, summary: str | None = None,
                 causes: tuple[str, ...] = ()) -> None:
        super().__init__(code)
        self.status, self.code, self.causes = status, code, causes
        self.summary = summary or _SUMMARIES[code]

    @classmethod
    def for_status(cls, status: int) -> OktaError:
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


@dataclass(frozen=True)
class _Caller:
    """Who a call comes from: an API token's admin (`owner`), or a service app's `token`."""

    rights: frozenset[str]
    owner: str | None = None
    token: AccessToken | None = None

    def may(self, right: str, params: dict[str, str]) -> bool:
        own_roles = right == "role_read" and self.token is not None and \
            params.get("cid") == self.token.client_id  # a service app may read its own roles
        return right in self.rights or own_roles


def _not_found(object_id: str, kind: str) -> OktaError:
    return OktaError(404, "E0000007", f"Not found: Resource not found: {object_id} ({kind})")


def _invalid(cause: str) -> OktaError:
    return OktaError(400, "E0000001", causes=(cause,))


def _iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


def _okta_id(prefix: str, serial: int) -> str:
    """A 20-char Okta-looking id that sorts in creation order (the `after` cursor relies on it)."""
    tail = hashlib.sha1(f"{prefix}{serial}".encode()).hexdigest()[:11]
    return f"{prefix}{serial:06d}{tail}"


class OktaSandbox(SandboxServer):
    """Okta users, groups, apps, admin roles and their assignments behind the Management API."""

    def __init__(self, page_size: int = 3, tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        self.page_size = page_size
        self.tokens = dict(tokens or {"okta-test-token": "super_admin"})
        self.ssws_enabled = True
        self.oauth = AuthorizationServer()
        self.system_log = SystemLog()
        self.console = OktaConsole(self)
        self.factors = OktaFactors(self._user, lambda: self.url, self._next_id)  # MFA: sandbox/okta_factors.py
        self._actor = SYSTEM_ACTOR  # who the call being answered comes from, for the log
        if unknown := set(self.tokens.values()) - set(TIERS):
            raise ValueError(f"unknown token tier(s) {sorted(unknown)}; use one of {list(TIERS)}")
        self._serial = 0
        self._users: dict[str, dict] = {}
        self._groups: dict[str, dict] = {}
        self._members: dict[str, set[str]] = {}
        self._apps: dict[str, dict] = {}
        self._app_groups: dict[str, dict[str, dict]] = {}  # app → group → assignment
        self._direct: dict[str, dict[str, dict]] = {}  # app → user → scope USER record
        self._derived: dict[str, dict[str, dict]] = {}  # app → user → scope GROUP record
        self._user_roles: dict[str, list[dict]] = {}
        self._group_roles: dict[str, list[dict]] = {}
        self._custom_roles: dict[str, dict] = {}
        self._admins: dict[str, dict] = {}  # token owners: reachable by id, never listed
        self._owner_of: dict[str, str] = {}  # token → owner id
        self._accepted: dict[str, list[Call]] = {"membership": [], "app": [], "role": []}
        self._sessions: dict[str, int] = {}  # user → sessions open (an identity provider session each)
        self._user_tokens: dict[str, int] = {}  # user → OAuth tokens issued to them
        self._rate_window, self._rate_used = 0, 0
        self._org = {"id": _okta_id("00o", 0), "companyName": "Latchkey Sandbox",
                     "subdomain": "sandbox", "status": "ACTIVE", "created": _iso()}
        for token, tier in self.tokens.items():
            self._owner_of[token] = self._add_admin(tier)
        self._routes = self._route_table()

    # -- seeding and inspection (for tests) ---------------------------------------------------
    def add_user(self, email: str, first: str = "", last: str = "", status: str = "ACTIVE") -> str:
        if status not in USER_STATUSES:
            raise ValueError(f"unknown user status {status!r}")
        with self.lock:
            if any(u["profile"]["login"].lower() == email.lower()
                   for u in [*self._users.values(), *self._admins.values()]):
                raise ValueError(f"login {email!r} already exists")  # Okta logins are unique
            user = self._new_user(email, first, last, status)
            self._users[user["id"]] = user
            return user["id"]

    def set_manager(self, user_id: str, manager_id: str | None) -> None:
        """Name a user's manager in their profile as Okta's base profile holds it: `managerId`,
        the manager's user id, and `manager`, their display name (unset: both absent).  As an
        admin's edit in Okta, it is logged (`user.account.update_profile`)."""
        with self.lock:
            profile = self._user(user_id)["profile"]
            profile.pop("managerId", None)
            profile.pop("manager", None)
            if manager_id is not None:
                manager = self._user(manager_id)["profile"]
                profile["managerId"] = manager_id
                profile["manager"] = manager["displayName"] or manager["login"]
            self._user(user_id)["lastUpdated"] = _iso()
            self.system_log.record("user.account.update_profile", SYSTEM_ACTOR, [user_target(self._user(user_id))])

    def add_group(self, name: str, type: str = "OKTA_GROUP", description: str = "") -> str:
        if type not in GROUP_TYPES:
            raise ValueError(f"unknown group type {type!r}")
        with self.lock:
            group_id, now = self._next_id("00g"), _iso()
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

    def sign_in(self, user_id: str, tokens: int = 0) -> None:
        """The user opens a session (as signing in to Okta does), and is issued `tokens` OAuth tokens."""
        with self.lock:
            self._user(user_id)
            self._sessions[user_id] = self._sessions.get(user_id, 0) + 1
            self._user_tokens[user_id] = self._user_tokens.get(user_id, 0) + tokens

    def signed_in(self, user_id: str) -> tuple[int, int]:
        """(sessions, OAuth tokens) the user holds now."""
        with self.lock:
            return self._sessions.get(user_id, 0), self._user_tokens.get(user_id, 0)

    def add_app(self, label: str, status: str = "ACTIVE", sign_on_mode: str = "SAML_2_0") -> str:
        if status not in APP_STATUSES or sign_on_mode not in SIGN_ON_MODES:
            raise ValueError(f"unknown app status {status!r} or sign-on mode {sign_on_mode!r}")
        with self.lock:
            app_id, now = self._next_id("0oa"), _iso()
            name = re.sub(r"\W+", "", label.lower()) or "app"
            self._apps[app_id] = {
                "id": app_id, "name": name, "label": label, "status": status,
                "signOnMode": sign_on_mode, "created": now, "lastUpdated": now,
                "features": [], "accessibility": {"selfService": False},
                "visibility": {"autoSubmitToolbar": False, "hide": {"iOS": False, "web": False}},
            }
            self._app_groups[app_id], self._direct[app_id], self._derived[app_id] = {}, {}, {}
            return app_id

    def assign_app_user(self, app_id: str, user_id: str, scope: str = "USER") -> None:
        """Seed an assignment: USER makes it direct; GROUP turns a direct one back to the group
        that covers the user (there must be one: GROUP-scope users come from groups)."""
        with self.lock:
            self._app(app_id)
            self._set_scope(app_id, self._user(user_id)["id"], scope)

    def assign_app_group(self, app_id: str, group_id: str) -> None:
        """Assign a group to an app: its members become app users of scope GROUP."""
        with self.lock:
            self._assign_group(self._app(app_id)["id"], self._group(group_id)["id"], {})

    def assign_role(self, user_id: str, role_type: str) -> str:
        """Give a user a standard admin role directly; returns the assignment id."""
        if role_type not in STANDARD_ROLES:
            raise ValueError(f"unknown standard role type {role_type!r}")
        with self.lock:
            return self._assign_role(self._user(user_id)["id"], role_type)["id"]

    def assign_group_role(self, group_id: str, role_type: str) -> str:
        if role_type not in STANDARD_ROLES:
            raise ValueError(f"unknown standard role type {role_type!r}")
        with self.lock:
            self._group(group_id)
            assignment = self._role_json(role_type, "GROUP", f"/api/v1/groups/{group_id}")
            self._group_roles.setdefault(group_id, []).append(assignment)
            return assignment["id"]

    def add_service_app(self, public_keys: dict[str, dict], scopes=OAUTH_SCOPES,
                        roles=("SUPER_ADMIN",), require_dpop: bool = True) -> str:
        """An API Services app with these public keys (kid → JWK), granted `scopes` and holding
        the standard admin `roles` (none: Okta shows it no users); returns its client id."""
        with self.lock:
            client_id = self._next_id("0oa")
            app = ServiceApp(client_id, dict(public_keys), set(scopes), require_dpop=require_dpop)
            app.roles = [self._role_json(t, "CLIENT", f"/oauth2/v1/clients/{client_id}")
                         for t in roles]
            self.oauth.apps[client_id] = app
            return client_id

    def add_app_key(self, client_id: str, key_id: str, public_jwk: dict) -> None:
        with self.lock:
            self.oauth.apps[client_id].public_keys[key_id] = dict(public_jwk)

    def remove_app_key(self, client_id: str, key_id: str) -> None:
        with self.lock:
            del self.oauth.apps[client_id].public_keys[key_id]

    def members(self, group_id: str) -> set[str]:
        with self.lock:
            return set(self._members[group_id])

    def app_users(self, app_id: str) -> dict[str, str]:
        """user id → scope (USER or GROUP) of everyone assigned to the app."""
        with self.lock:
            return {uid: scope for uid, (scope, _, _) in self._app_users(app_id).items()}

    def user_roles(self, user_id: str) -> set[tuple[str, str]]:
        """(role type, assignmentType) pairs the user holds, directly or through groups."""
        with self.lock:
            return {(r["type"], r["assignmentType"]) for r in self._roles_of(user_id)}

    def token_owner(self, token: str) -> str:
        return self._owner_of[token]

    def membership_writes(self) -> list[Call]:
        """Membership PUT/DELETE calls that were accepted (not faulted, refused or rejected)."""
        with self.lock:
            return list(self._accepted["membership"])

    def app_writes(self) -> list[Call]:
        """Accepted app-assignment writes (users and groups)."""
        with self.lock:
            return list(self._accepted["app"])

    def role_writes(self) -> list[Call]:
        """Accepted admin-role POST/DELETE calls."""
        with self.lock:
            return list(self._accepted["role"])

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

    def echo_credentials(self, status: int = 403, times: int = 1, path: str = ".*",
                         method: str = ".*") -> None:
        """Refuse the next `times` matching calls with Okta's error body whose cause quotes the
        request's Authorization header back: what a proxy or gateway in front of Okta that
        rejects a request, or a misbehaving API, may answer."""
        def echo(call: Call) -> Reply:
            error = OktaError.for_status(status)
            error.causes = (f"proxy rejected request (Authorization: {call.headers.get('authorization')})",)
            return error.reply()
        self.inject(echo, path=path, method=method, times=times)

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
                if call.path == TOKEN_PATH:
                    if call.method != "POST":
                        raise OktaError(405, "E0000022")
                    return self.oauth.token(call, self.url)
                caller = self._caller(call)
                self._actor = self._actor_of(caller)
                handler, right, scope, params = self._resolve(call)
                if caller.token is not None:
                    self.oauth.require_scope(call, self.url, caller.token, scope)
                if not caller.may(right, params):
                    if not caller.rights and call.path == "/api/v1/users":
                        return self._page(call, [], default_limit=200)  # no admin role: no users
                    raise OktaError(403, "E0000006")
                if params.get("uid") == "me":
                    if caller.owner is None:  # a service app is no user
                        raise _not_found("me", "User")
                    params["uid"] = caller.owner
                return handler(call, **params)
            except OktaError as error:
                return error.reply()
            except Refused as refused:
                return refused.reply

    def _route_table(self) -> list[tuple[re.Pattern, dict[str, tuple[Callable[..., Reply], str, str]]]]:
        """path → {method: (handler, the right the caller needs: read, write, role_read or
        role_write, and the OAuth scope a service app's token needs, per Okta's reference)}."""
        u, g, a = (r"/api/v1/users/(?P<uid>[^/]+)", r"/api/v1/groups/(?P<gid>[^/]+)",
                   r"/api/v1/apps/(?P<aid>[^/]+)")
        users, groups, apps, roles = ("okta.users.read", "okta.groups.read", "okta.apps.read",
                                      "okta.roles.read")
        manage_groups, manage_apps, manage_roles = ("okta.groups.manage", "okta.apps.manage",
                                                    "okta.roles.manage")
        routes = [
            (r"/api/v1/org", {"GET": (self._get_org, "read", "okta.orgs.read")}),
            (r"/api/v1/users", {"GET": (self._list_users, "read", users)}),
            (u, {"GET": (self._get_user, "read", users)}),
            (u + "/groups", {"GET": (self._list_user_groups, "read", users)}),
            (u + "/sessions", {"DELETE": (self._delete_sessions, "write", "okta.users.manage")}),
            (u + "/factors", {"GET": (self.factors.list_factors, "read", users)}),
            (u + r"/factors/(?P<fid>[^/]+)/verify", {"POST": (self.factors.verify, "write", "okta.users.manage")}),
            (u + r"/factors/(?P<fid>[^/]+)/transactions/(?P<tid>[^/]+)",
             {"GET": (self.factors.transaction, "read", users)}),
            (u + "/roles", {"GET": (self._list_user_roles, "role_read", roles),
                            "POST": (self._post_user_role, "role_write", manage_roles)}),
            (u + r"/roles/(?P<rid>[^/]+)", {
                "GET": (self._get_user_role, "role_read", roles),
                "DELETE": (self._delete_user_role, "role_write", manage_roles)}),
            (r"/api/v1/groups", {"GET": (self._list_groups, "read", groups)}),
            (g, {"GET": (self._get_group, "read", groups)}),
            (g + "/users", {"GET": (self._list_group_users, "read", groups)}),
            (g + r"/users/(?P<uid>[^/]+)", {"PUT": (self._put_member, "write", manage_groups),
                                            "DELETE": (self._delete_member, "write", manage_groups)}),
            (g + "/roles", {"GET": (self._list_group_roles, "role_read", roles)}),
            (r"/api/v1/apps", {"GET": (self._list_apps, "read", apps)}),
            (a, {"GET": (self._get_app, "read", apps)}),
            (a + "/users", {"GET": (self._list_app_users, "read", apps),
                            "POST": (self._post_app_user, "write", manage_apps)}),
            (a + r"/users/(?P<uid>[^/]+)", {
                "GET": (self._get_app_user, "read", apps),
                "POST": (self._update_app_user, "write", manage_apps),
                "DELETE": (self._delete_app_user, "write", manage_apps)}),
            (a + "/groups", {"GET": (self._list_app_groups, "read", apps)}),
            (a + r"/groups/(?P<gid>[^/]+)", {
                "GET": (self._get_app_group, "read", apps),
                "PUT": (self._put_app_group, "write", manage_apps),
                "DELETE": (self._delete_app_group, "write", manage_apps)}),
            (r"/api/v1/iam/assignees/users", {"GET": (self._list_role_assignees, "role_read", roles)}),
            (r"/api/v1/iam/roles/(?P<role>[^/]+)/permissions",
             {"GET": (self._list_role_permissions, "role_read", roles)}),
            (r"/oauth2/v1/clients/(?P<cid>[^/]+)/roles",
             {"GET": (self._list_client_roles, "role_read", roles)}),
            (r"/api/v1/logs", {"GET": (self._list_logs, "read", "okta.logs.read")}),
        ]
        return [(re.compile(path), handlers) for path, handlers in routes]

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

    def _actor_of(self, caller: _Caller) -> dict:
        """Who the System Log says acted: the token's admin, or the service app."""
        if caller.token is not None:
            return client_actor(caller.token.client_id)
        return user_target(self._user(caller.owner)) if caller.owner else SYSTEM_ACTOR

    def _caller(self, call: Call) -> _Caller:
        token = self.oauth.bearer(call, self.url)
        if token is not None:
            return _Caller(frozenset(self.oauth.apps[token.client_id].rights()), token=token)
        scheme, _, value = call.headers.get("authorization", "").partition(" ")
        if scheme != "SSWS" or value not in self.tokens or not self.ssws_enabled:
            raise OktaError(401, "E0000011")
        return _Caller(frozenset(TIERS[self.tokens[value]][0]), owner=self._owner_of[value])

    def _resolve(self, call: Call) -> tuple[Callable[..., Reply], str, str, dict[str, str]]:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(call.path)
            if match:
                if call.method not in handlers:
                    raise OktaError(405, "E0000022")
                handler, right, scope = handlers[call.method]
                return handler, right, scope, {k: unquote(v) for k, v in match.groupdict().items()}
        raise OktaError(404, "E0000008")

    # -- endpoints: org, users, groups ----------------------------------------------------------
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
        self._modifiable_group(gid, uid)
        self._set_membership(gid, uid, True, self._actor)
        self._accepted["membership"].append(call)
        return Reply(204)

    def _delete_member(self, call: Call, gid: str, uid: str) -> Reply:
        self._modifiable_group(gid, uid)
        self._set_membership(gid, uid, False, self._actor)  # a non-member: 204 too, as in Okta
        self._accepted["membership"].append(call)
        return Reply(204)

    def _delete_sessions(self, call: Call, uid: str) -> Reply:
        """Revoke all user sessions: `oauthTokens` (default false) also revokes their OAuth tokens."""
        user = self._user(uid)
        revoke_tokens = call.arg("oauthTokens")
        if revoke_tokens not in (None, "true", "false"):
            raise _invalid("oauthTokens: must be true or false")
        self._sessions.pop(user["id"], None)
        if revoke_tokens == "true":
            self._user_tokens.pop(user["id"], None)
        return Reply(204)

    def _set_membership(self, gid: str, uid: str, member: bool, actor: dict) -> None:
        """Add or remove a member, logging it and the apps the user gains or loses through it."""
        if (uid in self._members[gid]) == member:
            return
        apps = self._apps_through(gid, uid)
        (self._members[gid].add if member else self._members[gid].discard)(uid)
        self._groups[gid]["lastMembershipUpdated"] = _iso()
        self.system_log.record(f"group.user_membership.{'add' if member else 'remove'}", actor,
                               [user_target(self._user(uid)), group_target(self._groups[gid])])
        for aid in sorted(apps ^ self._apps_through(gid, uid)):
            self._log_assignment(aid, uid, aid not in apps, SYSTEM_ACTOR)

    def _apps_through(self, gid: str, uid: str) -> set[str]:
        """Apps assigned to the group that the user is an app user of (in any scope)."""
        return {aid for aid, groups in self._app_groups.items()
                if gid in groups and uid in self._app_users(aid)}

    def _log_assignment(self, aid: str, uid: str, added: bool, actor: dict) -> None:
        app, user = self._apps[aid], self._user(uid)
        self.system_log.record(f"application.user_membership.{'add' if added else 'remove'}",
                               actor, [app_user_target(app, user), app_target(app), user_target(user)])

    def _log_role(self, uid: str, role_type: str, granted: bool, actor: dict) -> None:
        label = STANDARD_ROLES.get(role_type, role_type)
        self.system_log.record(f"user.account.privilege.{'grant' if granted else 'revoke'}", actor,
                               [user_target(self._user(uid)), role_target(role_type, label)],
                               debug={"privilegeGranted" if granted else "privilegeRevoked": label})

    def _list_logs(self, call: Call) -> Reply:
        return self.system_log.answer(call, self.url)

    # -- endpoints: apps ------------------------------------------------------------------------
    def _list_apps(self, call: Call) -> Reply:
        expression = call.arg("filter")
        match = _APP_STATUS_EQ.fullmatch(expression) if expression is not None else None
        if expression is not None and not match:
            raise OktaError(400, "E0000031", causes=(f"unsupported filter: {expression}",))
        apps = [self._app_json(app) for app in self._apps.values()
                if match is None or app["status"] == match.group(1)]
        return self._page(call, apps, default_limit=MAX_LIMIT, max_limit=200)

    def _get_app(self, call: Call, aid: str) -> Reply:
        return self._json(self._app_json(self._app(aid)))

    def _list_app_users(self, call: Call, aid: str) -> Reply:
        users = self._app_users(self._app(aid)["id"])
        body = [self._app_user_json(aid, uid, *users[uid]) for uid in sorted(users)]
        return self._page(call, body, default_limit=50, max_limit=500)

    def _get_app_user(self, call: Call, aid: str, uid: str) -> Reply:
        return self._json(self._app_user_reply(aid, uid))

    def _post_app_user(self, call: Call, aid: str) -> Reply:
        """Assign a user (`{"id", "scope": "USER", "credentials"}`); an existing assignment is
        made direct and its credentials updated (inferred: the spec shows only the create)."""
        body = self._body(call)
        self._app(aid)
        uid = self._user(str(body.get("id") or ""))["id"]
        if body.get("scope", "USER") != "USER":
            raise _invalid("scope: an assignment created for a user must have scope USER")
        assigned = uid in self._app_users(aid)
        self._set_scope(aid, uid, "USER", body.get("credentials"))
        if not assigned:
            self._log_assignment(aid, uid, True, self._actor)
        self._accepted["app"].append(call)
        return self._json(self._app_user_reply(aid, uid))

    def _update_app_user(self, call: Call, aid: str, uid: str) -> Reply:
        """Update an app user; `scope` converts USER ⇄ GROUP (GROUP needs a covering group)."""
        body = self._body(call)
        self._app(aid)
        uid = self._user(uid)["id"]
        if "scope" in body:
            self._set_scope(aid, uid, body["scope"], body.get("credentials"))
        elif uid not in self._app_users(aid):
            raise _not_found(uid, "AppUser")
        self._accepted["app"].append(call)
        return self._json(self._app_user_reply(aid, uid))

    def _delete_app_user(self, call: Call, aid: str, uid: str) -> Reply:
        users = self._app_users(self._app(aid)["id"])
        if uid not in users:
            raise _not_found(uid, "AppUser")
        if users[uid][2] is not None:  # a group assigned to the app still covers the user
            cause = ("The application cannot be unassigned from the user while their group "
                     "memberships grant them access")
            raise OktaError(403, "E0000046", causes=(cause,))
        del self._direct[aid][uid]
        self._log_assignment(aid, uid, False, self._actor)
        self._accepted["app"].append(call)
        return Reply(204)

    def _list_app_groups(self, call: Call, aid: str) -> Reply:
        assigned = self._app_groups[self._app(aid)["id"]]
        body = [self._app_group_json(aid, assigned[gid]) for gid in sorted(assigned)]
        return self._page(call, body, default_limit=20, max_limit=200)

    def _get_app_group(self, call: Call, aid: str, gid: str) -> Reply:
        assigned = self._app_groups[self._app(aid)["id"]]
        if gid not in assigned:
            raise _not_found(gid, "ApplicationGroupAssignment")
        return self._json(self._app_group_json(aid, assigned[gid]))

    def _put_app_group(self, call: Call, aid: str, gid: str) -> Reply:
        body = self._body(call) if call.body else {}
        before = set(self._app_users(self._app(aid)["id"]))
        assignment = self._assign_group(aid, self._group(gid)["id"], body)
        self._log_app_users(aid, before)
        self._accepted["app"].append(call)
        return self._json(self._app_group_json(aid, assignment))

    def _delete_app_group(self, call: Call, aid: str, gid: str) -> Reply:
        before = set(self._app_users(self._app(aid)["id"]))
        if self._app_groups[aid].pop(gid, None) is None:
            raise _not_found(gid, "ApplicationGroupAssignment")
        self._log_app_users(aid, before)
        self._accepted["app"].append(call)
        return Reply(204)

    def _log_app_users(self, aid: str, before: set[str]) -> None:
        """Log the users who became, or stopped being, app users since `before`."""
        after = set(self._app_users(aid))
        for uid in sorted(before ^ after):
            self._log_assignment(aid, uid, uid in after, SYSTEM_ACTOR)

    # -- endpoints: admin roles -----------------------------------------------------------------
    def _list_user_roles(self, call: Call, uid: str) -> Reply:
        roles = self._roles_of(self._user(uid)["id"])
        return self._json([self._role_out(role) for role in roles])  # not paged, as in Okta

    def _get_user_role(self, call: Call, uid: str, rid: str) -> Reply:
        for role in self._roles_of(self._user(uid)["id"]):
            if role["id"] == rid:
                return self._json(self._role_out(role))
        raise _not_found(rid, "RoleAssignment")

    def _post_user_role(self, call: Call, uid: str) -> Reply:
        role_type = self._body(call).get("type")
        assignment = self._assign_role(self._user(uid)["id"], role_type)
        self._log_role(uid, role_type, True, self._actor)
        self._accepted["role"].append(call)
        return Reply.json(201, self._role_out(assignment))

    def _delete_user_role(self, call: Call, uid: str, rid: str) -> Reply:
        direct = self._user_roles.get(self._user(uid)["id"], [])
        if not any(role["id"] == rid for role in direct):
            raise _not_found(rid, "RoleAssignment")
        [removed] = [role for role in direct if role["id"] == rid]
        self._user_roles[uid] = [role for role in direct if role["id"] != rid]
        self._log_role(uid, removed["type"], False, self._actor)
        self._accepted["role"].append(call)
        return Reply(204)

    def _list_group_roles(self, call: Call, gid: str) -> Reply:
        # Okta answers this whole and without rel="next"; baton-okta would loop on one.
        roles = self._group_roles.get(self._group(gid)["id"], [])
        return self._json([self._role_out(role) for role in roles])

    def _list_client_roles(self, call: Call, cid: str) -> Reply:
        app = self.oauth.apps.get(cid)
        if app is None:
            raise _not_found(cid, "Client")
        return self._json([self._role_out(role) for role in app.roles])  # not paged, as in Okta

    def _list_role_assignees(self, call: Call) -> Reply:
        holders = sorted(uid for uid in self._users if self._roles_of(uid))
        items = [{"id": uid, "orn": f"orn:okta:directory:{self._org['id']}:users:{uid}",
                  "_links": {"self": {"href": f"{self.url}/api/v1/users/{uid}"}}}
                 for uid in holders]
        page, links, next_url = self._slice(call, items, default_limit=100, max_limit=MAX_LIMIT)
        body = {"value": page, "_links": {"next": {"href": next_url}} if next_url else {}}
        return self._json(body, {"Link": links})

    def _list_role_permissions(self, call: Call, role: str) -> Reply:
        custom = self._custom_roles.get(role) or next(
            (r for r in self._custom_roles.values() if r["label"] == role), None)
        if custom is None:
            raise _not_found(role, "CustomRole")
        base = f"{self.url}/api/v1/iam/roles/{custom['id']}/permissions"
        return self._json({"permissions": [
            {"label": label, "created": custom["created"], "lastUpdated": custom["created"],
             "_links": {"self": {"href": f"{base}/{label}"}}} for label in custom["permissions"]],
            "_links": {"self": {"href": base}}})

    # -- app and role state ---------------------------------------------------------------------
    def _app_users(self, aid: str) -> dict[str, tuple[str, dict, str | None]]:
        """user → (scope, record, covering group id or None), derived from the app's direct
        assignments and the members of its groups; a direct assignment wins."""
        covering: dict[str, str] = {}
        for gid in self._app_groups[aid]:
            for uid in self._members[gid]:
                covering.setdefault(uid, gid)
        derived = self._derived[aid]
        for uid in [uid for uid in derived if uid not in covering or uid in self._direct[aid]]:
            del derived[uid]  # left the group, or made direct: the GROUP record is gone
        found = {uid: ("USER", record, covering.get(uid))
                 for uid, record in self._direct[aid].items()}
        for uid, gid in covering.items():
            if uid not in found:
                found[uid] = ("GROUP", derived.setdefault(uid, self._app_user_record()), gid)
        return found

    def _set_scope(self, aid: str, uid: str, scope: str, credentials: dict | None = None) -> None:
        current = self._app_users(aid).get(uid)
        if scope == "USER":
            record = current[1] if current else self._app_user_record()
            self._direct[aid][uid] = record
        elif scope == "GROUP":
            if current is None or current[2] is None:
                raise _invalid(f"scope: user {uid} is not a member of a group assigned to this "
                               "app, so the assignment cannot be given scope GROUP")
            record = self._direct[aid].pop(uid, current[1])
            self._derived[aid][uid] = record
        else:
            raise _invalid(f"scope: '{scope}' is not USER or GROUP")
        record["lastUpdated"] = record["statusChanged"] = _iso()
        if credentials:
            record["credentials"] = dict(credentials)

    def _assign_group(self, aid: str, gid: str, body: dict) -> dict:
        assigned = self._app_groups[aid]
        assignment = assigned.setdefault(gid, {"id": gid, "priority": len(assigned), "profile": {}})
        if "priority" in body:
            assignment["priority"] = body["priority"]
        if "profile" in body:
            assignment["profile"] = body["profile"]
        assignment["lastUpdated"] = _iso()
        return assignment

    def _assign_role(self, uid: str, role_type) -> dict:
        if role_type not in STANDARD_ROLES:
            raise _invalid(f"type: '{role_type}' is not a standard role type this sandbox knows")
        direct = self._user_roles.setdefault(uid, [])
        if any(role["type"] == role_type for role in direct):
            cause = f"The role {role_type} is already assigned to the user"
            raise OktaError(409, "E0000090", causes=(cause,))
        assignment = self._role_json(role_type, "USER", f"/api/v1/users/{uid}")
        direct.append(assignment)
        return assignment

    def _role_out(self, role: dict) -> dict:
        """A stored role assignment as Okta shows it (the server's URL is known only once up)."""
        body = {k: v for k, v in role.items() if k != "_assignee"}
        return body | {"_links": {"assignee": {"href": f"{self.url}{role['_assignee']}"}}}

    def _roles_of(self, uid: str) -> list[dict]:
        via_groups = [role for gid, roles in self._group_roles.items()
                      if uid in self._members.get(gid, ()) for role in roles]
        return [*self._user_roles.get(uid, []), *via_groups]

    def _role_json(self, role_type: str, assignment_type: str, assignee: str,
                   custom: dict | None = None) -> dict:
        now = _iso()
        self._serial += 1
        role_id = hashlib.sha1(f"ra{self._serial}".encode()).hexdigest().upper()[:20]
        body = {"id": "ra" + role_id, "label": custom["label"] if custom else
                STANDARD_ROLES[role_type], "type": role_type, "status": "ACTIVE", "created": now,
                "lastUpdated": now, "assignmentType": assignment_type, "_assignee": assignee}
        if custom:
            body |= {"role": custom["id"], "resource-set": "iamLatchkeySandboxAll"}
        return body

    def _add_admin(self, tier: str) -> str:
        """The admin service account behind a token, holding the tier's admin roles."""
        user = self._new_user(f"latchkey-{tier}-{len(self._admins) + 1}@sandbox.invalid",
                              "Latchkey", tier, "ACTIVE")
        self._admins[user["id"]] = user
        _, standard, permissions = TIERS[tier]
        self._user_roles[user["id"]] = [self._role_json(t, "USER", f"/api/v1/users/{user['id']}")
                                        for t in standard]
        if permissions:
            custom = {"id": self._next_id("cr0"), "label": "Latchkey read-only",
                      "permissions": list(permissions), "created": _iso()}
            self._custom_roles[custom["id"]] = custom
            self._user_roles[user["id"]].append(self._role_json(
                "CUSTOM", "USER", f"/api/v1/users/{user['id']}", custom))
        return user["id"]

    # -- lookups --------------------------------------------------------------------------------
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
        for users in (self._users, self._admins):
            if key in users:
                return users[key]
        if by_login:
            for user in [*self._users.values(), *self._admins.values()]:
                if user["profile"]["login"].lower() == key.lower():
                    return user
        raise _not_found(key, "User")

    def _group(self, gid: str) -> dict:
        if gid not in self._groups:
            raise _not_found(gid, "UserGroup")
        return self._groups[gid]

    def _app(self, aid: str) -> dict:
        if aid not in self._apps:
            raise _not_found(aid, "Application")
        return self._apps[aid]

    def _modifiable_group(self, gid: str, uid: str) -> dict:
        group = self._group(gid)
        self._user(uid)
        if group["type"] != "OKTA_GROUP":
            cause = (f"Membership of a group of type {group['type']} cannot be modified; "
                     "only OKTA_GROUP memberships can be changed through the API.")
            raise OktaError(400, "E0000001", "Api validation failed: group membership",
                            causes=(cause,))
        return group

    @staticmethod
    def _body(call: Call) -> dict:
        try:
            body = call.json()
        except ValueError:
            raise _invalid("the request body is not valid JSON") from None
        if not isinstance(body, dict):
            raise _invalid("the request body must be a JSON object")
        return body

    # -- pages and JSON -------------------------------------------------------------------------
    def _page(self, call: Call, items: list[dict], default_limit: int,
              max_limit: int = MAX_LIMIT) -> Reply:
        page, links, _ = self._slice(call, items, default_limit, max_limit)
        return self._json(page, {"Link": links})

    def _slice(self, call: Call, items: list[dict], default_limit: int,
               max_limit: int) -> tuple[list[dict], str, str | None]:
        """One page of `items` (in stable id order), its `Link` header and its next URL."""
        requested = self._limit(call, default_limit)
        size = min(requested, max_limit, self.page_size)
        after = call.arg("after")
        rest = [item for item in items if after is None or item["id"] > after]
        page = rest[:size]
        links = [f'<{self._link(call)}>; rel="self"']
        next_url = self._link(call, requested, page[-1]["id"]) if len(rest) > size else None
        if next_url:
            links.append(f'<{next_url}>; rel="next"')
        # Real Okta sends one Link header per rel; Reply holds one value per name, so join them
        # with a comma, which RFC 8288 defines as the same thing.
        return page, ", ".join(links), next_url

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

    def _new_user(self, email: str, first: str, last: str, status: str) -> dict:
        user_id, now = self._next_id("00u"), _iso()
        return {
            "id": user_id, "status": status, "created": now,
            "activated": None if status == "STAGED" else now,
            "statusChanged": now, "lastLogin": None, "lastUpdated": now,
            "profile": {"login": email, "email": email, "firstName": first, "lastName": last,
                        "displayName": f"{first} {last}".strip() or None, "secondEmail": None},
        }

    def _user_json(self, user: dict) -> dict:
        return {**user, "_links": {"self": {"href": f"{self.url}/api/v1/users/{user['id']}"}}}

    def _group_json(self, group: dict, stats: bool = False) -> dict:
        base = f"{self.url}/api/v1/groups/{group['id']}"
        body = {**group, "_links": {"users": {"href": f"{base}/users"},
                                    "apps": {"href": f"{base}/apps"}}}
        if stats:
            apps = sum(group["id"] in assigned for assigned in self._app_groups.values())
            body["_embedded"] = {"stats": {"usersCount": len(self._members[group["id"]]),
                                           "appsCount": apps}}
        return body

    def _app_json(self, app: dict) -> dict:
        base = f"{self.url}/api/v1/apps/{app['id']}"
        return {**app, "_links": {"users": {"href": f"{base}/users"},
                                  "groups": {"href": f"{base}/groups"}}}

    @staticmethod
    def _app_user_record() -> dict:
        now = _iso()
        return {"created": now, "lastUpdated": now, "statusChanged": now, "credentials": None}

    def _app_user_reply(self, aid: str, uid: str) -> dict:
        users = self._app_users(self._app(aid)["id"])
        if uid not in users:
            raise _not_found(uid, "AppUser")
        return self._app_user_json(aid, uid, *users[uid])

    def _app_user_json(self, aid: str, uid: str, scope: str, record: dict,
                       gid: str | None) -> dict:
        login = self._user(uid)["profile"]["login"]
        links = {"app": {"href": f"{self.url}/api/v1/apps/{aid}"},
                 "user": {"href": f"{self.url}/api/v1/users/{uid}"}}
        if scope == "GROUP":
            links["group"] = {"name": self._groups[gid]["profile"]["name"],
                              "href": f"{self.url}/api/v1/groups/{gid}"}
        return {"id": uid, "externalId": None, "created": record["created"],
                "lastUpdated": record["lastUpdated"], "statusChanged": record["statusChanged"],
                "passwordChanged": None, "scope": scope, "status": "ACTIVE",
                "syncState": "DISABLED",
                "credentials": record["credentials"] or {"userName": login}, "profile": {},
                "_links": links}

    def _app_group_json(self, aid: str, assignment: dict) -> dict:
        gid = assignment["id"]
        return {**assignment, "_links": {"app": {"href": f"{self.url}/api/v1/apps/{aid}"},
                                         "group": {"href": f"{self.url}/api/v1/groups/{gid}"}}}

    def _next_id(self, prefix: str) -> str:
        self._serial += 1
        return _okta_id(prefix, self._serial)

    @staticmethod
    def _json(payload, headers: dict[str, str] | None = None) -> Reply:
        return Reply.json(200, payload, headers)

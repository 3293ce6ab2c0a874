"""What an Okta service app (OAuth) can sync and provision, found out without writing anything.

A service app needs two things, and Okta checks both on every call: the SCOPE of the endpoint in
its access token (granted to the app in its "Okta API Scopes" tab; an asked-for scope the app
was not granted is silently left out of the token, and its endpoints answer 403
insufficient_scope), and an ADMIN ROLE that allows the action.  An app with no admin role gets
a token all the same, and Okta answers `GET /api/v1/users` with 200 and an EMPTY list: a sync
would look like an empty org, so the probe treats "no users" as the missing role it means.

The probe, beside the sync and provisioning rows every connector reports:

1. `oauth access token`: a token is fetched (a refused key is the reason of every other row);
2. `oauth scopes`: the scopes granted (from the token answer) and those asked for but missing;
3. `oauth admin role`: the app's own roles (`GET /oauth2/v1/clients/{clientId}/roles`, which
   needs okta.roles.read); none, or no users to see, is a problem;
4. each sync subject: its scope, then a one-item read of its list; users must not be empty;
5. each provisioning subject: its `.manage` scope, then the app's roles (as for an admin's
   token: capabilities.py).

Errors other than refusals (Okta down, rate limited after retries) are raised, as everywhere.
"""

from __future__ import annotations

from connectors.base import Capability, PermissionDeniedError
from connectors.capabilities import refusal
from connectors.okta.capabilities import (
    APPS,
    GROUPS,
    PROVISIONING,
    ROLES,
    SYNC_READS,
    SYSTEM_LOG,
    WITHOUT_LOG,
    held_roles,
    provisioning_by_roles,
)
from connectors.okta.client import OktaClient
from connectors.okta.oauth import OktaOAuth

SYNC_SCOPES = {"users": "okta.users.read", "groups and their members": "okta.groups.read",
               "apps and their assignments": "okta.apps.read",
               "admin role assignments": "okta.roles.read", SYSTEM_LOG: "okta.logs.read"}
PROVISION_SCOPES = {GROUPS: "okta.groups.manage", APPS: "okta.apps.manage",
                    ROLES: "okta.roles.manage"}
# What Latchkey reads to sync, what it changes, then the log that keeps it current in between.
DEFAULT_SCOPES = (*[s for s in SYNC_SCOPES.values() if s != "okta.logs.read"],
                  *PROVISION_SCOPES.values(), "okta.logs.read")
TOKEN, SCOPES, ROLE = "access token", "scopes", "admin role"
SEE_ROLE = "see `oauth admin role` for the role to assign"
NO_USERS = ("the app sees no users: it probably has no admin role (Okta shows a service app "
            "without one an empty list, not an error)")


def role_remedy(client_id: str) -> str:
    """How to give the app `client_id` an admin role, as a reason's last words."""
    return (f"assign one to the app in Okta (Security → Administrators → Add administrator, or "
            f"POST /oauth2/v1/clients/{client_id}/roles): Super Administrator for everything, or "
            "Read-Only Administrator to sync with Group Membership and Application "
            "Administrator to grant")


def probe(client: OktaClient, oauth: OktaOAuth) -> list[Capability]:
    try:
        token = oauth.token()
    except PermissionDeniedError as refused:
        reason = f"no access token: {refused}"
        return [Capability("oauth", TOKEN, False, str(refused))] + [
            Capability(action, subject, False, reason)
            for action, subjects in (("sync", SYNC_READS), ("provision", PROVISIONING))
            for subject in subjects]
    granted = set(token.scopes)
    kind = "DPoP-bound" if token.dpop_bound else "Bearer"
    found = [Capability("oauth", TOKEN, True, f"app {oauth.client_id}, key "
                                              f"{oauth.key_in_use.name}, {kind} token"),
             _scopes(oauth.scopes, token.scopes)]
    sync, users_seen = _sync(client, granted)
    roles = _roles(client, oauth.client_id, granted, users_seen)
    found.append(roles[0])
    return found + sync + _provisioning(client, granted, roles[1])


def _scopes(wanted: tuple[str, ...], granted: tuple[str, ...]) -> Capability:
    missing = [scope for scope in wanted if scope not in granted]
    shown = ", ".join(granted) or "none"
    if not missing:
        return Capability("oauth", SCOPES, True, f"granted: {shown}")
    return Capability("oauth", SCOPES, False, (
        f"asked for but not granted: {', '.join(missing)}; grant them to the app in its Okta "
        f"API Scopes tab (granted: {shown})"))


def _sync(client: OktaClient, granted: set[str]) -> tuple[list[Capability], bool]:
    """The sync rows, and whether the app sees any user."""
    found, users_seen = [], False
    for subject, path in SYNC_READS.items():
        scope = SYNC_SCOPES[subject]
        if scope not in granted:
            why = _lacks(scope) + (f"; {WITHOUT_LOG}" if subject == SYSTEM_LOG else "")
            found.append(Capability("sync", subject, False, why))
            continue
        page: list = []
        refused = refusal(lambda path=path, page=page:
                          page.append(client.transport.check_readable(path)))
        if refused is not None:
            found.append(Capability("sync", subject, False, f"Okta refused to list {subject} "
                                                            f"({refused}); {SEE_ROLE}"))
        elif subject == "users" and not page[0]:
            found.append(Capability("sync", subject, False, f"{NO_USERS}; {SEE_ROLE}"))
        else:
            users_seen = users_seen or subject == "users"
            found.append(Capability("sync", subject, True))
    return found, users_seen


def _roles(client: OktaClient, client_id: str, granted: set[str],
           users_seen: bool) -> tuple[Capability, list[dict] | None]:
    """The admin-role row, and the app's active roles (None when Okta would not show them)."""
    remedy = role_remedy(client_id)
    try:
        roles = [r for r in client.roles.list_client_roles(client_id) if r.get("status") != "INACTIVE"]
    except PermissionDeniedError as refused:
        if not users_seen:  # no users and no roles to show: no admin role at all
            return Capability("oauth", ROLE, False, f"{NO_USERS}; {remedy}"), []
        why = (_lacks("okta.roles.read") if "okta.roles.read" not in granted
               else f"Okta refused to show them ({refused})")
        return Capability("oauth", ROLE, True, f"not confirmed: {why}; the app sees users, so "
                                               "it holds one"), None
    if not roles:
        return Capability("oauth", ROLE, False, f"the app holds no admin role, so Okta shows it "
                                                f"no users and refuses the rest; {remedy}"), roles
    return Capability("oauth", ROLE, True, f"holds {held_roles(roles)}"), roles


def _provisioning(client: OktaClient, granted: set[str],
                  roles: list[dict] | None) -> list[Capability]:
    by_roles = {c.subject: c for c in provisioning_by_roles(
        client, roles or [], "the app", "assign the app one of them (Security → Administrators)")}
    found = []
    for subject, scope in PROVISION_SCOPES.items():
        if scope not in granted:
            found.append(Capability("provision", subject, False, _lacks(scope)))
        elif roles == []:
            found.append(Capability("provision", subject, False, f"the app holds no admin role; "
                                                                 f"{SEE_ROLE}"))
        elif roles is None:
            found.append(Capability("provision", subject, subject != ROLES, (
                "not confirmed: the app's admin roles could not be read, so this right cannot "
                "be checked without a write; a grant the app lacks fails with a permission error"
                if subject != ROLES else "assigning admin roles needs the Super Administrator "
                "role, which could not be confirmed: the app's admin roles could not be read")))
        else:
            found.append(by_roles[subject])
    return found


def _lacks(scope: str) -> str:
    return (f"the access token lacks {scope}: grant it to the app in its Okta API Scopes tab "
            "and list it in auth.scopes")

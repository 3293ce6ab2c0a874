"""What an Okta API token can sync and provision, found out without writing anything.

An API token carries the admin roles of the admin who created it.  The probe:

1. `GET /users/me`: the token's owner (a 401 here means the token itself is refused);
2. one-item reads of each list a sync walks (users, groups, apps, users with admin roles): a
   403 E0000006 there is exactly what a sync would hit;
3. the owner's own admin roles (`GET /users/{id}/roles`, and a custom role's permissions), from
   which the provisioning rights follow.  When Okta refuses even that read (a token without
   role-read rights, e.g. read-only + app admin + group admin), admin-role provisioning is
   certainly out (it needs a super admin, who can read roles) while group and app provisioning
   cannot be confirmed without a write: they are reported available, with that caveat as reason,
   and a grant the token lacks fails with PermissionDeniedError.

Errors other than refusals (Okta down, rate limited after retries) are raised, not reported, as
everywhere (connectors/capabilities.py).
"""

from __future__ import annotations

from connectors.base import Capability, PermissionDeniedError
from connectors.capabilities import refusal
from connectors.okta.client import OktaClient
from connectors.okta.roles import STANDARD_ROLES

SYNC_READS = {  # subject → the list a sync of it walks first
    "users": "/api/v1/users",
    "groups and their members": "/api/v1/groups",
    "apps and their assignments": "/api/v1/apps",
    "admin role assignments": "/api/v1/iam/assignees/users",
    "changes from the System Log": "/api/v1/logs",
}
GROUPS, APPS, ROLES = "group membership", "app assignment", "admin roles"
SYSTEM_LOG = "changes from the System Log"
WITHOUT_LOG = ("without it, changes made in Okta are seen at the next full sync only (or set "
               "log_poll_interval: 0)")
# Which standard roles (or custom-role permissions) let the token change each thing.
PROVISIONING = {
    GROUPS: ({"SUPER_ADMIN", "ORG_ADMIN", "USER_ADMIN", "GROUP_MEMBERSHIP_ADMIN"},
             "okta.groups.members.manage"),
    APPS: ({"SUPER_ADMIN", "ORG_ADMIN", "APP_ADMIN"}, "okta.apps.assignment.manage"),
    ROLES: ({"SUPER_ADMIN"}, None),  # only a super admin may assign admin roles
}
ROLE_READ_HINT = ("use a token created by a Super Administrator, or by an admin holding a custom "
                  "role with 'View roles, resources, and admin assignments' (okta.iam.read)")


def probe(client: OktaClient) -> list[Capability]:
    try:
        owner = client.get_current_user()
    except PermissionDeniedError as exc:
        reason = f"Okta refused the API token ({exc}); check the token and the Okta domain"
        return [Capability(action, subject, False, reason)
                for action, subjects in (("sync", SYNC_READS), ("provision", PROVISIONING))
                for subject in subjects]
    return _sync(client) + _provisioning(client, owner)


def _sync(client: OktaClient) -> list[Capability]:
    found = []
    for subject, path in SYNC_READS.items():
        refused = refusal(lambda path=path: client.transport.check_readable(path))
        if refused is None:
            found.append(Capability("sync", subject, True))
            continue
        hint = (ROLE_READ_HINT if subject == "admin role assignments"
                else "give the token's admin at least the Read-Only Administrator role")
        if subject == SYSTEM_LOG:
            hint += f"; {WITHOUT_LOG}"
        found.append(Capability("sync", subject, False, f"Okta refused to list {subject} "
                                                        f"({refused}); {hint}"))
    return found


def _permissions(client: OktaClient, role_id: str) -> list[str]:
    try:
        return client.roles.list_role_permissions(role_id)
    except PermissionDeniedError:  # unreadable: count none, so nothing is claimed on a guess
        return []


def _provisioning(client: OktaClient, owner: dict) -> list[Capability]:
    who = (owner.get("profile") or {}).get("login") or owner.get("id", "the token's admin")
    try:
        roles = [r for r in client.roles.list_user_roles(owner["id"]) if r.get("status") != "INACTIVE"]
    except PermissionDeniedError as exc:
        unknown = (f"not confirmed: Okta refused to show the admin roles of {who} ({exc}), so "
                   "this right cannot be checked without a write; a grant the token lacks fails "
                   "with a permission error")
        return [Capability("provision", GROUPS, True, unknown),
                Capability("provision", APPS, True, unknown),
                Capability("provision", ROLES, False, f"assigning admin roles needs a Super "
                           f"Administrator's token, and {who} cannot even read admin roles")]
    return provisioning_by_roles(client, roles, f"the token's admin {who}",
                                 f"assign one to {who}, or use a token created by an admin who "
                                 "has one")


def provisioning_by_roles(client: OktaClient, roles: list[dict], holder: str,
                          remedy: str) -> list[Capability]:
    """What `holder` (an admin, or a service app) may change, by the active admin roles it
    holds; `remedy` says how to give it a role it lacks."""
    types = {role.get("type") for role in roles}
    permissions = {permission for role in roles if role.get("type") == "CUSTOM" and role.get("role")
                   for permission in _permissions(client, role["role"])}
    found = []
    for subject, (standard, permission) in PROVISIONING.items():
        if types & standard or (permission and permission in permissions):
            found.append(Capability("provision", subject, True))
            continue
        needed = " or ".join(STANDARD_ROLES[t] for t in sorted(standard))
        custom = f", or a custom role with {permission}" if permission else ""
        found.append(Capability("provision", subject, False, (
            f"{holder} holds {held_roles(roles)}; changing {subject} needs {needed}{custom}: "
            f"{remedy}")))
    return found


def held_roles(roles: list[dict]) -> str:
    return ", ".join(sorted(role.get("label") or role.get("type", "?") for role in roles)) or "none"

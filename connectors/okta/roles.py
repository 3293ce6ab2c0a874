"""Okta's standard admin roles: one resource per role type (a static list, no API call), one
entitlement `assigned` (`role:<TYPE>:assigned`), granted to users only.

A user can hold a role type directly (assignmentType USER) and through a group (GROUP); Latchkey
grants and revokes only the direct assignment, so `prior().held` is True only when one exists,
and sync marks a role held only through a group `direct=False` (the catalog agrees with it).
Grant is `POST /users/{id}/roles {"type": TYPE}`; Okta's E0000090 (duplicate) means it is already
there.  Revoke deletes only the direct assignment of that type, found by listing the user's roles;
other roles, and the same role held through a group, stay.

Reading role assignments needs a super admin token or a custom role with okta.iam.read; with less,
Okta answers 403 E0000006 and sync raises PermissionDeniedError (never an empty list).
"""

from __future__ import annotations

from connectors.base import (
    ConnectorError,
    Entitlement,
    Grant,
    GrantOutcome,
    InvalidRequestError,
    NotFoundError,
    Page,
    Prior,
    Resource,
    ResourceType,
    RevokeOutcome,
    entitlement_id,
)
from connectors.okta.client import OktaClient
from connectors.okta.transport import okta_code
from connectors.routing import HeldBefore, require_slug

# baton-okta's list (role.go); USER_ADMIN is what Okta's console calls "Group Administrator".
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
DUPLICATE_ROLE = "E0000090"


class Roles(HeldBefore):
    resource_type = ResourceType("role", "Okta admin role")
    SLUG = "assigned"

    def __init__(self, client: OktaClient) -> None:
        self._client = client

    def list(self, cursor: str | None) -> Page[Resource]:
        return Page([Resource(type="role", id=role_type, name=label,
                              description=f"Okta standard admin role {role_type}")
                     for role_type, label in STANDARD_ROLES.items()])

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(
            id=entitlement_id("role", resource.id, self.SLUG),
            resource=resource,
            slug=self.SLUG,
            display_name=resource.name,
            description=f"Holds the Okta admin role {resource.name} ({resource.id})",
        )]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        """Holders of this role type (directly, or only through a group) among one page of
        Okta's users-with-roles list; each needs its own roles read, as Okta has no per-type
        listing."""
        assignees, next_cursor = self._client.roles.list_role_assignees(after=cursor)
        granted = entitlement_id("role", resource.id, self.SLUG)
        grants = []
        for user in assignees:
            held = [role for role in self._client.roles.list_user_roles(user["id"])
                    if role.get("type") == resource.id and role.get("status", "ACTIVE") == "ACTIVE"]
            if held:
                grants.append(Grant(granted, user["id"],
                                    direct=any(_direct(role, resource.id) for role in held)))
        return Page(grants, next_cursor)

    def held_by(self, user_id: str) -> dict[str, bool]:
        """The standard role types the user holds now, each with whether directly (else only
        through a group); none for a user that is gone."""
        try:
            roles = self._client.roles.list_user_roles(user_id)
        except NotFoundError:
            return {}
        held: dict[str, bool] = {}
        for role in roles:
            if role.get("type") in STANDARD_ROLES and role.get("status", "ACTIVE") == "ACTIVE":
                held[role["type"]] = held.get(role["type"], False) or _direct(role, role["type"])
        return held

    def has_grant(self, role_type: str, slug: str, account_id: str) -> bool:
        return self._direct_assignment(role_type, slug, account_id) is not None

    def grant(self, role_type: str, slug: str, account_id: str) -> GrantOutcome:
        self._check(role_type, slug)
        try:
            self._client.roles.assign_role(account_id, role_type)
        except ConnectorError as error:
            if okta_code(error) == DUPLICATE_ROLE:
                return GrantOutcome.ALREADY_GRANTED
            raise
        return GrantOutcome.GRANTED

    def revoke(self, role_type: str, slug: str, account_id: str, prior: Prior) -> RevokeOutcome:
        assignment = self._direct_assignment(role_type, slug, account_id)
        if assignment is None:
            return RevokeOutcome.ALREADY_REVOKED
        try:
            self._client.roles.remove_role(account_id, assignment["id"])
        except NotFoundError:
            self._client.get_user(account_id)  # raises if the user, not the assignment, is gone
            return RevokeOutcome.ALREADY_REVOKED
        return RevokeOutcome.REVOKED

    def _direct_assignment(self, role_type: str, slug: str, account_id: str) -> dict | None:
        self._check(role_type, slug)
        return next((role for role in self._client.roles.list_user_roles(account_id)
                     if _direct(role, role_type)), None)

    def _check(self, role_type: str, slug: str) -> None:
        require_slug("Okta roles", slug, (self.SLUG,))
        if role_type not in STANDARD_ROLES:
            raise InvalidRequestError(f"{role_type!r} is not one of Okta's standard admin role "
                                      f"types ({', '.join(STANDARD_ROLES)})")


def _direct(role: dict, role_type: str) -> bool:
    """An active assignment of `role_type` made to the user itself, not through a group."""
    return (role.get("type") == role_type and role.get("assignmentType") == "USER"
            and role.get("status", "ACTIVE") == "ACTIVE")

"""Segment's resource types, each with the `ResourceKind` shape of connectors/routing.py::

    workspace:<workspaceId>:member          in the workspace at all          sync only
    workspace:<workspaceId>:role:<roleId>   a role on the whole workspace    sync only
    group:<userGroupId>:member              member of a user group           provisionable
    source:<sourceId>:role:<roleId>         a Source role on one source      provisionable
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
from connectors.http import every_item
from connectors.routing import HeldBefore, SyncOnly
from connectors.segment.client import SegmentClient
from connectors.segment.permissions import (
    ROLE,
    Permissions,
    RoleCatalog,
    group_id_of,
    role_grants,
    wire_resource,
)

MEMBER = "member"


class Workspace(HeldBefore, SyncOnly):
    """The workspace the token belongs to: who is in it and who holds which role across it.
    Sync only: granting a workspace-wide role (Workspace Owner ...) is not offered."""

    resource_type = ResourceType("workspace", "Segment workspace")
    why = "Segment workspace access is sync only in Latchkey"

    def __init__(self, client: SegmentClient, roles: RoleCatalog, permissions: Permissions) -> None:
        self._client, self._roles, self._permissions = client, roles, permissions

    def list(self, cursor: str | None) -> Page[Resource]:
        workspace = self._client.get_workspace()
        name = workspace.get("name") or workspace["id"]
        return Page([Resource("workspace", workspace["id"], name,
                              attributes={"slug": workspace.get("slug") or ""})])

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        member = Entitlement(entitlement_id("workspace", resource.id, MEMBER), resource, MEMBER,
                             f"Member of {resource.name}", requestable=False, provisionable=False)
        return [member] + [
            Entitlement(entitlement_id("workspace", resource.id, ROLE, role_id), resource,
                        f"{ROLE}:{role_id}", f"{role['name']} on {resource.name}",
                        role.get("description") or "", requestable=False, provisionable=False)
            for role_id, role in self._roles.all().items()]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        found, next_cursor = self._permissions.scan(cursor)
        members = [Grant(entitlement_id("workspace", resource.id, MEMBER), principal)
                   for principal, _ in found if not group_id_of(principal)]
        roles = role_grants(found, "workspace", resource.id, self._roles.all())
        return Page(members + roles, next_cursor)

    def has_grant(self, workspace_id: str, slug: str, principal: str) -> bool:
        role_id = _role_of(slug)
        if role_id is None:
            try:
                return not group_id_of(principal) and bool(self._client.get_user(principal))
            except NotFoundError:
                return False
        return self._permissions.holds(principal, role_id,
                                       wire_resource("workspace", workspace_id))



class Groups(HeldBefore):
    """Segment user groups; the one entitlement is membership, changed by email."""

    resource_type = ResourceType("group", "Segment user group")

    def __init__(self, client: SegmentClient) -> None:
        self._client = client

    def list(self, cursor: str | None) -> Page[Resource]:
        groups, next_cursor = self._client.list_groups(cursor)
        return Page([Resource("group", g["id"], g.get("name") or g["id"],
                              attributes={"member_count": str(g.get("memberCount", ""))})
                     for g in groups], next_cursor)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(entitlement_id("group", resource.id, MEMBER), resource, MEMBER,
                            resource.name, f"Member of the Segment user group {resource.name}")]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        users, next_cursor = self._client.list_group_members(resource.id, cursor)
        granted = entitlement_id("group", resource.id, MEMBER)
        return Page([Grant(granted, user["id"]) for user in users], next_cursor)

    def has_grant(self, group_id: str, slug: str, user_id: str) -> bool:
        _require_member(_role_of(slug), user_id)
        # A user is in few groups: walking all of their pages is bounded and cheap.
        groups = every_item(lambda cursor: self._client.list_user_groups(user_id, cursor))
        return any(group["id"] == group_id for group in groups)

    def grant(self, group_id: str, slug: str, user_id: str) -> GrantOutcome:
        if self.has_grant(group_id, slug, user_id):
            return GrantOutcome.ALREADY_GRANTED
        self._client.add_group_members(group_id, [self._email(user_id)])
        return GrantOutcome.GRANTED

    def revoke(self, group_id: str, slug: str, user_id: str, prior: Prior) -> RevokeOutcome:
        if not self.has_grant(group_id, slug, user_id):
            return RevokeOutcome.ALREADY_REVOKED
        self._client.remove_group_members(group_id, [self._email(user_id)])
        return RevokeOutcome.REVOKED

    def _email(self, user_id: str) -> str:
        # Read from the user itself: Segment would invite any address it does not know.
        email = self._client.get_user(user_id).get("email")
        if not email:
            raise ConnectorError(f"Segment user {user_id} has no email to add or remove by")
        return email


class Sources(HeldBefore):
    """Sources, and the Source roles (Source Admin, Source Read-only) held on each one."""

    resource_type = ResourceType("source", "Segment source")

    def __init__(self, client: SegmentClient, roles: RoleCatalog, permissions: Permissions) -> None:
        self._client, self._roles, self._permissions = client, roles, permissions

    def list(self, cursor: str | None) -> Page[Resource]:
        sources, next_cursor = self._client.list_sources(cursor)
        return Page([Resource("source", s["id"], s.get("name") or s.get("slug") or s["id"],
                              attributes={"slug": s.get("slug") or ""})
                     for s in sources], next_cursor)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(entitlement_id("source", resource.id, ROLE, role_id), resource,
                            f"{ROLE}:{role_id}", f"{role['name']} on {resource.name}",
                            role.get("description") or "")
                for role_id, role in self._roles.for_sources().items()]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        found, next_cursor = self._permissions.scan(cursor)
        return Page(role_grants(found, "source", resource.id, self._roles.for_sources()),
                    next_cursor)

    def has_grant(self, source_id: str, slug: str, principal: str) -> bool:
        return self._permissions.holds(principal, _require_role(slug),
                                       wire_resource("source", source_id))

    def grant(self, source_id: str, slug: str, principal: str) -> GrantOutcome:
        role_id = _require_role(slug)
        if role_id not in self._roles.for_sources():
            raise InvalidRequestError(f"Segment role {role_id!r} is not a Source role")
        return self._permissions.add(principal, role_id, wire_resource("source", source_id))

    def revoke(self, source_id: str, slug: str, principal: str, prior: Prior) -> RevokeOutcome:
        # No role check here: a role renamed or deleted since the grant must not block revoking.
        return self._permissions.remove(principal, _require_role(slug),
                                        wire_resource("source", source_id))


def _role_of(slug: str) -> str | None:
    """`member` → None; `role:<roleId>` → the role id."""
    if slug == MEMBER:
        return None
    kind, _, role_id = slug.partition(":")
    if kind != ROLE or not role_id or ":" in role_id:  # Segment's ids are letters, digits and _
        raise InvalidRequestError(f"Segment entitlements end in :member or :role:<roleId>, "
                                  f"not {slug!r}")
    return role_id


def _require_role(slug: str) -> str:
    role_id = _role_of(slug)
    if role_id is None:
        raise InvalidRequestError("Segment sources have role entitlements only, not 'member'")
    return role_id


def _require_member(role_id: str | None, principal: str) -> None:
    if role_id is not None:
        raise InvalidRequestError("Segment user groups have only the 'member' entitlement")
    if group_id_of(principal):
        raise InvalidRequestError("a Segment user group cannot be a member of another group")

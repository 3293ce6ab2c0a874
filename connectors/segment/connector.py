"""Twilio Segment as a Latchkey connector: maps the Public API's wire JSON onto connectors/base.py.

Entitlement ids are Baton's `<resourceType>:<resourceId>:<slug>` (connectors.base.entitlement_id),
with a two-part slug for roles::

    workspace:<workspaceId>:member          in the workspace at all          sync only
    workspace:<workspaceId>:role:<roleId>   a role on the whole workspace    sync only
    group:<userGroupId>:member              member of a user group           provisionable
    source:<sourceId>:role:<roleId>         a Source role on one source      provisionable

Principals: an account id is a Segment user id.  A user group can hold roles too; it is named
`group:<userGroupId>` wherever a role grant or revoke takes an account id, and it appears so in
`list_grants`.  Group membership is for users only.

A role grant or revoke is read-modify-write of the principal's WHOLE permission list, because
Segment's PUT replaces it: read it, add or remove exactly one (roleId, resource) pair, and write
every other entry back as read (labels included).  So the same role on another resource, and all
other roles, stay as they were; that is what lets revoke undo the grant and nothing else.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator

from connectors.base import (
    Account,
    Capability,
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
from connectors.capabilities import denied, refusal
from connectors.routing import HeldBefore, ResourceKind, RoutedByType, SyncOnly
from connectors.segment.client import SegmentClient

MEMBER = "member"
ROLE = "role"
GROUP_PRINCIPAL = "group:"
CATALOG_TTL = 300.0  # seconds a role list or a permission scan is reused; roles rarely change
# The IAM-write probe removes an address that cannot exist (`.invalid` is a reserved TLD) from a
# real group, so it changes nothing; without permission Segment answers 403.  A real group, since
# a made-up one might be refused as missing before the permission is ever checked.
PROBE_EMAIL = "latchkey-capability-probe@latchkey.invalid"
PROBE_GROUP_ID = "latchkey-capability-probe"  # only when the workspace has no group at all

Principals = list[tuple[str, list[dict]]]  # (principal, its permissions), one API page of them


def group_principal(group_id: str) -> str:
    return f"{GROUP_PRINCIPAL}{group_id}"


class _Roles:
    """Segment's IAM roles, read through all pages and reused for `CATALOG_TTL` seconds."""

    def __init__(self, client: SegmentClient, clock: Callable[[], float], ttl: float) -> None:
        self._client, self._clock, self._ttl = client, clock, ttl
        self._roles: dict[str, dict] = {}
        self._read_at: float | None = None

    def all(self) -> dict[str, dict]:
        if self._read_at is None or self._clock() - self._read_at > self._ttl:
            self._roles = {role["id"]: role for role in _items(self._client.list_roles)}
            self._read_at = self._clock()
        return self._roles

    def for_sources(self) -> dict[str, dict]:
        # baton-segment's rule: a role applies to single sources when its name says Source
        # (Source Admin, Source Read-only); Segment's role objects carry nothing better.
        return {rid: role for rid, role in self.all().items()
                if "source" in (role.get("name") or "").lower()}


class _Permissions:
    """Reads and rewrites one principal's permission list; scans everyone's for `list_grants`."""

    def __init__(self, client: SegmentClient, clock: Callable[[], float], ttl: float) -> None:
        self._client, self._clock, self._ttl = client, clock, ttl
        self._scans: dict[str | None, tuple[float, Principals, str | None]] = {}

    def read(self, principal: str) -> list[dict]:
        group_id = _group_id(principal)
        holder = self._client.get_group(group_id) if group_id else self._client.get_user(principal)
        return holder.get("permissions") or []  # Segment leaves the key out when there are none

    def holds(self, principal: str, role_id: str, resource: dict) -> bool:
        return _holds(self.read(principal), role_id, resource)

    def add(self, principal: str, role_id: str, resource: dict) -> GrantOutcome:
        current = self.read(principal)
        if _holds(current, role_id, resource):
            return GrantOutcome.ALREADY_GRANTED
        self._write(principal, _with_pair(current, role_id, resource))
        return GrantOutcome.GRANTED

    def remove(self, principal: str, role_id: str, resource: dict) -> RevokeOutcome:
        current = self.read(principal)
        if not _holds(current, role_id, resource):
            return RevokeOutcome.ALREADY_REVOKED
        self._write(principal, _without_pair(current, role_id, resource))
        return RevokeOutcome.REVOKED

    def scan(self, cursor: str | None) -> tuple[Principals, str | None]:
        """One page of principals with their permissions: users first, then groups.  Pages are
        reused for a while, so syncing many sources reads everyone's permissions once."""
        cached = self._scans.get(cursor)
        if cached and self._clock() - cached[0] <= self._ttl:
            return cached[1], cached[2]
        found, next_cursor = self._scan_page(cursor)
        self._scans[cursor] = (self._clock(), found, next_cursor)
        return found, next_cursor

    def _scan_page(self, cursor: str | None) -> tuple[Principals, str | None]:
        phase, _, api_cursor = (cursor or "users:").partition(":")
        if phase == "users":
            users, after = self._client.list_users(api_cursor or None)
            next_cursor = f"users:{after}" if after else "groups:"
            return self._with_permissions(user["id"] for user in users), next_cursor
        if phase == "groups":
            groups, after = self._client.list_groups(api_cursor or None)
            next_cursor = f"groups:{after}" if after else None
            return self._with_permissions(group_principal(g["id"]) for g in groups), next_cursor
        raise InvalidRequestError(f"{cursor!r} is not a Segment grants cursor")

    def _with_permissions(self, principals: Iterable[str]) -> Principals:
        found = []
        for principal in principals:
            try:
                found.append((principal, self.read(principal)))
            except NotFoundError:
                continue  # deleted between the list and the read: it holds nothing now
        return found

    def _write(self, principal: str, permissions: list[dict]) -> None:
        group_id = _group_id(principal)
        if group_id:
            self._client.replace_group_permissions(group_id, permissions)
        else:
            self._client.replace_user_permissions(principal, permissions)


class _Workspace(HeldBefore, SyncOnly):
    """The workspace the token belongs to: who is in it and who holds which role across it.
    Sync only: granting a workspace-wide role (Workspace Owner ...) is not offered."""

    resource_type = ResourceType("workspace", "Segment workspace")
    why = "Segment workspace access is sync only in Latchkey"

    def __init__(self, client: SegmentClient, roles: _Roles, permissions: _Permissions) -> None:
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
                   for principal, _ in found if not _group_id(principal)]
        roles = _role_grants(found, "workspace", resource.id, self._roles.all())
        return Page(members + roles, next_cursor)

    def has_grant(self, workspace_id: str, slug: str, principal: str) -> bool:
        role_id = _role_of(slug)
        if role_id is None:
            try:
                return not _group_id(principal) and bool(self._client.get_user(principal))
            except NotFoundError:
                return False
        return self._permissions.holds(principal, role_id,
                                       _wire_resource("workspace", workspace_id))



class _Groups(HeldBefore):
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
        cursor: str | None = None
        while True:
            groups, cursor = self._client.list_user_groups(user_id, cursor)
            if any(group["id"] == group_id for group in groups):
                return True
            if cursor is None:
                return False

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


class _Sources(HeldBefore):
    """Sources, and the Source roles (Source Admin, Source Read-only) held on each one."""

    resource_type = ResourceType("source", "Segment source")

    def __init__(self, client: SegmentClient, roles: _Roles, permissions: _Permissions) -> None:
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
        return Page(_role_grants(found, "source", resource.id, self._roles.for_sources()),
                    next_cursor)

    def has_grant(self, source_id: str, slug: str, principal: str) -> bool:
        return self._permissions.holds(principal, _require_role(slug),
                                       _wire_resource("source", source_id))

    def grant(self, source_id: str, slug: str, principal: str) -> GrantOutcome:
        role_id = _require_role(slug)
        if role_id not in self._roles.for_sources():
            raise InvalidRequestError(f"Segment role {role_id!r} is not a Source role")
        return self._permissions.add(principal, role_id, _wire_resource("source", source_id))

    def revoke(self, source_id: str, slug: str, principal: str, prior: Prior) -> RevokeOutcome:
        # No role check here: a role renamed or deleted since the grant must not block revoking.
        return self._permissions.remove(principal, _require_role(slug),
                                        _wire_resource("source", source_id))


class SegmentConnector(RoutedByType):
    """The `Connector` of connectors/base.py for the Segment workspace the token belongs to."""

    target_name = "Segment"

    def __init__(self, client: SegmentClient, *, catalog_ttl: float = CATALOG_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        roles = _Roles(client, clock, catalog_ttl)
        permissions = _Permissions(client, clock, catalog_ttl)
        kinds: list[ResourceKind] = [_Workspace(client, roles, permissions), _Groups(client),
                                      _Sources(client, roles, permissions)]
        super().__init__(kinds)

    def list_accounts(self, cursor: str | None = None) -> Page[Account]:
        users, next_cursor = self._client.list_users(cursor)
        return Page([_account(user) for user in users], next_cursor)

    def find_account(self, email: str) -> Account | None:
        # Segment cannot filter users by email, so this reads pages until it finds them: bounded
        # by the size of the workspace.
        wanted = email.strip().lower()
        return next((account for account in map(_account, _items(self._client.list_users))
                     if account.email == wanted), None)

    def capabilities(self) -> list[Capability]:
        reads = {"workspace": self._client.get_workspace, "users": self._client.list_users,
                 "groups": self._client.list_groups, "roles": self._client.list_roles,
                 "sources": self._client.list_sources}
        unreadable = {subject: _refused(probe) for subject, probe in reads.items()}
        cannot_write = _refused(self._probe_iam_write)
        needs = {"group membership": ("users", "groups"),
                 "roles on sources": ("users", "groups", "roles", "sources")}
        provision = [Capability("provision", subject, not reason, reason) for subject, reason in (
            (subject, cannot_write or _first_unreadable(unreadable, wanted))
            for subject, wanted in needs.items())]
        return [Capability("sync", subject, not reason, reason)
                for subject, reason in unreadable.items()] + provision

    def close(self) -> None:
        self._client.close()

    def _probe_iam_write(self) -> None:
        groups, _ = self._client.list_groups()
        try:
            self._client.remove_group_members(groups[0]["id"] if groups else PROBE_GROUP_ID,
                                              [PROBE_EMAIL])
        except (NotFoundError, InvalidRequestError):
            pass  # got past the permission check; the group or address was not there


# -- permission lists: pure functions over Segment's wire shape ---------------------------------
def _wire_resource(resource_type: str, resource_id: str) -> dict:
    return {"id": resource_id, "type": resource_type.upper(), "labels": []}


def _same_resource(resource: dict, wanted: dict) -> bool:
    return resource.get("id") == wanted["id"] and resource.get("type") == wanted["type"]


def _holds(permissions: list[dict], role_id: str, wanted: dict) -> bool:
    return any(entry.get("roleId") == role_id and
               any(_same_resource(r, wanted) for r in entry.get("resources") or [])
               for entry in permissions)


def _as_input(entry: dict) -> dict:
    """A permission as read, in the PUT's input shape: `roleName` dropped, each resource's id,
    type and labels kept exactly (baton-segment dropped labels, widening label-scoped access)."""
    return {"roleId": entry["roleId"],
            "resources": [{key: r[key] for key in ("id", "type", "labels") if key in r}
                          for r in entry.get("resources") or []]}


def _with_pair(permissions: list[dict], role_id: str, wanted: dict) -> list[dict]:
    updated = [_as_input(entry) for entry in permissions]
    for entry in updated:
        if entry["roleId"] == role_id:
            entry["resources"].append(wanted)
            return updated
    return updated + [{"roleId": role_id, "resources": [wanted]}]


def _without_pair(permissions: list[dict], role_id: str, wanted: dict) -> list[dict]:
    """Every entry as read, minus the one pair; an entry that held only that pair goes too
    (a permission with no resources is not one Segment accepts)."""
    updated = []
    for entry in map(_as_input, permissions):
        if entry["roleId"] == role_id:
            kept = [r for r in entry["resources"] if not _same_resource(r, wanted)]
            if entry["resources"] and not kept:
                continue
            entry["resources"] = kept
        updated.append(entry)
    return updated


def _role_grants(found: Principals, resource_type: str, resource_id: str,
                 roles: dict[str, dict]) -> list[Grant]:
    wanted = _wire_resource(resource_type, resource_id)
    grants = [Grant(entitlement_id(resource_type, resource_id, ROLE, role_id), principal)
              for principal, permissions in found for role_id in roles
              if _holds(permissions, role_id, wanted)]
    return list(dict.fromkeys(grants))


# -- small helpers ------------------------------------------------------------------------------
def _group_id(principal: str) -> str | None:
    return principal[len(GROUP_PRINCIPAL):] if principal.startswith(GROUP_PRINCIPAL) else None


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
    if _group_id(principal):
        raise InvalidRequestError("a Segment user group cannot be a member of another group")


def _refused(probe: Callable[[], object]) -> str:
    """'' when the call works, else the refusal; an outage propagates (connectors/capabilities.py)."""
    refused = refusal(probe)
    return denied(refused) if refused else ""


def _first_unreadable(unreadable: dict[str, str], wanted: Iterable[str]) -> str:
    return next((f"cannot read {subject}: {unreadable[subject]}"
                 for subject in wanted if unreadable[subject]), "")


def _items(fetch: Callable[[str | None], tuple[list[dict], str | None]]) -> Iterator[dict]:
    """Every item of a client list, one page at a time, stopping when the caller stops."""
    cursor = None
    while True:
        page, cursor = fetch(cursor)
        yield from page
        if cursor is None:
            return


def _account(user: dict) -> Account:
    email = (user.get("email") or "").lower()
    return Account(id=user["id"], email=email, display_name=user.get("name") or email)

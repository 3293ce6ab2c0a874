"""Segment's IAM as Latchkey reads and writes it: the role catalog, and each principal's
permission list (which roles it holds on which resources).

A principal is a Segment user id, or `group:<userGroupId>` for a user group (groups hold roles
too).  A role grant or revoke is read-modify-write of the principal's WHOLE permission list,
because Segment's PUT replaces it: read it, add or remove exactly one (roleId, resource) pair,
and write every other entry back as read (labels included).  So the same role on another
resource, and all other roles, stay as they were; that is what lets revoke undo the grant and
nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from connectors.base import (
    Grant,
    GrantOutcome,
    InvalidRequestError,
    NotFoundError,
    RevokeOutcome,
    entitlement_id,
)
from connectors.http import every_item
from connectors.segment.client import SegmentClient

ROLE = "role"
GROUP_PRINCIPAL = "group:"
CATALOG_TTL = 300.0  # seconds a role list or a permission scan is reused; roles rarely change

Principals = list[tuple[str, list[dict]]]  # (principal, its permissions), one API page of them


def group_principal(group_id: str) -> str:
    return f"{GROUP_PRINCIPAL}{group_id}"


def group_id_of(principal: str) -> str | None:
    return principal[len(GROUP_PRINCIPAL):] if principal.startswith(GROUP_PRINCIPAL) else None


class RoleCatalog:
    """Segment's IAM roles, read through all pages and reused for `CATALOG_TTL` seconds."""

    def __init__(self, client: SegmentClient, clock: Callable[[], float], ttl: float) -> None:
        self._client, self._clock, self._ttl = client, clock, ttl
        self._roles: dict[str, dict] = {}
        self._read_at: float | None = None

    def all(self) -> dict[str, dict]:
        if self._read_at is None or self._clock() - self._read_at > self._ttl:
            self._roles = {role["id"]: role for role in every_item(self._client.list_roles)}
            self._read_at = self._clock()
        return self._roles

    def for_sources(self) -> dict[str, dict]:
        # baton-segment's rule: a role applies to single sources when its name says Source
        # (Source Admin, Source Read-only); Segment's role objects carry nothing better.
        return {rid: role for rid, role in self.all().items()
                if "source" in (role.get("name") or "").lower()}


class Permissions:
    """Reads and rewrites one principal's permission list; scans everyone's for `list_grants`."""

    def __init__(self, client: SegmentClient, clock: Callable[[], float], ttl: float) -> None:
        self._client, self._clock, self._ttl = client, clock, ttl
        self._scans: dict[str | None, tuple[float, Principals, str | None]] = {}

    def read(self, principal: str) -> list[dict]:
        group_id = group_id_of(principal)
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
        group_id = group_id_of(principal)
        if group_id:
            self._client.replace_group_permissions(group_id, permissions)
        else:
            self._client.replace_user_permissions(principal, permissions)


def wire_resource(resource_type: str, resource_id: str) -> dict:
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


def role_grants(found: Principals, resource_type: str, resource_id: str,
                 roles: dict[str, dict]) -> list[Grant]:
    wanted = wire_resource(resource_type, resource_id)
    grants = [Grant(entitlement_id(resource_type, resource_id, ROLE, role_id), principal)
              for principal, permissions in found for role_id in roles
              if _holds(permissions, role_id, wanted)]
    return list(dict.fromkeys(grants))

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

The resource types are in kinds.py; roles and permission lists, read and rewritten whole, in
permissions.py.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from connectors.base import Account, Capability, InvalidRequestError, NotFoundError, Page
from connectors.capabilities import denied, refusal
from connectors.http import every_item
from connectors.routing import ResourceKind, RoutedByType
from connectors.segment.client import SegmentClient
from connectors.segment.kinds import Groups, Sources, Workspace
from connectors.segment.permissions import CATALOG_TTL, Permissions, RoleCatalog, group_principal

__all__ = ["SegmentConnector", "group_principal"]

# The IAM-write probe removes an address that cannot exist (`.invalid` is a reserved TLD) from a
# real group, so it changes nothing; without permission Segment answers 403.  A real group, since
# a made-up one might be refused as missing before the permission is ever checked.
PROBE_EMAIL = "latchkey-capability-probe@latchkey.invalid"
PROBE_GROUP_ID = "latchkey-capability-probe"  # only when the workspace has no group at all


class SegmentConnector(RoutedByType):
    """The `Connector` of connectors/base.py for the Segment workspace the token belongs to."""

    target_name = "Segment"

    def __init__(self, client: SegmentClient, *, catalog_ttl: float = CATALOG_TTL,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        roles = RoleCatalog(client, clock, catalog_ttl)
        permissions = Permissions(client, clock, catalog_ttl)
        kinds: list[ResourceKind] = [Workspace(client, roles, permissions), Groups(client),
                                      Sources(client, roles, permissions)]
        super().__init__(kinds)

    def list_accounts(self, cursor: str | None = None) -> Page[Account]:
        users, next_cursor = self._client.list_users(cursor)
        return Page([_account(user) for user in users], next_cursor)

    def find_account(self, email: str) -> Account | None:
        # Segment cannot filter users by email, so this reads pages until it finds them: bounded
        # by the size of the workspace.
        wanted = email.strip().lower()
        return next((account for account in map(_account, every_item(self._client.list_users))
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


def _refused(probe: Callable[[], object]) -> str:
    """'' when the call works, else the refusal; an outage propagates (connectors/capabilities.py)."""
    refused = refusal(probe)
    return denied(refused) if refused else ""


def _first_unreadable(unreadable: dict[str, str], wanted: Iterable[str]) -> str:
    return next((f"cannot read {subject}: {unreadable[subject]}"
                 for subject in wanted if unreadable[subject]), "")


def _account(user: dict) -> Account:
    email = (user.get("email") or "").lower()
    return Account(id=user["id"], email=email, display_name=user.get("name") or email)

"""Okta as a Latchkey connector: maps Okta's wire JSON onto the model of connectors/base.py.

Each Okta resource type is one small class with the same shape (`_ResourceKind`); the connector
routes to it by a resource's type or by the first part of an entitlement id
(`<type>:<resourceId>:<slug>`, e.g. `group:00g1abc:member`).  Only groups exist so far; apps and
admin roles slot in beside `_Groups` later.  All HTTP, retries and error mapping live in
`OktaClient`.
"""

from __future__ import annotations

from typing import Protocol

from connectors.base import (
    Account,
    Capability,
    ConnectorError,
    Prior,
    Entitlement,
    Grant,
    GrantOutcome,
    InvalidRequestError,
    NotFoundError,
    Page,
    Resource,
    ResourceType,
    RevokeOutcome,
)
from connectors.okta.client import OktaClient

# baton-okta's mapping: these statuses can sign in; STAGED, SUSPENDED, DEPROVISIONED cannot.
ACTIVE_STATUSES = frozenset({"ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"})


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}"


class _ResourceKind(Protocol):
    """What the connector needs from one Okta resource type."""

    resource_type: ResourceType

    def list(self, cursor: str | None) -> Page[Resource]: ...

    def entitlements(self, resource: Resource) -> list[Entitlement]: ...

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]: ...

    def has_grant(self, resource_id: str, slug: str, account_id: str) -> bool: ...

    def grant(self, resource_id: str, slug: str, account_id: str) -> GrantOutcome: ...

    def revoke(self, resource_id: str, slug: str, account_id: str) -> RevokeOutcome: ...


class _Groups:
    """Okta groups; the one entitlement is membership, which Okta lets us change for OKTA_GROUP only
    (APP_GROUP members come from app imports, BUILT_IN is Everyone)."""

    resource_type = ResourceType("group", "Okta group")
    SLUG = "member"

    def __init__(self, client: OktaClient) -> None:
        self._client = client

    def list(self, cursor: str | None) -> Page[Resource]:
        groups, next_cursor = self._client.list_groups(after=cursor)
        return Page([_group_resource(group) for group in groups], next_cursor)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(
            id=entitlement_id("group", resource.id, self.SLUG),
            resource=resource,
            slug=self.SLUG,
            display_name=resource.name,
            description=f"Member of the Okta group {resource.name}",
            requestable=resource.attributes.get("okta_type") == "OKTA_GROUP",
        )]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        users, next_cursor = self._client.list_group_members(resource.id, after=cursor)
        granted = entitlement_id("group", resource.id, self.SLUG)
        return Page([Grant(granted, user["id"]) for user in users], next_cursor)

    def has_grant(self, group_id: str, slug: str, account_id: str) -> bool:
        self._require_member_slug(slug)
        # A user belongs to few groups, and this is the only per-user membership query Okta has,
        # so walking all of the user's pages here is bounded and cheap.
        cursor: str | None = None
        while True:
            groups, cursor = self._client.list_user_groups(account_id, after=cursor)
            if any(group["id"] == group_id for group in groups):
                return True
            if cursor is None:
                return False

    def grant(self, group_id: str, slug: str, account_id: str) -> GrantOutcome:
        if self.has_grant(group_id, slug, account_id):
            return GrantOutcome.ALREADY_GRANTED
        self._client.add_member(group_id, account_id)  # Okta answers 400 for non-OKTA_GROUP
        return GrantOutcome.GRANTED

    def revoke(self, group_id: str, slug: str, account_id: str) -> RevokeOutcome:
        if not self.has_grant(group_id, slug, account_id):
            return RevokeOutcome.ALREADY_REVOKED
        try:
            self._client.remove_member(group_id, account_id)
        except NotFoundError:
            # The membership may have gone between our check and the DELETE (already revoked),
            # or the group or user itself may be gone (a real error): these raise in that case.
            self._client.get_group(group_id)
            self._client.get_user(account_id)
            return RevokeOutcome.ALREADY_REVOKED
        return RevokeOutcome.REVOKED

    def _require_member_slug(self, slug: str) -> None:
        if slug != self.SLUG:
            raise InvalidRequestError(
                f"Okta groups have only the {self.SLUG!r} entitlement, not {slug!r}")


class OktaConnector:
    """The `Connector` of connectors/base.py for one Okta org."""

    def __init__(self, client: OktaClient) -> None:
        self._client = client
        kinds: list[_ResourceKind] = [_Groups(client)]
        self._kinds = {kind.resource_type.id: kind for kind in kinds}

    def resource_types(self) -> list[ResourceType]:
        return [kind.resource_type for kind in self._kinds.values()]

    def list_accounts(self, cursor: str | None = None) -> Page[Account]:
        # `search=status pr` is what makes Okta include DEPROVISIONED users (as baton-okta does).
        users, next_cursor = self._client.list_users(after=cursor, search="status pr")
        return Page([_account(user) for user in users], next_cursor)

    def list_resources(self, resource_type: str, cursor: str | None = None) -> Page[Resource]:
        return self._kind(resource_type).list(cursor)

    def list_entitlements(self, resource: Resource) -> list[Entitlement]:
        return self._kind(resource.type).entitlements(resource)

    def list_grants(self, resource: Resource, cursor: str | None = None) -> Page[Grant]:
        return self._kind(resource.type).grants(resource, cursor)

    def find_account(self, email: str) -> Account | None:
        wanted = email.strip().lower()
        matches = [_account(user) for user in self._client.find_users_by_email(wanted)]
        matches = [account for account in matches if account.email == wanted]
        # Okta emails need not be unique: a leaver's deprovisioned account keeps its email when
        # they come back, so the account that can sign in wins.
        matches.sort(key=lambda account: not account.active)
        return matches[0] if matches else None

    def has_grant(self, entitlement_id: str, account_id: str) -> bool:
        kind, resource_id, slug = self._parse(entitlement_id)
        return kind.has_grant(resource_id, slug, account_id)

    def prior(self, entitlement_id: str, account_id: str) -> Prior:
        return Prior(held=self.has_grant(entitlement_id, account_id))

    def grant(self, entitlement_id: str, account_id: str) -> GrantOutcome:
        kind, resource_id, slug = self._parse(entitlement_id)
        return kind.grant(resource_id, slug, account_id)

    def revoke(self, entitlement_id: str, account_id: str, prior: Prior) -> RevokeOutcome:
        kind, resource_id, slug = self._parse(entitlement_id)
        return kind.revoke(resource_id, slug, account_id)

    def capabilities(self) -> list[Capability]:
        try:
            self._client.get_org()
        except ConnectorError as exc:
            return [Capability("sync", "users and groups", False, str(exc))]
        return [Capability("sync", "users and groups", True),
                Capability("provision", "group membership", True)]

    def close(self) -> None:
        self._client.close()

    def _kind(self, resource_type: str) -> _ResourceKind:
        if resource_type not in self._kinds:
            raise InvalidRequestError(f"Okta has no resource type {resource_type!r} in Latchkey "
                                      f"(known: {', '.join(self._kinds)})")
        return self._kinds[resource_type]

    def _parse(self, entitlement_id: str) -> tuple[_ResourceKind, str, str]:
        parts = entitlement_id.split(":")
        if len(parts) != 3 or not all(parts):
            raise InvalidRequestError(
                f"entitlement id {entitlement_id!r} is not <type>:<resourceId>:<slug>")
        resource_type, resource_id, slug = parts
        return self._kind(resource_type), resource_id, slug


def _group_resource(group: dict) -> Resource:
    profile = group.get("profile") or {}
    return Resource(type="group", id=group["id"], name=profile.get("name") or group["id"],
                    description=profile.get("description") or "",
                    attributes={"okta_type": group.get("type", "")})


def _account(user: dict) -> Account:
    profile = user.get("profile") or {}
    email = (profile.get("email") or "").lower()
    full_name = " ".join(filter(None, (profile.get("firstName"), profile.get("lastName"))))
    display_name = profile.get("displayName") or full_name or profile.get("login") or email
    return Account(id=user["id"], email=email, display_name=display_name,
                   active=user.get("status") in ACTIVE_STATUSES)

"""Okta groups: membership is the one entitlement, and Okta lets us change it for OKTA_GROUP only
(APP_GROUP members come from app imports, BUILT_IN is Everyone)."""

from __future__ import annotations

from connectors.base import (
    Entitlement,
    Grant,
    GrantOutcome,
    NotFoundError,
    Page,
    Prior,
    Resource,
    ResourceType,
    RevokeOutcome,
    entitlement_id,
)
from connectors.http import every_item
from connectors.okta.client import OktaClient
from connectors.routing import HeldBefore, require_slug


class Groups(HeldBefore):
    resource_type = ResourceType("group", "Okta group")
    SLUG = "member"

    def __init__(self, client: OktaClient) -> None:
        self._client = client

    def list(self, cursor: str | None) -> Page[Resource]:
        groups, next_cursor = self._client.list_groups(after=cursor)
        return Page([group_resource(group) for group in groups], next_cursor)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(
            id=entitlement_id("group", resource.id, self.SLUG),
            resource=resource,
            slug=self.SLUG,
            display_name=resource.name,
            description=f"Member of the Okta group {resource.name}",
            requestable=resource.attributes.get("okta_type") == "OKTA_GROUP",
        )]

    def entitlements_of(self, group_id: str) -> list[Entitlement]:
        """The group's entitlements as they are now; none once it is deleted."""
        try:
            return self.entitlements(group_resource(self._client.get_group(group_id)))
        except NotFoundError:
            return []

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        users, next_cursor = self._client.list_group_members(resource.id, after=cursor)
        granted = entitlement_id("group", resource.id, self.SLUG)
        return Page([Grant(granted, user["id"]) for user in users], next_cursor)

    def has_grant(self, group_id: str, slug: str, account_id: str) -> bool:
        require_slug("Okta groups", slug, (self.SLUG,))
        # A user belongs to few groups, and this is the only per-user membership query Okta has,
        # so walking all of the user's pages here is bounded and cheap.
        groups = every_item(lambda cursor: self._client.list_user_groups(account_id, after=cursor))
        return any(group["id"] == group_id for group in groups)

    def grant(self, group_id: str, slug: str, account_id: str) -> GrantOutcome:
        if self.has_grant(group_id, slug, account_id):
            return GrantOutcome.ALREADY_GRANTED
        self._client.add_member(group_id, account_id)  # Okta answers 400 for non-OKTA_GROUP
        return GrantOutcome.GRANTED

    def revoke(self, group_id: str, slug: str, account_id: str, prior: Prior) -> RevokeOutcome:
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


def group_resource(group: dict) -> Resource:
    profile = group.get("profile") or {}
    return Resource(type="group", id=group["id"], name=profile.get("name") or group["id"],
                    description=profile.get("description") or "",
                    attributes={"okta_type": group.get("type", "")})

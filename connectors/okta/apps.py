"""Okta applications: the one entitlement is `access` (`app:<appId>:access`).

Okta keeps ONE assignment per app and user, with a scope: USER when someone assigned the user
directly, GROUP when the access only comes from a group assigned to the app.  A direct assignment
wins over group access while it exists, and Okta refuses to delete it while a group still grants
the app (403 E0000046, "cannot be unassigned from the user while their group memberships grant
them access"); the assignment must be turned back to scope GROUP instead.

So, unlike baton-okta (which calls group-derived access "already granted" and never makes the
direct assignment, leaving the grant at the mercy of the group):

- `prior().held` / `has_grant` are True only for a direct (scope USER) assignment;
- `grant` creates the direct assignment, or turns a group-derived one into a direct one;
- `revoke` removes only the direct assignment: DELETE it, or, when Okta answers E0000046, turn it
  back to scope GROUP, so group-derived access stays exactly as the groups define it.

`grants` (sync) lists everyone who can use the app, as Okta's own list does, marking
group-derived access `direct=False`: only direct assignments are "already held", as `prior` says,
so a request for direct access on top of a group's is granted whether the group came before or
after the last sync.
"""

from __future__ import annotations

import json

from connectors.base import (
    Entitlement,
    Grant,
    GrantOutcome,
    NotFoundError,
    Page,
    PermissionDeniedError,
    Prior,
    Resource,
    ResourceType,
    RevokeOutcome,
    entitlement_id,
)
from connectors.okta.client import OktaClient
from connectors.okta.transport import okta_code
from connectors.routing import require_slug

DIRECT, VIA_GROUP = "USER", "GROUP"
GROUP_STILL_GRANTS = "E0000046"  # "Deactivate application for user forbidden"


class Apps:
    resource_type = ResourceType("app", "Okta application")
    SLUG = "access"

    def __init__(self, client: OktaClient, sync_inactive_apps: bool = True) -> None:
        self._client = client
        self._filter = None if sync_inactive_apps else 'status eq "ACTIVE"'

    def list(self, cursor: str | None) -> Page[Resource]:
        apps, next_cursor = self._client.list_apps(after=cursor, filter=self._filter)
        return Page([app_resource(app) for app in apps], next_cursor)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(
            id=entitlement_id("app", resource.id, self.SLUG),
            resource=resource,
            slug=self.SLUG,
            display_name=resource.name,
            description=f"Assigned to the Okta app {resource.name}",
            requestable=resource.attributes.get("okta_status") == "ACTIVE",
        )]

    def entitlements_of(self, app_id: str) -> list[Entitlement]:
        """The app's entitlements as they are now; none once it is deleted, or inactive when
        only active apps are synced."""
        try:
            app = self._client.get_app(app_id)
        except NotFoundError:
            return []
        if self._filter is not None and app.get("status") != "ACTIVE":
            return []
        return self.entitlements(app_resource(app))

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        users, next_cursor = self._client.list_app_users(resource.id, after=cursor)
        granted = entitlement_id("app", resource.id, self.SLUG)
        return Page([Grant(granted, user["id"], direct=user.get("scope") == DIRECT)
                     for user in users], next_cursor)

    def has_grant(self, app_id: str, slug: str, account_id: str) -> bool:
        require_slug("Okta apps", slug, (self.SLUG,))
        return self.scope(app_id, account_id) == DIRECT

    def prior(self, app_id: str, slug: str, account_id: str) -> Prior:
        require_slug("Okta apps", slug, (self.SLUG,))
        scope = self.scope(app_id, account_id)
        return Prior(held=scope == DIRECT, detail=json.dumps({"scope": scope}) if scope else None)

    def grant(self, app_id: str, slug: str, account_id: str) -> GrantOutcome:
        require_slug("Okta apps", slug, (self.SLUG,))
        scope = self.scope(app_id, account_id)
        if scope == DIRECT:
            return GrantOutcome.ALREADY_GRANTED
        if scope == VIA_GROUP:
            self._client.set_app_user_scope(app_id, account_id, DIRECT)
        else:
            profile = self._client.get_user(account_id).get("profile") or {}
            user_name = profile.get("login") or profile.get("email") or account_id
            self._client.assign_app_user(app_id, account_id, user_name)
        return GrantOutcome.GRANTED

    def revoke(self, app_id: str, slug: str, account_id: str, prior: Prior) -> RevokeOutcome:
        require_slug("Okta apps", slug, (self.SLUG,))
        if self.scope(app_id, account_id) != DIRECT:
            return RevokeOutcome.ALREADY_REVOKED  # no direct assignment: nothing of ours is left
        try:
            self._client.remove_app_user(app_id, account_id)
        except NotFoundError:
            return RevokeOutcome.ALREADY_REVOKED  # gone between our read and the DELETE
        except PermissionDeniedError as error:
            if okta_code(error) != GROUP_STILL_GRANTS:
                raise
            # A group assigned to the app still covers the user: give the access back to it.
            self._client.set_app_user_scope(app_id, account_id, VIA_GROUP)
        return RevokeOutcome.REVOKED

    def scope(self, app_id: str, account_id: str) -> str | None:
        """USER, GROUP, or None when the user is not assigned (Okta answers 404 E0000007)."""
        try:
            return self._client.get_app_user(app_id, account_id).get("scope")
        except NotFoundError:
            return None


def app_resource(app: dict) -> Resource:
    return Resource(type="app", id=app["id"], name=app.get("label") or app["id"],
                    attributes={"okta_status": app.get("status", ""),
                                "okta_sign_on_mode": app.get("signOnMode", "")})

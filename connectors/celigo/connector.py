"""Celigo as a Latchkey connector: maps integrator.io's wire JSON onto connectors/base.py.

Accounts are account shares ("ashares"); an Account's id is the share `_id`, which is what a
grant writes to.  Two resource types, as in baton-celigo:

- `role`: the account-wide access level, three synthesised resources (`administrator`, `manage`,
  `monitor`), entitlement `role:<level>:assigned`.  Provisionable, and a single-valued slot (a
  user holds one level at a time): Latchkey's lifecycle decides the level to set from every
  grant still live (bot/slots.py) and calls `slot_level`/`set_slot_level`; `grant`/`revoke` do
  one grant on their own (a grant never lowers, a revoke puts back `Prior.detail`'s level).
- `integration`: one resource per integration, entitlements `integration:<id>:manage|monitor`
  from the shares' per-integration `integrationAccessLevel`.  Sync-only, as in baton-celigo.

Celigo's `PUT /v1/ashares/{id}` replaces the record and erases what the body omits, so every write
is read-modify-write of the whole record changing `accessLevel` only; per-integration access and
every other setting go back as they were.  (Celigo offers no ETag, so a change made by someone else
between our GET and PUT can be overwritten; the window is one round trip.)
"""

from __future__ import annotations

import json

from connectors.base import (
    Account,
    Capability,
    Entitlement,
    Grant,
    GrantOutcome,
    InvalidRequestError,
    Page,
    PermissionDeniedError,
    Prior,
    Resource,
    ResourceType,
    RevokeOutcome,
    Slot,
    entitlement_id,
)
from connectors.capabilities import denied, refusal
from connectors.celigo.client import CeligoClient
from connectors.routing import HeldBefore, ResourceKind, RoutedByType, SyncOnly, require_slug

# Widest first; a grant never lowers a user's access (see _Roles.grant).
ROLE_RANK = {"administrator": 3, "manage": 2, "monitor": 1}
ACCESS_LEVEL = "accessLevel"  # the slot: a user holds one account-wide level at a time
LEVELS = tuple(sorted(ROLE_RANK, key=ROLE_RANK.__getitem__))  # lowest first, as Slot wants
ROLE_NAMES = {"administrator": "Administrator", "manage": "Manage (all integrations)",
              "monitor": "Monitor (all integrations)"}
INTEGRATION_LEVELS = ("manage", "monitor")
FULL_ACCESS_SCOPE = "*"  # what Celigo's GET /v1/tokenInfo reports for a Full access token

# Fields Celigo's schema marks read-only (response.yml) or sets itself; left out of a PUT body so
# the write carries exactly the user's settings.
READ_ONLY_FIELDS = frozenset({"_id", "accepted", "dismissed", "lastSignIn", "isProductionAdmin",
                              "createdVia", "sharedWithUser", "createdAt", "lastModified"})


class _Roles:
    """The account-wide access level; `role:<level>:assigned`."""

    resource_type = ResourceType("role", "Celigo account role")
    SLUG = "assigned"

    def __init__(self, client: CeligoClient) -> None:
        self._client = client

    def list(self, cursor: str | None) -> Page[Resource]:
        # Synthesised, as baton-celigo does: the levels are fixed, there is nothing to page.
        return Page([Resource(type="role", id=level, name=f"Celigo {ROLE_NAMES[level]}")
                     for level in ROLE_RANK])

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(
            id=entitlement_id("role", resource.id, self.SLUG), resource=resource, slug=self.SLUG,
            display_name=resource.name,
            description=f"Account-wide Celigo access level {resource.id!r}")]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        shares, next_cursor = self._client.list_shares(cursor)
        granted = entitlement_id("role", resource.id, self.SLUG)
        return Page([Grant(granted, share["_id"]) for share in shares
                     if share.get("accessLevel") == resource.id], next_cursor)

    def has_grant(self, level: str, slug: str, account_id: str) -> bool:
        self.check(level, slug)
        return self._client.get_share(account_id).get("accessLevel") == level

    def prior(self, level: str, slug: str, account_id: str) -> Prior:
        self.check(level, slug)
        held = self._client.get_share(account_id).get("accessLevel")
        # None (no account-wide level: an integration-only user) is a level to restore too.
        return Prior(held=held == level, detail=json.dumps({"accessLevel": held}))

    def grant(self, level: str, slug: str, account_id: str) -> GrantOutcome:
        self.check(level, slug)
        share = self._client.get_share(account_id)
        # A user already at this level or a wider one keeps it: a grant must never lower access.
        if ROLE_RANK.get(share.get("accessLevel"), 0) >= ROLE_RANK[level]:
            return GrantOutcome.ALREADY_GRANTED
        self._client.put_share(share["_id"], _with_level(share, level))
        return GrantOutcome.GRANTED

    def revoke(self, level: str, slug: str, account_id: str, prior: Prior) -> RevokeOutcome:
        self.check(level, slug)
        previous = _previous_level(prior)
        share = self._client.get_share(account_id)
        # Someone else changed the level since our grant: theirs stands, ours is already gone.
        if share.get("accessLevel") != level:
            return RevokeOutcome.ALREADY_REVOKED
        self._client.put_share(share["_id"], _with_level(share, previous))
        return RevokeOutcome.REVOKED

    def check(self, level: str, slug: str) -> None:
        if level not in ROLE_RANK or slug != self.SLUG:
            raise InvalidRequestError(f"Celigo roles are role:<{'|'.join(ROLE_RANK)}>:"
                                      f"{self.SLUG}, not role:{level}:{slug}")


class _Integrations(HeldBefore, SyncOnly):
    """Integrations and the per-integration access Celigo records on each share; sync-only."""

    resource_type = ResourceType("integration", "Celigo integration")
    why = "Celigo per-integration access is sync-only in Latchkey; change it in Celigo"

    def __init__(self, client: CeligoClient) -> None:
        self._client = client

    def list(self, cursor: str | None) -> Page[Resource]:
        integrations, next_cursor = self._client.list_integrations(cursor)
        return Page([_integration_resource(item) for item in integrations], next_cursor)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [Entitlement(
            id=entitlement_id("integration", resource.id, level), resource=resource, slug=level,
            display_name=f"{resource.name} ({level})",
            description=f"Per-integration {level} access to {resource.name} (managed in Celigo)",
            requestable=False, provisionable=False) for level in INTEGRATION_LEVELS]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        # The documented per-integration record is the share's integrationAccessLevel.  Celigo
        # keeps it, though it ignores it, while the account-wide level is manage or
        # administrator; the role grant shows that wider access.
        shares, next_cursor = self._client.list_shares(cursor)
        return Page([Grant(entitlement_id("integration", resource.id, entry["accessLevel"]),
                           share["_id"])
                     for share in shares for entry in share.get("integrationAccessLevel") or []
                     if entry.get("_integrationId") == resource.id], next_cursor)

    def has_grant(self, integration_id: str, slug: str, account_id: str) -> bool:
        require_slug("Celigo integrations", slug, INTEGRATION_LEVELS)
        share = self._client.get_share(account_id)
        return any(entry.get("_integrationId") == integration_id
                   and entry.get("accessLevel") == slug
                   for entry in share.get("integrationAccessLevel") or [])


class CeligoConnector(RoutedByType):
    """The `Connector` of connectors/base.py for one Celigo account."""

    target_name = "Celigo"

    def __init__(self, client: CeligoClient) -> None:
        self._client = client
        kinds: list[ResourceKind] = [_Roles(client), _Integrations(client)]
        super().__init__(kinds)

    def list_accounts(self, cursor: str | None = None) -> Page[Account]:
        shares, next_cursor = self._client.list_shares(cursor)
        return Page([_account(share) for share in shares], next_cursor)

    def find_account(self, email: str) -> Account | None:
        # Celigo documents no email filter on /v1/ashares, so this walks the shares (an account
        # has a few hundred users at most); a person has one share per account, so the first
        # match is the only one.
        wanted = email.strip().lower()
        cursor: str | None = None
        while True:
            page = self.list_accounts(cursor)
            match = next((account for account in page.items if account.email == wanted), None)
            if match is not None or page.next_cursor is None:
                return match
            cursor = page.next_cursor

    # -- the account-wide access level: one value per user, so a single-valued slot -----------
    def slot(self, entitlement_id: str) -> Slot | None:
        kind, level, slug = self._parse(entitlement_id)
        if not isinstance(kind, _Roles):
            return None
        kind.check(level, slug)
        return Slot(ACCESS_LEVEL, level, LEVELS)

    def slot_level(self, slot: Slot, account_id: str) -> str | None:
        return self._client.get_share(account_id).get("accessLevel")

    def set_slot_level(self, slot: Slot, account_id: str, level: str | None) -> None:
        share = self._client.get_share(account_id)
        if share.get("accessLevel") != level:
            self._client.put_share(share["_id"], _with_level(share, level))

    def capabilities(self) -> list[Capability]:
        users = refusal(self._client.list_shares)
        # Per-integration access is read from the shares, so it needs the users' read too.
        integrations = refusal(self._client.list_integrations) or users
        roles = denied(users) if users else self._write_problem()
        return [
            Capability("sync", "users and account roles", users is None,
                       denied(users) if users else ""),
            Capability("sync", "integrations and per-integration access", integrations is None,
                       denied(integrations) if integrations else ""),
            Capability("provision", "account roles (access level)", not roles, roles),
            Capability("provision", "per-integration access", False,
                       "sync-only in Latchkey: change per-integration access in Celigo"),
        ]

    def close(self) -> None:
        self._client.close()

    def _write_problem(self) -> str:
        """Why this token cannot change users, or ''.  Celigo has no dry-run write, so this
        reads the token's scope: only a Full access token (issued by an account owner or
        administrator) may change users; a Custom token cannot (inferred from Celigo's docs)."""
        try:
            scope = self._client.token_info().get("scope")
        except PermissionDeniedError as refused:  # an outage propagates (connectors/capabilities.py)
            return denied(refused)
        if scope != FULL_ACCESS_SCOPE:
            return ("permission denied: the token's scope is not Full access; changing a user's "
                    "access level needs a Full access token from an account owner or administrator")
        return ""


def _previous_level(prior: Prior) -> str | None:
    """The level recorded before the grant; refusing to guess (baton-celigo always restores
    monitor, which can raise or lower a user's access)."""
    try:
        previous = json.loads(prior.detail or "")["accessLevel"]
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidRequestError("Celigo role revoke needs the access level recorded before the "
                                  f"grant (Prior.detail), got {prior.detail!r}") from exc
    if previous is not None and previous not in ROLE_RANK:
        raise InvalidRequestError(f"Prior.detail holds an unknown Celigo access level {previous!r}")
    return previous


def _with_level(share: dict, level: str | None) -> dict:
    """The share's writable fields as they are, with `accessLevel` set (or removed for None)."""
    body = {key: value for key, value in share.items()
            if key not in READ_ONLY_FIELDS and key != "accessLevel"}
    return body if level is None else {**body, "accessLevel": level}


def _integration_resource(integration: dict) -> Resource:
    return Resource(type="integration", id=integration["_id"],
                    name=integration.get("name") or integration["_id"],
                    description=integration.get("description") or "")


def _account(share: dict) -> Account:
    user = share.get("sharedWithUser") or {}
    email = (user.get("email") or "").lower()
    # A pending (accepted false) or declined invitation, or a disabled user, cannot sign in.
    # `accepted` is optional in Celigo's schema, so only an explicit false counts as pending.
    active = (share.get("accepted") is not False and not share.get("dismissed")
              and not share.get("disabled"))
    return Account(id=share["_id"], email=email, display_name=user.get("name") or email,
                   active=active)

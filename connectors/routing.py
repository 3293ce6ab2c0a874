"""A connector built from one small class per resource type (Baton's builders), and the routing
from the Connector interface to them.

Each connector describes every resource type it knows in its own class (Okta groups, apps and
roles; Celigo roles and integrations; …) with the one shape below, `ResourceKind`.  `RoutedByType`
sends each call of the Connector interface to the class for the resource's type, or for the
first part of an entitlement id (`connectors.base.entitlement_id`), so a connector itself only
adds what is not per type: accounts, capabilities, closing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from connectors.base import (
    Entitlement,
    Grant,
    GrantOutcome,
    InvalidRequestError,
    Page,
    Prior,
    Resource,
    ResourceType,
    RevokeOutcome,
    entitlement_id,
    parse_entitlement_id,
)


class ResourceKind(Protocol):
    """One resource type of one target: its list, entitlements and grants (one page at a time),
    and, per entitlement `<type>:<resource_id>:<slug>` and account, the grant and revoke.

    `prior` is read before Latchkey's first write; `revoke` gets it back and undoes exactly what
    `grant` added, leaving access the account had before (or gained elsewhere) in place.  "Already
    granted" and "already revoked" are outcomes, not errors, so a retry is always safe.
    """

    resource_type: ResourceType

    def list(self, cursor: str | None) -> Page[Resource]: ...

    def entitlements(self, resource: Resource) -> list[Entitlement]: ...

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]: ...

    def has_grant(self, resource_id: str, slug: str, account_id: str) -> bool: ...

    def prior(self, resource_id: str, slug: str, account_id: str) -> Prior: ...

    def grant(self, resource_id: str, slug: str, account_id: str) -> GrantOutcome: ...

    def revoke(self, resource_id: str, slug: str, account_id: str,
               prior: Prior) -> RevokeOutcome: ...


def require_slug(what: str, slug: str, allowed: tuple[str, ...]) -> None:
    """Refuse an entitlement the kind does not have, naming the ones it has."""
    if slug not in allowed:
        raise InvalidRequestError(f"{what} have only the {' or '.join(map(repr, allowed))} "
                                  f"entitlement, not {slug!r}")


class HeldBefore:
    """`prior` for a kind whose revoke needs nothing recorded: whether the account held it."""

    def has_grant(self, resource_id: str, slug: str, account_id: str) -> bool:
        raise NotImplementedError

    def prior(self, resource_id: str, slug: str, account_id: str) -> Prior:
        return Prior(held=self.has_grant(resource_id, slug, account_id))


class SyncOnly:
    """`grant` and `revoke` for a kind Latchkey reads but never writes; `why` says so to a person."""

    resource_type: ResourceType
    why = "this access is sync-only in Latchkey"

    def grant(self, resource_id: str, slug: str, account_id: str) -> GrantOutcome:
        raise self._refusal(resource_id, slug)

    def revoke(self, resource_id: str, slug: str, account_id: str,
               prior: Prior) -> RevokeOutcome:
        raise self._refusal(resource_id, slug)

    def _refusal(self, resource_id: str, slug: str) -> InvalidRequestError:
        wanted = entitlement_id(self.resource_type.id, resource_id, *slug.split(":"))
        return InvalidRequestError(f"{self.why}: {wanted}")


class RoutedByType:
    target_name = "The target"  # for error messages, e.g. "Okta"

    def __init__(self, kinds: Iterable[ResourceKind]) -> None:
        self._kinds = {kind.resource_type.id: kind for kind in kinds}

    def resource_types(self) -> list[ResourceType]:
        return [kind.resource_type for kind in self._kinds.values()]

    def list_resources(self, resource_type: str, cursor: str | None = None) -> Page[Resource]:
        return self._kind(resource_type).list(cursor)

    def list_entitlements(self, resource: Resource) -> list[Entitlement]:
        return self._kind(resource.type).entitlements(resource)

    def list_grants(self, resource: Resource, cursor: str | None = None) -> Page[Grant]:
        return self._kind(resource.type).grants(resource, cursor)

    def has_grant(self, entitlement_id: str, account_id: str) -> bool:
        kind, resource_id, slug = self._parse(entitlement_id)
        return kind.has_grant(resource_id, slug, account_id)

    def prior(self, entitlement_id: str, account_id: str) -> Prior:
        kind, resource_id, slug = self._parse(entitlement_id)
        return kind.prior(resource_id, slug, account_id)

    def grant(self, entitlement_id: str, account_id: str) -> GrantOutcome:
        kind, resource_id, slug = self._parse(entitlement_id)
        return kind.grant(resource_id, slug, account_id)

    def revoke(self, entitlement_id: str, account_id: str, prior: Prior) -> RevokeOutcome:
        kind, resource_id, slug = self._parse(entitlement_id)
        if prior.held:  # the account had it before Latchkey's grant: it stays, untouched (Prior)
            return RevokeOutcome.ALREADY_REVOKED
        return kind.revoke(resource_id, slug, account_id, prior)

    def _parse(self, entitlement_id: str) -> tuple[ResourceKind, str, str]:
        """An entitlement id → (the class of its type, resource id, slug)."""
        resource_type, resource_id, slug = parse_entitlement_id(entitlement_id)
        return self._kind(resource_type), resource_id, slug

    def _kind(self, resource_type: str) -> ResourceKind:
        if resource_type not in self._kinds:
            raise InvalidRequestError(f"{self.target_name} has no resource type {resource_type!r} "
                                      f"in Latchkey (known: {', '.join(self._kinds)})")
        return self._kinds[resource_type]

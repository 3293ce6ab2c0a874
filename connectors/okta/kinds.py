"""What every Okta resource kind (groups, apps, admin roles) shares: the entitlement id format and
the small protocol `OktaConnector` routes to.

An entitlement id is Baton's `<resourceType>:<resourceId>:<slug>`, e.g. `group:00g1abc:member`,
`app:0oa1abc:access`, `role:APP_ADMIN:assigned`.
"""

from __future__ import annotations

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
)


def entitlement_id(resource_type: str, resource_id: str, slug: str) -> str:
    return f"{resource_type}:{resource_id}:{slug}"


def require_slug(kind: str, expected: str, slug: str) -> None:
    if slug != expected:
        raise InvalidRequestError(
            f"Okta {kind} have only the {expected!r} entitlement, not {slug!r}")


class ResourceKind(Protocol):
    """What the connector needs from one Okta resource type.

    `prior` is read before Latchkey's first write; `revoke` gets it back and undoes exactly what
    `grant` added, leaving access the account had before (or gained elsewhere) in place.
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

"""The read side of a connector built from one small class per resource type (Baton's builders).

Okta, Celigo and Segment each describe every resource type in its own class (groups, apps,
roles …) and route each call of the Connector interface to the class for that type.  That
routing is the same everywhere, so it lives here once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from connectors.base import Entitlement, Grant, InvalidRequestError, Page, Resource, ResourceType


class ResourceKind(Protocol):
    """What routing needs from one resource type's class."""

    resource_type: ResourceType

    def list(self, cursor: str | None) -> Page[Resource]: ...

    def entitlements(self, resource: Resource) -> list[Entitlement]: ...

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]: ...


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

    def _parse(self, entitlement_id: str):
        """`<type>:<resourceId>:<slug>` → (the type's class, resource id, slug)."""
        parts = entitlement_id.split(":")
        if len(parts) != 3 or not all(parts):
            raise InvalidRequestError(
                f"entitlement id {entitlement_id!r} is not <type>:<resourceId>:<slug>")
        resource_type, resource_id, slug = parts
        return self._kind(resource_type), resource_id, slug

    def _kind(self, resource_type: str):
        if resource_type not in self._kinds:
            raise InvalidRequestError(f"{self.target_name} has no resource type {resource_type!r} "
                                      f"in Latchkey (known: {', '.join(self._kinds)})")
        return self._kinds[resource_type]

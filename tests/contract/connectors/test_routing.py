"""RoutedByType (connectors/routing.py) in memory: every connector's calls reach the right
resource kind with the id decoded, and the rules every kind shares hold in one place."""

from __future__ import annotations

import pytest

from connectors.base import (
    GrantOutcome,
    InvalidRequestError,
    Page,
    Prior,
    ResourceType,
    RevokeOutcome,
    entitlement_id,
)
from connectors.routing import HeldBefore, RoutedByType, SyncOnly


class Doors(HeldBefore):
    """A kind that records what reached it."""

    resource_type = ResourceType("door", "Door")

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def list(self, cursor):
        return Page([])

    def entitlements(self, resource):
        return []

    def grants(self, resource, cursor):
        return Page([])

    def has_grant(self, resource_id, slug, account_id):
        self.calls.append(("has_grant", resource_id, slug, account_id))
        return resource_id == "front"

    def grant(self, resource_id, slug, account_id):
        self.calls.append(("grant", resource_id, slug, account_id))
        return GrantOutcome.GRANTED

    def revoke(self, resource_id, slug, account_id, prior):
        self.calls.append(("revoke", resource_id, slug, account_id))
        return RevokeOutcome.REVOKED


class Walls(HeldBefore, SyncOnly):
    resource_type = ResourceType("wall", "Wall")
    why = "walls are read only"

    def has_grant(self, resource_id, slug, account_id):
        return False


@pytest.fixture
def doors() -> Doors:
    return Doors()


@pytest.fixture
def connector(doors) -> RoutedByType:
    return RoutedByType([doors, Walls()])


def test_calls_reach_the_kind_of_the_id_decoded(doors, connector):
    """Given an id whose resource id holds a colon, when granting and reading prior, then the kind gets the decoded parts."""
    odd = entitlement_id("door", "back:yard", "key", "spare")
    assert connector.grant(odd, "u1") is GrantOutcome.GRANTED
    assert connector.prior(entitlement_id("door", "front", "key"), "u1") == Prior(held=True)
    assert doors.calls == [("grant", "back:yard", "key:spare", "u1"),
                           ("has_grant", "front", "key", "u1")]


def test_a_revoke_of_access_held_before_the_grant_touches_nothing(doors, connector):
    """Given a prior that says the account held it before, when revoking, then ALREADY_REVOKED and the kind is not called."""
    assert connector.revoke("door:front:key", "u1", Prior(held=True)) is RevokeOutcome.ALREADY_REVOKED
    assert connector.revoke("door:back:key", "u1", Prior(held=False)) is RevokeOutcome.REVOKED
    assert doors.calls == [("revoke", "back", "key", "u1")]


def test_a_sync_only_kind_refuses_writes_naming_the_entitlement(connector):
    """Given a sync-only kind, when granting or revoking, then InvalidRequestError with its reason and the id."""
    for write in (lambda: connector.grant("wall:north:paint", "u1"),
                  lambda: connector.revoke("wall:north:paint", "u1", Prior(held=False))):
        with pytest.raises(InvalidRequestError, match="walls are read only: wall:north:paint"):
            write()


@pytest.mark.parametrize("text", ["roof:r1:tile", "door:front", "nonsense"])
def test_unknown_types_and_malformed_ids_are_invalid(connector, text):
    """Given an id of no known type, or not three parts, when checking it, then InvalidRequestError."""
    with pytest.raises(InvalidRequestError):
        connector.has_grant(text, "u1")

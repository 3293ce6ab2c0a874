"""Copy a connector's catalog (entitlements, accounts, who holds what) into storage."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import TypeVar

from bot.ports import Clock
from connectors.base import Connector, Page
from storage.repositories import Catalog
from storage.tables import SyncRow

log = logging.getLogger(__name__)
T = TypeVar("T")


def pages(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paginated list, one page in memory at a time."""
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def sync_catalog(connector_id: str, connector: Connector, catalog: Catalog, clock: Clock) -> SyncRow:
    entitlements, holdings = [], []
    for resource_type in connector.resource_types():
        for resource in pages(lambda cursor: connector.list_resources(resource_type.id, cursor)):
            found = connector.list_entitlements(resource)
            entitlements += [dict(id=e.id, resource_type=resource.type, resource_id=resource.id,
                                  name=e.display_name, description=e.description,
                                  requestable=e.requestable) for e in found]
            # Holdings matter only where someone could ask for the access.
            if any(e.requestable for e in found):
                holdings += [dict(entitlement_id=g.entitlement_id, account_id=g.account_id)
                             for g in pages(lambda cursor: connector.list_grants(resource, cursor))]
    accounts = (dict(id=a.id, email=a.email.lower(), display_name=a.display_name, active=a.active)
                for a in pages(connector.list_accounts))
    summary = catalog.replace(connector_id, entitlements, accounts, holdings, clock.now())
    log.info("synced %s: %d entitlements, %d accounts, %d holdings", connector_id,
             summary.entitlements, summary.accounts, summary.holdings)
    return summary

"""Copy a connector's catalog (entitlements, accounts, who holds what) into storage."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TypeVar

from bot.metrics import CATALOG_TYPES_SKIPPED
from bot.ports import Clock
from connectors.base import Connector, ConnectorError, Page, PermissionDeniedError, TransientError
from storage.catalog import Catalog
from storage.catalog_changes import entitlement_row
from storage.tables import SyncRow

log = logging.getLogger(__name__)
T = TypeVar("T")

Progress = Callable[[str, int], None]  # (what, how many more) as the sync goes


def pages(fetch: Callable[[str | None], Page[T]]) -> Iterator[T]:
    """Every item of a paginated list, one page in memory at a time."""
    cursor = None
    while True:
        page = fetch(cursor)
        yield from page.items
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def sync_catalog(connector_id: str, connector: Connector, catalog: Catalog, clock: Clock,
                 progress: Progress = lambda what, count: None,
                 feed_from: datetime | None = None) -> SyncRow:
    """Read the whole catalog and swap it in; `feed_from` (when the connector's change feed is
    followed: the moment this sync began) restarts the feed there (`Catalog.replace`)."""
    entitlements, holdings = [], []
    for resource_type in connector.resource_types():
        try:
            found_entitlements, found_holdings = _sync_type(connector, resource_type, progress)
        except TransientError:
            raise  # the target is unwell, not this type: keep the whole previous catalog for now
        except ConnectorError as exc:
            # A type the token may not read (Okta admin roles without a super admin token), an
            # API this org does not have (404), a list the target refuses (400): the other types
            # are still worth having.  Drift is not reported for what this snapshot lacks.
            _skipped(connector_id, resource_type, exc, progress)
            continue
        entitlements += found_entitlements
        holdings += found_holdings

    def accounts():
        for account in pages(connector.list_accounts):
            progress("accounts", 1)
            yield dict(id=account.id, email=account.email.lower(), display_name=account.display_name,
                       active=account.active)

    summary = catalog.replace(connector_id, entitlements, accounts(), holdings, clock.now(),
                              feed_from=feed_from)
    log.info("synced %s: %d entitlements, %d accounts, %d holdings", connector_id,
             summary.entitlements, summary.accounts, summary.holdings)
    return summary


def _skipped(connector_id: str, resource_type, exc: ConnectorError, progress: Progress) -> None:
    why = "no permission" if isinstance(exc, PermissionDeniedError) else type(exc).__name__
    if isinstance(exc, PermissionDeniedError):
        log.warning("%s: cannot sync %s with these credentials: %s", connector_id,
                    resource_type.display_name, exc)
    else:
        log.error("%s: cannot sync %s, skipped; the other kinds are synced: %s", connector_id,
                  resource_type.display_name, exc)
    CATALOG_TYPES_SKIPPED.labels(connector_id, resource_type.id, type(exc).__name__).inc()
    progress(f"{resource_type.display_name} skipped ({why})", 0)


def _sync_type(connector: Connector, resource_type, progress: Progress) -> tuple[list[dict], list[dict]]:
    """Entitlements of every resource of one type, and who holds the requestable ones."""
    entitlements, holdings = [], []
    for resource in pages(lambda cursor: connector.list_resources(resource_type.id, cursor)):
        found = connector.list_entitlements(resource)
        entitlements += [entitlement_row(e) for e in found]
        progress(resource_type.display_name, 1)
        # Holdings matter only where someone could ask for the access.
        if any(e.requestable for e in found):
            for grant in pages(lambda cursor, resource=resource: connector.list_grants(resource, cursor)):
                holdings.append(dict(entitlement_id=grant.entitlement_id, account_id=grant.account_id,
                                     direct=grant.direct))
                progress("grants", 1)
    return entitlements, holdings

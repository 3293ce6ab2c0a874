"""One change of a connector's change feed (connectors/changes.py) applied to the catalog's
rows, inside the caller's transaction (storage/catalog.py, `Catalog.apply`).

Each change says what IS now, so each is written as "delete what was there, insert what is":
applying it twice, or over a snapshot that already shows it, leaves the same rows.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from connectors.base import Entitlement
from connectors.changes import (
    AccountActivated,
    AccountDeactivated,
    Change,
    EntitlementAppeared,
    EntitlementGone,
    MembershipAdded,
    MembershipRemoved,
)
from storage.tables import AccountRow, EntitlementRow, FeedCursorRow, HoldingRow


def apply_change(session: Session, connector_id: str, change: Change) -> bool:
    """Apply one change; True if it changed an entitlement (the typeahead's index is stale)."""
    if isinstance(change, MembershipAdded | MembershipRemoved):
        _holding(session, connector_id, change)
        return False
    if isinstance(change, EntitlementAppeared | EntitlementGone):
        _entitlement(session, connector_id, change)
        return True
    _account(session, connector_id, change)
    return False


def restart_feed(session: Session, connector_id: str, start: datetime) -> None:
    """Read the connector's feed from `start` on, with the lease free (a sync after a gap held
    it).  The version moves on, so a poller still working from the old cursor cannot move it."""
    version = session.execute(select(FeedCursorRow.version).where(
        FeedCursorRow.connector_id == connector_id)).scalar()
    session.execute(delete(FeedCursorRow).where(FeedCursorRow.connector_id == connector_id))
    session.execute(insert(FeedCursorRow).values(
        connector_id=connector_id, position=None, read_through=start,
        version=0 if version is None else version + 1, holder=None, lease_until=None))


def entitlement_row(entitlement: Entitlement) -> dict:
    """An entitlement as a catalog row (without its connector), the same from a full sync as
    from a change feed."""
    resource = entitlement.resource
    return dict(id=entitlement.id, resource_type=resource.type, resource_id=resource.id,
                name=entitlement.display_name, resource_name=resource.name,
                description=entitlement.description, requestable=entitlement.requestable,
                provisionable=entitlement.provisionable)


def _holding(session: Session, connector_id: str, change: MembershipAdded | MembershipRemoved) -> None:
    session.execute(delete(HoldingRow).where(
        HoldingRow.connector_id == connector_id, HoldingRow.entitlement_id == change.entitlement_id,
        HoldingRow.account_id == change.account_id))
    if isinstance(change, MembershipRemoved):
        return
    requestable = session.execute(select(EntitlementRow.requestable).where(
        EntitlementRow.connector_id == connector_id,
        EntitlementRow.id == change.entitlement_id)).scalar()
    if requestable:  # holdings matter only where someone could ask for the access, as in a sync
        session.execute(insert(HoldingRow).values(
            connector_id=connector_id, entitlement_id=change.entitlement_id,
            account_id=change.account_id, direct=change.direct))


def _entitlement(session: Session, connector_id: str,
                 change: EntitlementAppeared | EntitlementGone) -> None:
    appeared = change.entitlement if isinstance(change, EntitlementAppeared) else None
    entitlement_id = appeared.id if appeared else change.entitlement_id  # type: ignore[union-attr]
    session.execute(delete(EntitlementRow).where(EntitlementRow.connector_id == connector_id,
                                                 EntitlementRow.id == entitlement_id))
    if appeared is not None:
        session.execute(insert(EntitlementRow).values(connector_id=connector_id,
                                                      **entitlement_row(appeared)))
    if appeared is None or not appeared.requestable:
        session.execute(delete(HoldingRow).where(HoldingRow.connector_id == connector_id,
                                                 HoldingRow.entitlement_id == entitlement_id))


def _account(session: Session, connector_id: str,
             change: AccountActivated | AccountDeactivated) -> None:
    if isinstance(change, AccountDeactivated):
        session.execute(update(AccountRow).where(
            AccountRow.connector_id == connector_id, AccountRow.id == change.account_id,
        ).values(active=False))
        return
    account = change.account
    session.execute(delete(AccountRow).where(AccountRow.connector_id == connector_id,
                                             AccountRow.id == account.id))
    session.execute(insert(AccountRow).values(
        connector_id=connector_id, id=account.id, email=account.email.lower(),
        display_name=account.display_name, active=account.active))

"""Changes from a connector's change feed applied to the catalog, on SQLite and PostgreSQL:
change by change, idempotent, in the transaction that moves the feed's cursor; one poller at a
time; a full sync restarts the feed; and the migration that brings the cursor to a database in
use."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import DateTime, Integer, String, column, insert, inspect, select, table

import storage.catalog
from connectors.base import Account, Entitlement, Resource
from connectors.changes import (
    AccountActivated,
    AccountDeactivated,
    EntitlementAppeared,
    EntitlementGone,
    MembershipAdded,
    MembershipRemoved,
)
from storage.catalog import Catalog, FeedStep
from storage.catalog_changes import entitlement_row
from storage.engine import make_engine, upgrade
from storage.feed_cursors import FeedCursors
from storage.tables import AccountRow, EntitlementRow, FeedCursorRow, HoldingRow, SyncRow
from tests.support.postgres import throwaway_database

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)
ENG, DATA = "group:eng:member", "group:data:member"


def group(name: str, requestable: bool = True) -> Entitlement:
    resource = Resource("group", name, name)
    return Entitlement(f"group:{name}:member", resource, "member", name, f"Member of {name}",
                       requestable=requestable)


def row(entitlement: Entitlement) -> dict:
    return entitlement_row(entitlement)


@pytest.fixture
def catalog(engine) -> Catalog:
    """A synced catalog (eng requestable, data not; Ada holds eng) whose feed starts at NOW."""
    found = Catalog(engine)
    found.replace("okta", [row(group("eng")), row(group("data", requestable=False))],
                  [dict(id="ada", email="ada@x.example", display_name="Ada", active=True)],
                  [dict(entitlement_id=ENG, account_id="ada", direct=True)], NOW, feed_from=NOW)
    return found


def step(engine, holder: str = "p1", position: str = "1", at: datetime = NOW) -> FeedStep:
    """The next step of `holder`, which takes the lease first."""
    cursor = FeedCursors(engine).take("okta", holder, at, at + LEASE)
    assert cursor is not None, "another holder has the lease"
    return FeedStep(holder, cursor.version, position, at, at + LEASE)


def test_a_full_sync_starts_the_feed_where_it_began(engine, catalog):
    cursor = FeedCursors(engine).get("okta")
    assert (cursor.position, cursor.read_through, cursor.holder) == (None, NOW, None)


def test_memberships_are_applied_one_by_one_and_only_where_they_can_be_asked_for(engine, catalog):
    """Given Bob added to eng and data (not requestable) and Ada removed from eng, then only
    Bob's eng holding is there, direct as the feed said."""
    assert catalog.apply("okta", [MembershipAdded(ENG, "bob", direct=False),
                                  MembershipAdded(DATA, "bob"), MembershipRemoved(ENG, "ada")],
                         step(engine))
    assert not catalog.holds("okta", ENG, "bob")  # held through a group only: not "held"
    assert catalog.held_by_account("okta", "ada") == []
    catalog.apply("okta", [MembershipAdded(ENG, "bob")], step(engine, position="2"))
    assert catalog.held_by_account("okta", "bob") == [ENG]


def test_applying_the_same_page_twice_leaves_the_same_catalog(engine, catalog):
    changes = [MembershipAdded(ENG, "bob"), EntitlementAppeared(group("ops")),
               AccountActivated(Account("bob", "Bob@X.example", "Bob")), AccountDeactivated("ada")]
    catalog.apply("okta", changes, step(engine, position="1"))
    first = snapshot(engine)
    catalog.apply("okta", changes, step(engine, position="2"))
    assert snapshot(engine) == first
    assert catalog.account_by_email("okta", "bob@x.example").display_name == "Bob"
    assert catalog.account_by_email("okta", "ada@x.example").active is False


def test_a_new_entitlement_is_searchable_at_once_and_a_gone_one_is_not(engine, catalog):
    """Given another replica that searched the catalog, when the feed adds a group and removes
    one, then that replica's next search shows both changes (its index noticed)."""
    searching = Catalog(engine)
    assert [hit.name for hit in searching.search("")] == ["eng"]
    catalog.apply("okta", [EntitlementAppeared(group("oncall")), EntitlementGone(ENG)], step(engine))
    assert [hit.name for hit in searching.search("")] == ["oncall"]
    assert catalog.entitlement("okta", ENG) is None and catalog.held_by_account("okta", "ada") == []
    catalog.apply("okta", [EntitlementAppeared(group("oncall", requestable=False))],
                  step(engine, position="2"))
    assert searching.search("") == []


def test_the_cursor_moves_with_the_changes_or_not_at_all(engine, catalog, monkeypatch):
    """Given a change that fails half-way through a page, then neither the changes before it
    nor the cursor move: the page is read and applied again."""
    applied = storage.catalog.apply_change

    def second_fails(session, connector_id, change):
        if isinstance(change, MembershipRemoved):
            raise RuntimeError("the database went away")
        return applied(session, connector_id, change)
    monkeypatch.setattr(storage.catalog, "apply_change", second_fails)
    before = FeedCursors(engine).get("okta")
    with pytest.raises(RuntimeError):
        catalog.apply("okta", [MembershipAdded(ENG, "bob"), MembershipRemoved(ENG, "ada")], step(engine))
    after = FeedCursors(engine).get("okta")
    assert (after.position, after.version) == (before.position, before.version)
    assert not catalog.holds("okta", ENG, "bob") and catalog.holds("okta", ENG, "ada")


def test_two_pollers_at_once_one_applies(engine, catalog):
    """Given two replicas' pollers, then only one holds the lease; and of two applies from the
    same cursor (a stalled holder and its successor), only one moves it."""
    cursors = FeedCursors(engine)
    assert cursors.take("okta", "p1", NOW, NOW + LEASE) is not None
    assert cursors.take("okta", "p2", NOW, NOW + LEASE) is None
    version = cursors.get("okta").version
    results, barrier = [], threading.Barrier(2)

    def apply(position: str) -> None:
        barrier.wait()
        results.append(catalog.apply("okta", [MembershipAdded(ENG, position)],
                                     FeedStep("p1", version, position, NOW, NOW + LEASE)))
    threads = [threading.Thread(target=apply, args=(name,)) for name in ("bob", "cyd")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, True]
    assert len(catalog.held_by_account("okta", cursors.get("okta").position)) == 1
    later = NOW + LEASE
    assert cursors.take("okta", "p2", later, later + LEASE) is not None  # p1's lease ran out


def test_a_full_sync_restarts_the_feed_and_fences_the_poller_reading_the_old_one(engine, catalog):
    stale = step(engine)
    catalog.replace("okta", [row(group("eng"))], [], [], NOW + timedelta(days=1),
                    feed_from=NOW + timedelta(hours=23))
    assert catalog.apply("okta", [MembershipAdded(ENG, "bob")], stale) is False
    cursor = FeedCursors(engine).get("okta")
    assert (cursor.position, cursor.read_through, cursor.holder) == (None, NOW + timedelta(hours=23), None)
    assert not catalog.holds("okta", ENG, "bob")


def test_a_sync_without_a_feed_leaves_the_cursor_alone(engine, catalog):
    catalog.apply("okta", [], step(engine, position="42"))
    catalog.replace("okta", [], [], [], NOW + timedelta(days=1))
    assert FeedCursors(engine).get("okta").position == "42"


def snapshot(engine) -> dict:
    """Every row of the catalog's tables."""
    with engine.connect() as connection:
        return {model.__tablename__: sorted(map(tuple, connection.execute(select(model.__table__))))
                for model in (EntitlementRow, AccountRow, HoldingRow)}


# -- the migration --------------------------------------------------------------------------
def _upgraded_from_0012(url: str) -> tuple[set[str], list]:
    """The tables, and each sync's (connector, revision), of a database at 0012 (the revision
    before the feed's) that had synced, once upgraded."""
    engine = make_engine(url)
    try:
        upgrade(engine, "0012")
        old_sync = table("catalog_sync", column("connector_id", String), column("finished_at", DateTime),
                         column("entitlements", Integer), column("accounts", Integer),
                         column("holdings", Integer))
        with engine.begin() as connection:
            connection.execute(insert(old_sync).values(
                connector_id="okta", finished_at=NOW.replace(tzinfo=None), entitlements=3,
                accounts=2, holdings=1))
        upgrade(engine)
        with engine.connect() as connection:
            synced = [tuple(r) for r in connection.execute(select(SyncRow.connector_id, SyncRow.revision))]
        return set(inspect(engine).get_table_names()), synced
    finally:
        engine.dispose()


def test_the_migration_brings_the_feed_to_a_database_in_use_on_sqlite(tmp_path):
    tables, synced = _upgraded_from_0012(f"sqlite:///{tmp_path}/old.db")
    assert FeedCursorRow.__tablename__ in tables and synced == [("okta", 0)]


def test_the_migration_brings_the_feed_to_a_database_in_use_on_postgresql():
    with throwaway_database() as url:
        tables, synced = _upgraded_from_0012(url)
    assert FeedCursorRow.__tablename__ in tables and synced == [("okta", 0)]

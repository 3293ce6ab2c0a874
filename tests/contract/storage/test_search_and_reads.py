"""The typeahead's in-memory search and read-only sessions (both made for speed; see bench/)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from storage.catalog import Catalog
from storage.engine import make_engine, upgrade
from storage.request_queries import RequestQueries
from storage.requests import Requests
from tests.support.stored import stored_request

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _entitlement(name: str, requestable: bool = True) -> dict:
    return dict(id=f"group:{name}:member", resource_type="group", resource_id=name, name=name,
                description="", requestable=requestable)


def test_search_serves_a_new_snapshot_at_once_on_every_replica(engine):
    """Given a replica that has searched the catalog, when another replica's sync replaces the
    catalog, then the first replica's next search already shows the new snapshot."""
    syncing, searching = Catalog(engine), Catalog(engine)
    syncing.replace("okta", [_entitlement("eng-admins")], [], [], NOW)
    assert [hit.name for hit in searching.search("admins")] == ["eng-admins"]

    syncing.replace("okta", [_entitlement("eng-admins"), _entitlement("data-admins"),
                             _entitlement("ops-admins", requestable=False)], [], [],
                    NOW + timedelta(minutes=15))
    assert [hit.name for hit in searching.search("ADMINS")] == ["eng-admins", "data-admins"]
    assert [hit.name for hit in searching.search("", limit=1)] == ["eng-admins"]


def test_a_read_does_not_wait_for_a_writer_on_sqlite(tmp_path):
    """Given a transaction holding SQLite's write lock, when someone reads, then the read answers
    at once from the last committed state instead of queueing behind the writer."""
    engine = make_engine(f"sqlite:///{tmp_path}/test.db")
    upgrade(engine)
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(stored_request(NOW))
    writer = engine.connect()
    writer.exec_driver_sql("UPDATE access_request SET state = 'approved'")  # holds the lock
    seen = []
    reader = threading.Thread(target=lambda: seen.append(queries.get("r1").state))
    reader.start()
    reader.join(timeout=5)  # a read queued for the lock would wait busy_timeout (30 s)
    writer.rollback()
    writer.close()
    engine.dispose()
    assert seen == ["pending"]

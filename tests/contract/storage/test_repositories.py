"""Storage guarantees the lifecycle relies on, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from bot.domain.errors import DuplicateError
from bot.domain.events import (
    AccessGranted,
    AccessRevoked,
    ConfigLoaded,
    Escalated,
    Expired,
    ExpiryWarned,
    Reminded,
    RequestApproved,
    RequestSubmitted,
    TimedOut,
)
from bot.domain.request import AccessRequest
from storage.audit_log import AuditLog
from storage.catalog import Catalog
from storage.engine import alembic_config, current_revision
from storage.request_queries import RequestQueries
from storage.requests import Requests
from tests.support.stored import stored_request

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _row(request_id: str = "r1", requester: str = "U1", state: str = "pending", **extra) -> AccessRequest:
    return stored_request(NOW, id=request_id, requester=requester, state=state, **extra)


def test_migrations_build_the_schema(engine):
    """Given an empty database, when migrated, then every table exists at the head revision."""
    tables = set(inspect(engine).get_table_names())
    assert {"access_request", "approval", "catalog_entitlement", "catalog_account",
            "catalog_holding", "audit_event", "chat_message", "person"} <= tables
    assert current_revision(engine) == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_move_is_compare_and_set(engine):
    """Given a pending request, when two movers race from 'pending', then exactly one wins."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row())
    assert requests.move("r1", "pending", state="denied") is True
    assert requests.move("r1", "pending", state="cancelled") is False
    assert queries.get("r1").state == "denied"


def test_second_pending_request_for_the_same_thing_is_refused(engine):
    """Given a pending request, when the same person asks again, then the database refuses it."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row("r1"))
    with pytest.raises(DuplicateError):
        requests.add(_row("r2"))
    requests.move("r1", "pending", state="denied")
    requests.add(_row("r3"))  # once decided, a new request is fine
    assert queries.get("r3").state == "pending"


def test_concurrent_approvals_are_counted_once_each(engine):
    """Given 2 approvals needed, when 6 threads approve as 2 people at once, then it is approved exactly once."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row())
    outcomes: list[str] = []
    barrier = threading.Barrier(6)

    def approve(approver: str) -> None:
        barrier.wait()
        outcomes.append(requests.approve("r1", approver, 0, 2, True, NOW, approved="approved")[0])

    threads = [threading.Thread(target=approve, args=(a,)) for a in ["UA", "UB"] * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    row = queries.get("r1")
    assert row.state == "approved"
    assert sorted(row.decided_by) == ["UA", "UB"]
    assert (outcomes.count("approved"), outcomes.count("counted")) == (1, 1)
    assert set(outcomes) - {"approved", "counted"} <= {"duplicate", "closed"}


def test_approvals_say_who_approved_which_step_in_order(engine):
    """Given step 1 approved by UA and step 2 by UB, then approvals maps each to their step."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row())
    requests.approve("r1", "UA", 0, 1, False, NOW, approved="approved")
    requests.approve("r1", "UB", 1, 1, False, NOW + timedelta(seconds=1), approved="approved")
    assert list(queries.approvals("r1").items()) == [("UA", 0), ("UB", 1)]
    assert queries.approvals("r2") == {}


def test_due_and_next_deadline_follow_the_stored_times(engine):
    """Given active and leased requests, then due() and next_deadline() report them by time."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row("a", "U1", "active", expires_at=NOW + timedelta(hours=1)))
    requests.add(_row("b", "U2", "revoking", lease_until=NOW + timedelta(minutes=5)))
    assert queries.due(NOW) == []
    assert queries.next_deadline() == NOW + timedelta(minutes=5)
    later = NOW + timedelta(hours=2)
    assert sorted(queries.due(later)) == [("a", "active"), ("b", "revoking")]


def test_lease_can_be_taken_over_only_after_it_runs_out(engine):
    """Given a request held under a lease, then another worker may take it only once the lease ends."""
    requests = Requests(engine)
    requests.add(_row("a", state="provisioning", lease_until=NOW + timedelta(minutes=2)))
    assert not requests.renew_lease("a", "provisioning", NOW, NOW + timedelta(minutes=4))
    assert requests.renew_lease("a", "provisioning", NOW + timedelta(minutes=3), NOW + timedelta(minutes=5))


def test_catalog_search_is_case_insensitive_and_treats_wildcards_literally(engine):
    """Given a synced catalog, when searching, then case is ignored and % or _ match only themselves."""
    catalog = Catalog(engine)
    entitlements = [dict(id=f"group:{n}:member", resource_type="group", resource_id=n, name=n,
                         description="", requestable=n != "app_group")
                    for n in ("Eng-Admins", "eng_readers", "billing", "app_group", "100%-club")]
    catalog.replace("okta", entitlements, [], [], NOW)
    assert [r.name for r in catalog.search("ENG")] == ["Eng-Admins", "eng_readers"]  # shortest name first
    assert [r.name for r in catalog.search("_")] == ["eng_readers"]
    assert [r.name for r in catalog.search("%")] == ["100%-club"]


def test_audit_log_keeps_order(engine):
    """Given several events, when read back, then they come in the order they were written."""
    audit = AuditLog(engine)
    for event in (RequestSubmitted, RequestApproved, AccessGranted):
        audit.append(event(request_id="r1", actor="U1"), NOW)
    assert [e.action for e in audit.events("r1")] == ["submitted", "approved", "activate"]


def test_outbox_delivers_one_request_in_order_and_others_in_parallel(engine):
    """Given three messages for one request and one for another, then a claim takes only the
    first of each request; the next message comes only after the first is delivered."""
    from storage.outbox import Outbox

    outbox = Outbox(engine)
    told = {"a": Reminded, "b": Escalated, "c": TimedOut, "d": ExpiryWarned}
    kind = {letter: event.kind for letter, event in told.items()}
    AuditLog(engine).append(ConfigLoaded(), NOW, also=[
        Outbox.message(told[letter](request_id=request_id), NOW)
        for request_id, letter in (("r1", "a"), ("r1", "b"), ("r2", "c"), ("r1", "d"))])
    lease = NOW + timedelta(minutes=1)
    first = outbox.claim(NOW, lease)
    assert sorted(row.kind for row in first) == sorted([kind["a"], kind["c"]])
    assert outbox.claim(NOW, lease) == []  # leased, and the rest wait their turn
    a = next(row for row in first if row.kind == kind["a"])
    outbox.retry_later(a.id, 1, NOW + timedelta(seconds=2), "Slack down")
    assert outbox.claim(NOW, lease) == []  # 'b' still waits behind the failed 'a'
    assert [row.kind for row in outbox.claim(NOW + timedelta(seconds=2), lease)] == [kind["a"]]
    outbox.delivered_all([a.id], NOW)
    assert [row.kind for row in outbox.claim(NOW, lease)] == [kind["b"]]


def _expired_grants(requests: Requests, count: int, **extra) -> list[str]:
    ids = [f"x{n:03d}" for n in range(count)]
    for n, request_id in enumerate(ids):
        requests.add(_row(request_id, f"U{n}", "active", expires_at=NOW - timedelta(seconds=count - n),
                          **extra))
    return ids


def test_replicas_claiming_revocations_at_once_take_disjoint_batches(engine):
    """Given 60 expired grants, when 4 workers (each its own engine, like replicas) claim batches
    of 8 at once until none is left, then every grant is claimed exactly once, with one
    'expire' audit event each."""
    requests, audit = Requests(engine), AuditLog(engine)
    queries = RequestQueries(engine)
    ids = _expired_grants(requests, 60)
    claims: list[str] = []
    barrier = threading.Barrier(4)

    def replica() -> None:
        mine = Requests(type(engine)(engine.pool.recreate(), engine.dialect, engine.url))
        barrier.wait()
        while batch := mine.claim_revocations(NOW, NOW + timedelta(minutes=2), 8, revoking="revoking", also=lambda row: [
                AuditLog.entry(Expired(request_id=row.id), NOW)]):
            claims.extend(row.id for row in batch)

    threads = [threading.Thread(target=replica) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claims) == ids
    assert {queries.get(i).state for i in ids} == {"revoking"}
    assert [e.request_id for e in audit.events() if e.action == "expire"].count(ids[0]) == 1
    assert len([e for e in audit.events() if e.action == "expire"]) == 60


def test_an_abandoned_batch_of_revocations_is_taken_over_only_after_its_lease(engine):
    """Given a batch claimed by a worker that then died, when others claim, then they get
    nothing while the lease runs and the whole batch (without a second 'expire' event) after."""
    requests, audit = Requests(engine), AuditLog(engine)
    ids = _expired_grants(requests, 5)
    expire = lambda row: [AuditLog.entry(Expired(request_id=row.id), NOW)]  # noqa: E731
    first = requests.claim_revocations(NOW, NOW + timedelta(minutes=2), 10, revoking="revoking", also=expire)
    assert [row.id for row in first] == ids  # soonest expiry first
    assert requests.claim_revocations(NOW + timedelta(minutes=1), NOW + timedelta(minutes=3), 10, revoking="revoking",
                                      also=expire) == []
    later = NOW + timedelta(minutes=3)
    again = requests.claim_revocations(later, later + timedelta(minutes=2), 3, revoking="revoking", also=expire)
    assert [row.id for row in again] == ids[:3]
    assert {row.lease_until for row in again} == {later + timedelta(minutes=2)}
    assert len([e for e in audit.events() if e.action == "expire"]) == 5


def test_claiming_revocations_leaves_manual_and_unexpired_grants_to_the_others(engine):
    """Given a manual expired grant and an unexpired one, then the batch claim takes neither,
    and due() without revocations still lists the manual one, but not what the claim takes."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row("manual", "U1", "active", expires_at=NOW - timedelta(minutes=1), manual=True))
    requests.add(_row("later", "U2", "active", expires_at=NOW + timedelta(hours=1)))
    requests.add(_row("auto", "U3", "active", expires_at=NOW - timedelta(minutes=1)))
    assert [r.id for r in requests.claim_revocations(NOW, NOW + timedelta(minutes=2), 10, revoking="revoking")] == ["auto"]
    assert queries.due(NOW, revocations=False) == [("manual", "active")]
    assert sorted(queries.due(NOW + timedelta(minutes=3))) == [("auto", "revoking"), ("manual", "active")]
    assert sorted(queries.due(NOW + timedelta(minutes=3), revocations=False)) == [("manual", "active")]


def test_a_released_claim_is_due_again_at_once_but_only_the_holder_can_release(engine):
    requests = Requests(engine)
    _expired_grants(requests, 1)
    lease = NOW + timedelta(minutes=2)
    requests.claim_revocations(NOW, lease, 10, revoking="revoking")
    assert not requests.release("x000", "revoking", lease + timedelta(seconds=1))
    assert requests.release("x000", "revoking", lease)
    assert [r.id for r in requests.claim_revocations(NOW, lease, 10, revoking="revoking")] == ["x000"]


def test_move_each_applies_each_compare_and_set_on_its_own(engine):
    """Given two requests, when one transaction moves both but one is no longer in the expected
    state, then only the other changes, and only its audit event is written."""
    requests, audit = Requests(engine), AuditLog(engine)
    requests.add(_row("a", "U1", "revoking"))
    requests.add(_row("b", "U2", "revoked"))
    rows = requests.move_each([
        (request_id, "revoking", {"state": "revoked", "revoked_at": NOW},
         [AuditLog.entry(AccessRevoked(request_id=request_id), NOW)]) for request_id in ("a", "b")])
    assert rows[1] is None and rows[0].state == "revoked" and rows[0].revoked_at == NOW
    assert [e.request_id for e in audit.events()] == ["a"]


def test_dispatchers_claiming_the_outbox_at_once_take_disjoint_rows(engine):
    """Given 40 messages of 40 requests, when 4 dispatchers claim at once, then each is claimed once."""
    from storage.outbox import Outbox

    AuditLog(engine).append(ConfigLoaded(), NOW, also=[Outbox.message(Reminded(request_id=f"r{n}"), NOW)
                                                     for n in range(40)])
    claims: list[int] = []
    barrier = threading.Barrier(4)

    def dispatcher() -> None:
        outbox = Outbox(type(engine)(engine.pool.recreate(), engine.dialect, engine.url))
        barrier.wait()
        while rows := outbox.claim(NOW, NOW + timedelta(minutes=1), limit=5):
            claims.extend(row.id for row in rows)
            outbox.delivered_all([row.id for row in rows], NOW)

    threads = [threading.Thread(target=dispatcher) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claims) == len(set(claims)) == 40
    assert Outbox(engine).pending() == 0

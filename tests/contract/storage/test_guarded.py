"""A requester's guarded transitions run one at a time, on SQLite and PostgreSQL, from one
process or two replicas: what one checks, the other has not changed meanwhile."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.request import AccessRequest
from storage.engine import make_engine
from storage.request_queries import RequestQueries
from storage.requests import Requests
from tests.support.stored import stored_request

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def _row(request_id: str, group: str = "00g1", state: str = "pending") -> AccessRequest:
    return stored_request(NOW, id=request_id, entitlement_id=f"group:{group}:member", entitlement_name=group,
                          state=state)


@pytest.fixture
def replicas(engine):
    """Two repositories on one database, each with its own engine, as two replicas have."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    yield Requests(engine), Requests(other)
    other.dispose()


def at_once(*actions) -> list:
    """Run each action on a thread of its own, started together; their results or exceptions."""
    barrier, results = threading.Barrier(len(actions)), [None] * len(actions)

    def run(n, action):
        barrier.wait()
        try:
            results[n] = action()
        except Exception as exc:  # the caller looks at what each one raised
            results[n] = exc

    threads = [threading.Thread(target=run, args=(n, a)) for n, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


class Refused(Exception):
    pass


def between_read_and_write() -> None:
    """Hold the window between a check and its write open a little: without the lock, the
    contenders would all read before any of them writes."""
    time.sleep(0.05)


def test_a_count_and_an_insert_are_one_step_across_replicas(replicas):
    """Given a cap of one request, when six submissions (three on each replica) count and insert
    at the same instant, then exactly one is stored."""
    def submit(requests, n):
        def decide(reads):
            if reads.asked_since(NOW - timedelta(hours=1)) >= 1:
                raise Refused()
            between_read_and_write()
            return [_row(f"r{n}", group=f"00g{n}")], []
        return lambda: requests.guarded("U1", decide)

    results = at_once(*(submit(replicas[n % 2], n) for n in range(6)))
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, Refused) for r in results if isinstance(r, Exception))
    assert len(RequestQueries(replicas[0].engine).read_as("U1", lambda reads: reads.live())) == 1


def test_two_approvals_that_exclude_each_other_let_one_through(replicas):
    """Given two pending requests of one person that must not both be approved, when each is
    approved on its own replica at the same instant, then exactly one is approved."""
    first, second = replicas
    queries = RequestQueries(first.engine)
    first.add(_row("a", group="00ga"))
    first.add(_row("b", group="00gb"))

    def refuse_next_to_an_approved(reads, row, approves):
        if not approves:
            return
        if any(other.state == "approved" and other.id != row.id for other in reads.live()):
            raise Refused()
        between_read_and_write()

    results = at_once(*(lambda r=requests, i=request_id: r.approve(
        i, "UAPPROVER", 0, 1, True, NOW, approved="approved", guard=refuse_next_to_an_approved)
        for requests, request_id in ((first, "a"), (second, "b"))))
    assert sorted(type(r).__name__ for r in results) == ["Refused", "tuple"]
    states = sorted(queries.get(i).state for i in ("a", "b"))
    assert states == ["approved", "pending"]
    loser = "a" if queries.get("a").state == "pending" else "b"
    assert queries.approvals(loser) == {}  # the refused approval was not counted either


def test_a_refused_decision_writes_nothing(engine):
    """Given a guarded move that raises, then neither its rows nor its moves are written."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row("a"))

    def decide(reads):
        raise Refused()

    with pytest.raises(Refused):
        requests.guarded("U1", decide)
    assert queries.get("a").state == "pending"


def test_moves_are_compare_and_set(engine):
    """Given a request already moved on, a guarded move from its old state loses and writes
    nothing of its own."""
    requests = Requests(engine)
    queries = RequestQueries(engine)
    requests.add(_row("a", state="approved"))
    rows = requests.guarded("U1", lambda reads: ([], [("a", "pending", {"state": "denied"}, [])]))
    assert rows == [None] and queries.get("a").state == "approved"

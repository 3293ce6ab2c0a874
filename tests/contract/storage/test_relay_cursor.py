"""Relay cursors: one holder at a time, fenced writes, and a start that skips old history."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from bot.domain.events import DriftFound
from storage.audit_log import AuditLog
from storage.relay_cursor import RelayCursors

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=1)


def test_a_new_cursor_starts_after_the_history_before_its_start(engine):
    """Given events from before and after `start_before`, then a new cursor starts between them."""
    audit = AuditLog(engine)
    audit.append(DriftFound(), NOW - timedelta(days=2))
    audit.append(DriftFound(), NOW - timedelta(days=1))
    audit.append(DriftFound(), NOW)
    cursors = RelayCursors(engine)
    assert cursors.take("c", "a", NOW, NOW + LEASE, start_before=NOW - timedelta(hours=1)) == 2
    assert [row.seq for row, _ in cursors.events_after(2, 10)] == [3]


def test_only_one_holder_at_a_time_until_the_lease_runs_out(engine):
    """Given A holds the lease, then B cannot take it, move the cursor or renew, until the
    lease runs out; then B takes it and A's late writes are refused."""
    cursors = RelayCursors(engine)
    assert cursors.take("c", "a", NOW, NOW + LEASE, start_before=NOW) == 0
    assert cursors.take("c", "a", NOW, NOW + LEASE, start_before=NOW) == 0  # renewing is fine
    assert cursors.take("c", "b", NOW, NOW + LEASE, start_before=NOW) is None
    assert cursors.advance("c", "b", 0, 5, NOW + LEASE) is False
    assert cursors.advance("c", "a", 0, 3, NOW + LEASE) is True
    assert cursors.advance("c", "a", 0, 4, NOW + LEASE) is False  # not from where it is
    later = NOW + LEASE
    assert cursors.take("c", "b", later, later + LEASE, start_before=NOW) == 3
    assert cursors.renew("c", "a", later + LEASE) is False
    assert cursors.advance("c", "a", 3, 9, later + LEASE) is False
    cursors.release("c", "a")  # not a's to give up
    assert cursors.get("c").holder == "b"
    cursors.release("c", "b")
    assert cursors.take("c", "a", later, later + LEASE, start_before=NOW) == 3


def test_replicas_starting_together_get_one_holder(engine):
    """Given eight replicas take a cursor that does not exist yet, all at once, then exactly one
    holds it."""
    cursors, won = RelayCursors(engine), []
    barrier = threading.Barrier(8)

    def take(name: str) -> None:
        barrier.wait()
        if cursors.take("c", name, NOW, NOW + LEASE, start_before=NOW) is not None:
            won.append(name)

    threads = [threading.Thread(target=take, args=(f"r{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and cursors.get("c").holder == won[0]

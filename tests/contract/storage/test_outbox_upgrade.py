"""Messages waiting in the outbox when Latchkey is upgraded are delivered as the events they
tell of: the migration rewrites what an older version stored."""

import json
from datetime import UTC, datetime

from sqlalchemy import insert

from bot.domain.events import SYSTEM, ApprovalCounted, Reminded, StepApproved
from storage.engine import make_engine, upgrade
from storage.outbox import Outbox
from storage.tables import OutboxRow
from tests.support.postgres import throwaway_database

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
# What the version before typed events wrote: its message kinds and their arguments.
OLD_MESSAGES = [("next_step", {"approver": "U0ALICE", "approvers": ["U0BOB", "U0DAN"]}),
                ("approval_counted", {"approver": "U0ALICE", "needed": 2}),
                ("reminder", {"approvers": ["U0BOB"]})]


EXPECTED = [StepApproved(request_id="r1", actor="U0ALICE", next_approvers=("U0BOB", "U0DAN")),
            ApprovalCounted(request_id="r1", actor="U0ALICE", needed=2),
            Reminded(request_id="r1", actor=SYSTEM, approvers=("U0BOB",))]


def _upgraded_from_0010(url: str) -> list:
    """The events the old messages read back as after an upgrade, in delivery order."""
    engine = make_engine(url)
    try:
        upgrade(engine, "0010")
        with engine.begin() as connection:
            connection.execute(insert(OutboxRow.__table__), [
                dict(request_id="r1", kind=kind, args=json.dumps(args), created_at=NOW, next_attempt_at=NOW)
                for kind, args in OLD_MESSAGES])
        upgrade(engine)
        outbox, events = Outbox(engine), []
        while rows := outbox.claim(NOW, NOW, limit=10):  # one request's messages come one at a time
            events += [Outbox.event(row) for row in rows]
            outbox.delivered_all([row.id for row in rows], NOW)
        return events
    finally:
        engine.dispose()


def test_waiting_messages_read_back_as_their_events_after_an_upgrade_on_sqlite(tmp_path):
    """Given a database at 0010 with undelivered messages in the old shape, when upgraded, then
    each reads back as its event with what it used to carry (the next step's approvers are
    still asked; the approver is the event's actor)."""
    assert _upgraded_from_0010(f"sqlite:///{tmp_path}/old.db") == EXPECTED


def test_waiting_messages_read_back_as_their_events_after_an_upgrade_on_postgresql():
    with throwaway_database() as url:
        assert _upgraded_from_0010(url) == EXPECTED

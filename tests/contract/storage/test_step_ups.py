"""Step-up challenges in the database, on SQLite and PostgreSQL alike: one open challenge per
decision (what keeps a double click, or two replicas, from sending a second push), moves that
are compare-and-sets, and a closed challenge that makes room for a new one."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.domain.events import StepUpStarted
from bot.domain.step_up import ChallengeState, Decision
from storage.audit_log import AuditLog
from storage.requests import Requests
from storage.step_ups import StepUpChallenges
from tests.support.stored import stored_request

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def test_one_open_challenge_per_decision_and_a_closed_one_makes_room(engine):
    Requests(engine).add(stored_request(NOW, id="r1", requester="U1", state="pending"))
    challenges = StepUpChallenges(engine)
    first = challenges.open("r1", "UALICE", Decision.APPROVE, NOW)
    assert first is not None and first.state is ChallengeState.WAITING and first.poll is None
    assert challenges.open("r1", "UALICE", Decision.APPROVE, NOW) is None  # the double click
    assert challenges.open("r1", "UALICE", Decision.REVIEW, NOW) is not None  # another decision
    assert challenges.open("r1", "UBOB", Decision.APPROVE, NOW) is not None  # another approver

    audit = AuditLog(engine)
    assert challenges.sent(first.id, "/poll/1", also=[audit.entry(StepUpStarted(
        request_id="r1", actor="UALICE", decision="approve"), NOW)])
    assert [c.poll for c in challenges.in_state(ChallengeState.WAITING) if c.id == first.id] == ["/poll/1"]
    assert [e.action for e in audit.events("r1")] == ["step_up_started"]

    assert challenges.move(first.id, ChallengeState.WAITING, ChallengeState.PASSED)
    assert not challenges.move(first.id, ChallengeState.WAITING, ChallengeState.FAILED)  # lost the race
    assert challenges.passed("r1", "UALICE", Decision.APPROVE)
    assert challenges.open("r1", "UALICE", Decision.APPROVE, NOW) is None  # passed is still open
    assert challenges.move(first.id, ChallengeState.PASSED, ChallengeState.DONE)
    assert not challenges.passed("r1", "UALICE", Decision.APPROVE)
    assert challenges.open("r1", "UALICE", Decision.APPROVE, NOW) is not None

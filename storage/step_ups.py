"""Step-up challenges (bot/domain/step_up.py): opened once per decision, moved on by
compare-and-set, each move written with its audit event and message."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from bot.domain.step_up import Challenge, ChallengeState, Decision
from storage.base import Repository
from storage.mapping import rows_of
from storage.tables import StepUpRow

CLOSED = (ChallengeState.DONE, ChallengeState.FAILED)


class StepUpChallenges(Repository):
    def open(self, request_id: str, approver: str, decision: Decision, now: datetime) -> Challenge | None:
        """A new waiting challenge, or None while one for the same decision is open."""
        row = StepUpRow(id=uuid.uuid4().hex, request_id=request_id, approver=approver,
                        decision=decision.value, state=ChallengeState.WAITING.value, started_at=now,
                        open_key=f"{request_id}:{approver}:{decision.value}")
        with self._session() as session:
            session.add(row)
            try:
                session.commit()
            except IntegrityError:
                return None
        return _challenge(row)

    def sent(self, challenge_id: str, poll: str, also: Iterable = ()) -> bool:
        """The push is on the phone: its outcome is read at `poll`."""
        return self._move(challenge_id, ChallengeState.WAITING, ChallengeState.WAITING, also, poll=poll)

    def move(self, challenge_id: str, seen: ChallengeState, to: ChallengeState, also: Iterable = ()) -> bool:
        """Compare-and-set from `seen` to `to`, with `also` written only if it wins."""
        closed = {"open_key": None} if to in CLOSED else {}
        return self._move(challenge_id, seen, to, also, **closed)

    def _move(self, challenge_id: str, seen: ChallengeState, to: ChallengeState, also: Iterable,
              **changes: object) -> bool:
        with self._session() as session:
            won = session.execute(update(StepUpRow).where(
                StepUpRow.id == challenge_id, StepUpRow.state == seen.value).values(
                    state=to.value, **changes).execution_options(synchronize_session=False)).rowcount == 1
            if won:
                session.add_all(rows_of(also))
            session.commit()
            return won

    def in_state(self, state: ChallengeState) -> list[Challenge]:
        with self._reading() as session:
            return [_challenge(row) for row in session.execute(select(StepUpRow).where(
                StepUpRow.state == state.value).order_by(StepUpRow.started_at)).scalars()]

    def passed(self, request_id: str, approver: str, decision: Decision) -> bool:
        """Whether `approver` confirmed `decision` on the request and it is not yet applied."""
        with self._reading() as session:
            return session.execute(select(StepUpRow.id).where(
                StepUpRow.request_id == request_id, StepUpRow.approver == approver,
                StepUpRow.decision == decision.value,
                StepUpRow.state == ChallengeState.PASSED.value)).first() is not None


def _challenge(row: StepUpRow) -> Challenge:
    return Challenge(id=row.id, request_id=row.request_id, approver=row.approver,
                     decision=Decision(row.decision), state=ChallengeState(row.state),
                     started_at=row.started_at, poll=row.poll)

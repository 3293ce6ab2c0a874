"""Step-up: under a rule with `step_up`, an approval (or a break-glass review) counts only once
the approver accepts a push Latchkey sends to their phone.

    click ──> the click-time checks ──> push sent, challenge WAITING ("check your phone")
    each poll: WAITING ──SUCCESS──> PASSED ──> the decision, through Decide as any other ──> DONE
                       └─REJECTED / TIMEOUT──> FAILED (audited, the approver told; nothing counts)

The challenge is stored before the push is sent, once per decision (a double click finds it
open and sends nothing), and moved on by compare-and-set, so a restart picks up where it was:
a push still waiting is polled again, and a passed one whose decision was not yet applied is
applied then.  Applying it twice is harmless: an approver's approval is counted once
(`Requests.approve`), a review recorded once (`set_once`).  Decide itself refuses a decision
that needs a step-up and has none passed (`Decide.check_step_up`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from bot.domain.errors import AlreadyDecidedError, LatchkeyError, NoPushFactorError, StepUpPendingError
from bot.domain.events import StepUpFailed, StepUpPassed, StepUpStarted
from bot.domain.kinds import StepUp
from bot.domain.request import AccessRequest
from bot.domain.step_up import Challenge, ChallengeState, Decision, PushResult
from bot.ports import PushVerifier, StepUpStore
from bot.usecases.core import Core
from bot.usecases.decide import Decide

log = logging.getLogger(__name__)

# A challenge whose push was never confirmed sent (the process stopped mid-call) is given up
# after this: Okta's own pushes expire after five minutes.
LOST_AFTER = timedelta(minutes=5)
_FAILED = {PushResult.REJECTED: "the push was rejected", PushResult.TIMEOUT: "the push timed out"}


class StepUps:
    def __init__(self, core: Core, decide: Decide, challenges: StepUpStore, verifier: PushVerifier,
                 email_of: Callable[[str], str | None]) -> None:
        self.core, self.decide, self.challenges = core, decide, challenges
        self.verifier, self.email_of = verifier, email_of

    # -- clicks ------------------------------------------------------------------------------
    def approve(self, request_id: str, approver: str) -> AccessRequest:
        request = self.decide.check_decidable(request_id, approver)
        if not self.required(request):
            return self.decide.approve(request_id, approver)
        return self._start(request, approver, Decision.APPROVE)

    def review(self, request_id: str, person: str) -> AccessRequest:
        request = self.decide.check_reviewable(request_id, person)
        if not self.required(request):
            return self.decide.review(request_id, person)
        return self._start(request, person, Decision.REVIEW)

    def required(self, request: AccessRequest) -> bool:
        return self.core.rules().named(request.rule).kind(StepUp).required

    def _start(self, request: AccessRequest, approver: str, decision: Decision) -> AccessRequest:
        core = self.core
        email = self.email_of(approver)
        challenge = self.challenges.open(request.id, approver, decision, core.clock.now())
        if challenge is None:
            raise StepUpPendingError("A push to confirm this is already on your phone: accept it "
                                     "in Okta Verify.")
        try:
            if not email:
                raise NoPushFactorError("Latchkey cannot find your email to send the push with.")
            poll = self.verifier.send_push(email)
        except LatchkeyError as error:
            self._fail(challenge, ChallengeState.WAITING, str(error), tell=False)  # told at the click
            raise
        self.challenges.sent(challenge.id, poll, also=core.recorded(StepUpStarted(
            request_id=request.id, actor=approver, decision=decision.value)))
        core.notifier.wake()
        return request

    # -- the background poll -----------------------------------------------------------------
    def settle(self) -> int:
        """Poll every waiting push and apply every passed decision; returns how many ended."""
        ended = 0
        for challenge in self.challenges.in_state(ChallengeState.PASSED):
            ended += self._apply(challenge)
        for challenge in self.challenges.in_state(ChallengeState.WAITING):
            ended += self._poll(challenge)
        return ended

    def _poll(self, challenge: Challenge) -> int:
        if challenge.poll is None:
            if self.core.clock.now() - challenge.started_at < LOST_AFTER:
                return 0  # still being sent
            return self._fail(challenge, ChallengeState.WAITING, "the push could not be followed")
        try:
            result = self.verifier.push_result(challenge.poll)
        except LatchkeyError as error:  # Okta is away: ask again at the next poll
            log.warning("cannot read step-up %s: %s", challenge.id, error)
            return 0
        if result is PushResult.WAITING:
            return 0
        if result is not PushResult.SUCCESS:
            return self._fail(challenge, ChallengeState.WAITING, _FAILED[result])
        if not self.challenges.move(challenge.id, ChallengeState.WAITING, ChallengeState.PASSED,
                                    also=self.core.recorded(StepUpPassed(
                                        request_id=challenge.request_id, actor=challenge.approver,
                                        decision=challenge.decision.value))):
            return 0  # another poller (replica) got there first
        return self._apply(challenge)

    def _apply(self, challenge: Challenge) -> int:
        """The confirmed decision, through the same checks and compare-and-set as any other.
        Already applied (before a restart, or by another replica at the same moment), it only
        closes the challenge."""
        refusal = None
        if not self._applied(challenge):
            try:
                if challenge.decision is Decision.APPROVE:
                    self.decide.approve(challenge.request_id, challenge.approver)
                else:
                    self.decide.review(challenge.request_id, challenge.approver)
            except LatchkeyError as error:
                refusal = None if self._applied(challenge) else _refusal(error)
        if refusal is not None:
            return self._fail(challenge, ChallengeState.PASSED, refusal)
        self.challenges.move(challenge.id, ChallengeState.PASSED, ChallengeState.DONE)
        return 1

    def _applied(self, challenge: Challenge) -> bool:
        if challenge.decision is Decision.APPROVE:
            return challenge.approver in self.core.lookup.approvals(challenge.request_id)
        return self.core.get(challenge.request_id).reviewed_by == challenge.approver

    def _fail(self, challenge: Challenge, seen: ChallengeState, outcome: str, tell: bool = True) -> int:
        failed = StepUpFailed(request_id=challenge.request_id, actor=challenge.approver,
                              decision=challenge.decision.value, outcome=outcome)
        if self.challenges.move(challenge.id, seen, ChallengeState.FAILED,
                                also=self.core.recorded(failed, tell=tell)) and tell:
            self.core.notifier.wake()
        return 1


def _refusal(error: LatchkeyError) -> str:
    if isinstance(error, AlreadyDecidedError):
        return f"the request is already {error.request.state.value.replace('_', ' ')}"
    return str(error)

"""Step-up in memory: the rule kind, the invariant Decide keeps, and the step-up use case with
fakes behind its ports (the push service, the challenge store, Decide): one push per decision,
only SUCCESS applies it, once, and a restart or an outage loses nothing."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from bot.config import ConfigError, parse_config
from bot.domain.errors import (
    AlreadyDecidedError,
    NoPushFactorError,
    StepUpPendingError,
    StepUpRequiredError,
    StepUpUnavailableError,
)
from bot.domain.events import StepUpFailed, StepUpPassed, StepUpStarted
from bot.domain.kinds import StepUp, StepUpMethod
from bot.domain.policy import Policy
from bot.domain.request import AccessRequest, State
from bot.domain.rules import Rule, RuleBook
from bot.domain.step_up import Challenge, ChallengeState, Decision, PushResult
from bot.invariants import Invariants
from bot.usecases.core import Core
from bot.usecases.step_up import LOST_AFTER, StepUps
from tests.support.config import offline_config_text

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ALICE, CAROL = "UALICE", "UCAROL"
POLICY = Policy(durations=(timedelta(hours=1),), max_duration=timedelta(hours=1))
STEPPED_UP = RuleBook(default=Rule("default", POLICY, kinds=(StepUp(StepUpMethod.OKTA_VERIFY),)))
PLAIN = RuleBook(default=Rule("default", POLICY))
REQUEST = AccessRequest(id="a1", requester=CAROL, requester_email="carol@acme.com", account_id="00u1",
                        connector_id="okta", entitlement_id="g1", entitlement_name="eng-admins",
                        duration=timedelta(hours=1), justification="deploy", state=State.PENDING,
                        created_at=NOW, rule="default")


# -- the kind and the config ----------------------------------------------------------------

def test_the_config_word_becomes_the_kind_and_anything_else_is_refused():
    book = parse_config(offline_config_text(["U0ALICE"], durations=["1h"], max_duration="1h",
                                            step_up="okta_verify")).policy.to_rulebook()
    assert book.default.kind(StepUp).method is StepUpMethod.OKTA_VERIFY
    with pytest.raises(ConfigError, match="step_up"):
        parse_config(offline_config_text(["U0ALICE"], durations=["1h"], max_duration="1h", step_up="sms"))


def test_a_bundle_rule_without_step_up_is_weaker_than_an_item_rule_with_it():
    assert any("step_up" in reason for reason in PLAIN.default.weaker_than(STEPPED_UP.default))
    assert STEPPED_UP.default.weaker_than(PLAIN.default) == []


def test_the_invariant_refuses_a_decision_without_a_passed_push_under_the_rule():
    passed: set[tuple[str, str, Decision]] = set()
    invariants = Invariants(lambda: STEPPED_UP, catalog=None,  # type: ignore[arg-type]
                            stepped_up=lambda *key: key in passed)
    with pytest.raises(StepUpRequiredError):
        invariants.check_step_up(REQUEST, ALICE, Decision.APPROVE)
    passed.add(("a1", ALICE, Decision.REVIEW))  # a passed review is no approval
    with pytest.raises(StepUpRequiredError):
        invariants.check_step_up(REQUEST, ALICE, Decision.APPROVE)
    passed.add(("a1", ALICE, Decision.APPROVE))
    invariants.check_step_up(REQUEST, ALICE, Decision.APPROVE)
    Invariants(lambda: PLAIN, catalog=None).check_step_up(REQUEST, ALICE, Decision.APPROVE)  # type: ignore[arg-type]


# -- the use case ---------------------------------------------------------------------------

class Challenges:
    """The challenge store in memory, each move a compare-and-set as in storage; what each move
    wrote is kept in `written`."""

    def __init__(self) -> None:
        self.rows: dict[str, Challenge] = {}
        self.written: list[Any] = []

    def open(self, request_id: str, approver: str, decision: Decision, now: datetime) -> Challenge | None:
        if any((c.request_id, c.approver, c.decision) == (request_id, approver, decision) and
               c.state in (ChallengeState.WAITING, ChallengeState.PASSED) for c in self.rows.values()):
            return None
        challenge = Challenge(f"c{len(self.rows)}", request_id, approver, decision, ChallengeState.WAITING, now)
        self.rows[challenge.id] = challenge
        return challenge

    def sent(self, challenge_id: str, poll: str, also: Any = ()) -> bool:
        self.rows[challenge_id] = replace(self.rows[challenge_id], poll=poll)
        self.written += list(also)
        return True

    def move(self, challenge_id: str, seen: ChallengeState, to: ChallengeState, also: Any = ()) -> bool:
        if self.rows[challenge_id].state is not seen:
            return False
        self.rows[challenge_id] = replace(self.rows[challenge_id], state=to)
        self.written += list(also)
        return True

    def in_state(self, state: ChallengeState) -> list[Challenge]:
        return [c for c in self.rows.values() if c.state is state]

    def passed(self, request_id: str, approver: str, decision: Decision) -> bool:
        return any((c.request_id, c.approver, c.decision, c.state) ==
                   (request_id, approver, decision, ChallengeState.PASSED) for c in self.rows.values())

    def events(self) -> list[Any]:
        return [row[1] for row in self.written if row[0] == "audit"]


@dataclass
class Phone:
    """The push service: `factor` says whether the person has one; `results` what each poll reads."""

    factor: bool = True
    results: list[Any] = field(default_factory=list)
    sent: int = 0

    def send_push(self, email: str) -> str:
        if not self.factor:
            raise NoPushFactorError("no active Okta Verify push")
        self.sent += 1
        return f"/poll/{self.sent}"

    def push_result(self, poll: str) -> PushResult:
        result = self.results.pop(0) if self.results else PushResult.WAITING
        if isinstance(result, Exception):
            raise result
        return result


@dataclass
class FakeDecide:
    """Decide as the use case sees it: the click-time checks, and the decisions it records."""

    refusal: Exception | None = None
    approvals: dict[str, int] = field(default_factory=dict)
    reviewed: list[str] = field(default_factory=list)

    def check_decidable(self, request_id: str, approver: str) -> AccessRequest:
        return REQUEST

    check_reviewable = check_decidable

    def approve(self, request_id: str, approver: str) -> AccessRequest:
        if self.refusal:
            raise self.refusal
        self.approvals[approver] = 0
        return REQUEST

    def review(self, request_id: str, person: str) -> AccessRequest:
        self.reviewed.append(person)
        return REQUEST


def _step_ups(book: RuleBook = STEPPED_UP, phone: Phone | None = None, now: datetime = NOW):
    challenges, decide, phone = Challenges(), FakeDecide(), phone or Phone()
    lookup = SimpleNamespace(approvals=lambda request_id: decide.approvals,
                             get=lambda request_id: replace(REQUEST, reviewed_by=(decide.reviewed or [None])[0]))
    core = Core(requests=None, lookup=lookup, audit=SimpleNamespace(entry=lambda event, at: ("audit", event)),  # type: ignore[arg-type]
                notifier=SimpleNamespace(message=lambda event: ("message", event), wake=lambda: None),  # type: ignore[arg-type]
                clock=SimpleNamespace(now=lambda: now), rules=lambda: book, wake=lambda when: None,  # type: ignore[arg-type]
                workers=None)  # type: ignore[arg-type]
    use_case = StepUps(core, decide, challenges, phone, email_of=lambda person: "alice@acme.com")  # type: ignore[arg-type]
    return use_case, challenges, decide, phone


def test_without_step_up_the_click_approves_at_once_and_sends_nothing():
    step_ups, challenges, decide, phone = _step_ups(book=PLAIN)
    step_ups.approve("a1", ALICE)
    assert decide.approvals == {ALICE: 0} and phone.sent == 0 and challenges.rows == {}


def test_a_second_click_while_the_push_waits_sends_no_second_push():
    step_ups, challenges, decide, phone = _step_ups()
    step_ups.approve("a1", ALICE)
    with pytest.raises(StepUpPendingError):
        step_ups.approve("a1", ALICE)
    assert phone.sent == 1 and decide.approvals == {}
    assert [type(e) for e in challenges.events()] == [StepUpStarted]


def test_no_push_factor_is_refused_at_the_click_and_closes_the_challenge():
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(factor=False))
    with pytest.raises(NoPushFactorError):
        step_ups.approve("a1", ALICE)
    assert [c.state for c in challenges.rows.values()] == [ChallengeState.FAILED]
    with pytest.raises(NoPushFactorError):  # not "already waiting": nothing is
        step_ups.approve("a1", ALICE)


def test_success_applies_the_decision_once_and_closes_the_challenge():
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(results=[PushResult.WAITING, PushResult.SUCCESS]))
    step_ups.approve("a1", ALICE)
    assert step_ups.settle() == 0 and decide.approvals == {}  # still waiting
    assert step_ups.settle() == 1 and decide.approvals == {ALICE: 0}
    assert step_ups.settle() == 0
    assert [c.state for c in challenges.rows.values()] == [ChallengeState.DONE]
    assert [type(e) for e in challenges.events()] == [StepUpStarted, StepUpPassed]


@pytest.mark.parametrize("result, outcome", [(PushResult.REJECTED, "the push was rejected"),
                                             (PushResult.TIMEOUT, "the push timed out")])
def test_a_rejected_or_timed_out_push_applies_nothing_and_is_audited(result, outcome):
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(results=[result]))
    step_ups.approve("a1", ALICE)
    step_ups.settle()
    assert decide.approvals == {}
    failed = challenges.events()[-1]
    assert isinstance(failed, StepUpFailed) and failed.outcome == outcome
    assert ("message", failed) in challenges.written  # the approver is told


def test_a_passed_push_whose_decision_was_applied_before_a_restart_is_not_applied_again():
    step_ups, challenges, decide, phone = _step_ups()
    step_ups.approve("a1", ALICE)
    challenges.move("c0", ChallengeState.WAITING, ChallengeState.PASSED)
    decide.approvals[ALICE] = 0  # counted, then the process stopped before closing the challenge
    decide.refusal = AssertionError("approved twice")
    assert step_ups.settle() == 1
    assert challenges.rows["c0"].state is ChallengeState.DONE


def test_a_passed_push_whose_decision_is_refused_meanwhile_is_failed_and_told():
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(results=[PushResult.SUCCESS]))
    step_ups.approve("a1", ALICE)
    decide.refusal = AlreadyDecidedError(replace(REQUEST, state=State.CANCELLED))
    step_ups.settle()
    failed = challenges.events()[-1]
    assert isinstance(failed, StepUpFailed) and failed.outcome == "the request is already cancelled"


def test_an_okta_outage_leaves_the_push_waiting_for_the_next_poll():
    outage = StepUpUnavailableError("Okta is away")
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(results=[outage, PushResult.SUCCESS]))
    step_ups.approve("a1", ALICE)
    assert step_ups.settle() == 0 and challenges.rows["c0"].state is ChallengeState.WAITING
    step_ups.settle()
    assert decide.approvals == {ALICE: 0}


@pytest.mark.parametrize("age, state", [(LOST_AFTER - timedelta(seconds=1), ChallengeState.WAITING),
                                        (LOST_AFTER, ChallengeState.FAILED)])
def test_a_push_never_confirmed_sent_is_given_up_after_a_while(age, state):
    step_ups, challenges, decide, phone = _step_ups(now=NOW + age)
    challenges.open("a1", ALICE, Decision.APPROVE, NOW)  # the process stopped while sending
    step_ups.settle()
    assert challenges.rows["c0"].state is state and decide.approvals == {}


def test_a_review_under_the_rule_waits_for_the_push_too():
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(results=[PushResult.SUCCESS]))
    step_ups.review("a1", ALICE)
    assert decide.reviewed == [] and phone.sent == 1
    step_ups.settle()
    assert decide.reviewed == [ALICE]


def test_step_up_without_an_okta_connector_to_send_the_push_is_refused():
    data = yaml.safe_load(offline_config_text(["U0ALICE"], durations=["1h"], max_duration="1h",
                                              rules=[{"name": "fin", "step_up": "okta_verify"}]))
    data["connectors"] = {"celigo": {"type": "celigo", "token": "t0ken", "owners": ["U0ALICE"]}}
    with pytest.raises(ConfigError, match=r"step_up: okta_verify needs an Okta connector .*rule fin"):
        parse_config(yaml.safe_dump(data))


def test_a_decision_another_replica_applied_at_the_same_moment_is_closed_not_failed():
    step_ups, challenges, decide, phone = _step_ups(phone=Phone(results=[PushResult.SUCCESS]))
    step_ups.approve("a1", ALICE)

    def counted_elsewhere(request_id: str, approver: str) -> AccessRequest:
        decide.approvals[approver] = 0  # the other replica's approval, counted first
        raise AlreadyDecidedError(REQUEST)
    decide.approve = counted_elsewhere  # type: ignore[method-assign]
    step_ups.settle()
    assert challenges.rows["c0"].state is ChallengeState.DONE
    assert not any(isinstance(e, StepUpFailed) for e in challenges.events())

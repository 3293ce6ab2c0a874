"""Who may act at a request's current step, and whether its steps can all be completed:
in memory, with people named by id (no directory needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.approvers import ApproverRouting
from bot.config import ConfigError, parse_config
from bot.domain.policy import Policy
from bot.domain.request import AccessRequest, State
from bot.domain.rules import ApprovalStep, Rule, RuleBook
from bot.routing import Routing
from tests.support.config import offline_config_text

OWNER1, OWNER2, OUT, FALLBACK, CAROL = "U1", "U2", "UOUT", "UFB", "UCAROL"


def routing(*steps: ApprovalStep, fallback: tuple[str, ...] = ()) -> Routing:
    policy = Policy(durations=(timedelta(hours=1),), max_duration=timedelta(hours=1))
    rule = Rule("default", policy, steps=steps, fallback=fallback)
    return Routing(lambda: RuleBook(rule), ApproverRouting({"okta": [OWNER1, OWNER2]}, directory=None))


def request(step: int = 0, requester: str = CAROL) -> AccessRequest:
    return AccessRequest("r1", requester, "carol@acme.com", "a1", "okta", "e1", "eng-admins",
                         timedelta(hours=1), "why", State.PENDING, datetime.now(UTC), step=step)


OWNERS_THEN_OWNER1 = (ApprovalStep((OWNER1, OWNER2)), ApprovalStep((OWNER1,)))


def test_a_later_step_with_nobody_left_goes_to_the_fallback_at_once():
    """Given steps [owners] then [owner1], when owner1 approved step 1, then step 2 is decided
    by the fallback at once, and owner1 is not among those who may act."""
    rules = routing(*OWNERS_THEN_OWNER1, fallback=(FALLBACK,))
    assert rules.deciders(request(step=1), {OWNER1: 0}) == [FALLBACK]
    assert rules.deciders(request(step=1), {OWNER2: 0}) == [OWNER1]


def test_the_fallback_joins_when_a_step_has_fewer_people_left_than_approvals_needed():
    """Given a step needing 2 of [owner1, out] and owner1 having approved an earlier step,
    then the fallback is added to `out`; with out's approval counted, only the fallback is left."""
    rules = routing(ApprovalStep((OWNER1,)), ApprovalStep((OWNER1, OUT), approvals=2),
                    fallback=(FALLBACK,))
    assert rules.deciders(request(step=1), {OWNER1: 0}) == [OUT, FALLBACK]
    assert rules.deciders(request(step=1), {OWNER1: 0, OUT: 1}) == [FALLBACK]
    progress = rules.progress(request(step=1), {OWNER1: 0, OUT: 1})
    assert (progress.needed, progress.approvers_of_step(0)) == (1, [OWNER1])


def test_nobody_decides_their_own_request_nor_counts_twice():
    rules = routing(ApprovalStep((OWNER1, OWNER2, CAROL), approvals=2))
    assert rules.deciders(request(), {}) == [OWNER1, OWNER2]
    assert rules.deciders(request(), {OWNER1: 0}) == [OWNER2]


def test_steps_that_need_the_same_person_twice_are_refused_at_submission():
    """[owner1] then [owner1] can never be completed; [owners] then [owner1] can (owner2 takes
    the first step), and so can [owner1] then [owner1] with a fallback."""
    assert routing(ApprovalStep((OWNER1,)), ApprovalStep((OWNER1,))).missing_approvers(request())
    assert routing(*OWNERS_THEN_OWNER1).missing_approvers(request()) is None
    assert routing(ApprovalStep((OWNER1,)), ApprovalStep((OWNER1,)),
                   fallback=(FALLBACK,)).missing_approvers(request()) is None


def test_an_approval_that_would_strand_a_later_step_is_seen_as_such():
    """Without a fallback, owner1 approving step 1 of [owners] then [owner1] would leave step 2
    with nobody; owner2 approving it would not."""
    rules = routing(*OWNERS_THEN_OWNER1)
    assert "Step 2" in rules.missing_approvers(request(), {OWNER1: 0})
    assert rules.missing_approvers(request(), {OWNER2: 0}) is None


def test_too_few_people_for_the_approvals_asked_is_refused():
    assert "Nobody but you" in routing(ApprovalStep((CAROL,))).missing_approvers(request())
    assert "Step 1 needs 3 approvals" in routing(
        ApprovalStep((OWNER1, OWNER2, CAROL), approvals=3)).missing_approvers(request())
    assert routing(ApprovalStep((OWNER1, OWNER2), approvals=2)).missing_approvers(
        replace(request(), requester="UX")) is None


def config(*rules: dict) -> str:
    return offline_config_text(("U0ONE", "U0TWO"), durations=["1h"], max_duration="1h", rules=list(rules))


def test_a_config_whose_steps_can_never_be_approved_is_refused_at_load():
    """Given a rule with steps [U1] then [U1] and no fallback, then the config is refused naming
    the rule and the step; with a fallback, a user group or the owners it loads (those are
    checked for each request, when the people are known)."""
    twice = {"name": "twice", "steps": [{"approvers": ["U0ONE"]}, {"approvers": ["U0ONE"]}]}
    with pytest.raises(ConfigError, match="rule 'twice': step 2 can never be approved"):
        parse_config(config(twice))
    parse_config(config({**twice, "fallback": ["U0NINE"]}))
    parse_config(config({"name": "group", "steps": [{"approvers": ["U0ONE"]}, {"approvers": ["@sec"]}]}))
    parse_config(config({"name": "owners", "steps": [{"approvals": 1}, {"approvers": ["U0ONE"]}]}))

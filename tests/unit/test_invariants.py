"""The edge cases of the guarantees that depend on what else the requester holds, asks for or
was given (bot/invariants.py), in memory: separation of duties, the caps, the access window and
bundles.  Rules are written as config data and loaded as Latchkey loads them; what the requester
has is an in-memory `Ledger`.  (The stories in tests/stories/test_rules.py and
test_policy_holds.py prove that each reaches Slack, and hold under races.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.request import Route, State
from bot.domain.rules import ApprovalStep, steps_for
from bot.invariants import HOUR, Invariants, conflict_text
from tests.support.in_memory import Catalog, Form, Ledger, request, rulebook

# -- separation of duties ---------------------------------------------------------------------

BUILD_AND_PAY = {"name": "build-and-pay", "entitlements": ["okta:eng-admins", "okta:billing-admins"]}


def conflicts(book, asked, *others, held=()):
    catalog = Catalog(held={"carol@acme.com": list(held)})
    return Invariants(lambda: book, catalog).conflicts(asked, Ledger(live_requests=others))


def test_a_pending_request_counts_against_a_conflicting_one():
    """Given eng-admins and billing-admins must not be held together, when Carol has asked for
    eng-admins (still pending) and asks for billing-admins, then the new request breaks the
    rule, in the words the form shows."""
    book = rulebook(conflicts=[BUILD_AND_PAY])
    [conflict] = conflicts(book, request("billing-admins", id="new"), request("eng-admins"))
    assert "separation of duties: build-and-pay" in conflict_text(conflict)
    assert conflict.action == "refuse"


@pytest.mark.parametrize("held, others, found", [
    (["eng-admins"], (), True),  # held, as synced
    ([], ("eng-admins", State.ACTIVE), True),  # granted by Latchkey
    ([], ("eng-admins", State.APPROVED), True),  # about to be granted
    (["prod-readers"], (), False),  # something else
    ([], ("billing-admins", State.PENDING), False),  # the same entitlement asked again is no pair
])
def test_either_side_of_a_conflict_counts_however_it_is_held(held, others, found):
    book = rulebook(conflicts=[BUILD_AND_PAY])
    other = (request(others[0], state=others[1]),) if others else ()
    assert bool(conflicts(book, request("billing-admins", id="new"), *other, held=held)) is found


def test_conflict_patterns_are_globs_that_ignore_the_case_of_names_but_not_the_connector():
    book = rulebook(conflicts=[{"name": "deploy-and-read", "entitlements": ["okta:eng-*", "okta:PROD-readers"]}])
    assert conflicts(book, request("eng-admins"), held=["prod-readers"])
    assert not conflicts(book, request("data-admins"), held=["prod-readers"])
    assert not book.conflicts[0].created_by(("celigo", "eng-admins"), [("okta", "prod-readers")])


def test_an_extension_does_not_conflict_with_the_access_it_extends():
    book = rulebook(conflicts=[{"name": "one-admin", "entitlements": ["okta:eng-*", "okta:*-admins"]}])
    original = request("eng-admins", state=State.ACTIVE)
    assert not conflicts(book, request("eng-admins", id="more", extends=original.id), original)
    assert conflicts(book, request("data-admins", id="new"), original)


def test_a_conflict_that_may_be_approved_adds_one_last_step_and_is_then_carried():
    """Given the conflict allowed with an extra step for Dave, then a request that breaks it has
    the rule's steps and then Dave's, and at approval it is not refused for the conflict it
    carries; the same request without it is."""
    book = rulebook(conflicts=[{**BUILD_AND_PAY, "action": "approve", "approvers": ["U0DAVE"]}])
    [conflict] = book.conflicts
    assert steps_for(book.default, conflict) == (*book.default.steps, ApprovalStep(("U0DAVE",), 1))
    invariants = Invariants(lambda: book, Catalog())
    approved_eng = request("eng-admins", state=State.APPROVED)
    assert invariants.uncarried(request("billing-admins", id="new", conflict="build-and-pay"),
                                Ledger(live_requests=[approved_eng])) == []
    assert invariants.uncarried(request("billing-admins", id="new"), Ledger(live_requests=[approved_eng])) == [conflict]


# -- caps: auto-approval uses ------------------------------------------------------------------

ONCALL = {"name": "oncall", "auto_approve": {"slack_groups": ["@oncall"], "max_uses": 1, "period": "1d"}}


@pytest.mark.parametrize("used, left", [(0, True), (1, False), (5, False)])
def test_auto_approval_stops_at_its_cap(used, left):
    """Given one auto-approval a day, then the first use is left and the second is not: the
    uses counted are the rule's own automatic approvals of this person over the last day."""
    rule = rulebook(rules=[ONCALL]).named("oncall")
    ledger = Ledger(auto_approved=used)
    now = request().created_at
    assert Invariants.auto_approval_left(rule, ledger, now) is left
    assert ledger.asked_for == [("oncall", Route.AUTO, now - timedelta(days=1))]


def test_auto_approval_without_a_cap_never_runs_out_and_no_auto_approval_never_approves():
    book = rulebook(rules=[{"name": "open", "auto_approve": {"slack_groups": ["@oncall"]}}])
    now = request().created_at
    assert Invariants.auto_approval_left(book.named("open"), Ledger(auto_approved=1000), now)
    assert not Invariants.auto_approval_left(book.default, Ledger(), now)


# -- caps: requests per hour ------------------------------------------------------------------

@pytest.mark.parametrize("asked, refused", [(1, False), (2, True), (3, True)])
def test_the_hourly_cap_refuses_the_request_that_would_pass_it(asked, refused):
    book = rulebook(max_requests_per_hour=2)
    ledger, now = Ledger(asked=asked), request().created_at
    problem = Invariants(lambda: book, Catalog()).rate_problem(ledger, now)
    assert (problem is not None) is refused
    assert ledger.asked_for == [("asked", now - HOUR)]
    if refused:
        assert problem.startswith("You have made 2 requests in the last hour.")


# -- bundles ----------------------------------------------------------------------------------

ONCALL_BUNDLE = {"name": "oncall", "items": ["okta:eng-admins", "okta:data-admins"]}


def test_a_bundle_cannot_skip_the_ticket_its_item_needs():
    """Given data-* groups need a ticket (a rule matching on type, so only known at request
    time) and a bundle holding data-admins under the default rule, then the bundle is refused,
    naming the weaker rule; a bundle rule that asks for the same ticket is accepted."""
    data = {"name": "data", "match": {"type": "group", "resource": "data-*"}, "ticket": {"required": True}}
    form = Form(rulebook(rules=[data], bundles=[ONCALL_BUNDLE]))
    refused = form.problems("oncall", ticket="SEC-1")["access"]
    assert "the rule for data-admins (data)" in refused and "the same ticket" in refused
    strict = {"name": "kits", "match": {"type": "bundle"}, "ticket": {"required": True}}
    assert Form(rulebook(rules=[data, strict], bundles=[ONCALL_BUNDLE])).problems("oncall", ticket="SEC-1") == {}


def test_a_bundle_of_items_under_its_own_rule_is_accepted():
    assert Form(rulebook(bundles=[ONCALL_BUNDLE])).problems("oncall") == {}


# -- the access window ------------------------------------------------------------------------

def test_the_window_counts_from_the_first_grant_with_a_rule_from_config():
    """Given extensions without approval and an 8h maximum, then 4h held and 4h more stays
    within the window, and 1h more after that does not."""
    rule = rulebook(rules=[{"name": "self-extend", "extension_needs_approval": False}]).named("self-extend")
    assert rule.policy.max_total_duration == timedelta(hours=8)  # max_duration, as none is given
    held = request(state=State.ACTIVE, hours=4, granted_at=request().created_at,
                   expires_at=request().created_at + timedelta(hours=4))
    assert not Invariants.window_exceeded(held, timedelta(hours=4), rule)
    longer = request(state=State.ACTIVE, hours=4, granted_at=held.granted_at,
                     expires_at=held.expires_at + timedelta(hours=4))
    assert Invariants.window_exceeded(longer, timedelta(hours=1), rule)
    assert not Invariants.window_exceeded(request(state=State.APPROVED), timedelta(days=30), rule)  # not granted yet

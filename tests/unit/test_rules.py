"""The edge cases of each kind of rule, in memory: every rule is written as the config data an
admin would write, loaded as Latchkey loads it, and asked what it decides.  (One story per rule
kind in tests/stories/ proves that the decision reaches Slack.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain import kinds
from bot.domain.kinds import AutoApproval, Ticket
from bot.domain.policy import format_duration, parse_duration
from bot.domain.rules import Target
from tests.support.harness import ALICE, BOB, CAROL, DAVE
from tests.support.in_memory import Form, request, rulebook

HOURS = [timedelta(hours=h) for h in (1, 4, 8)]


def group(name: str) -> Target:
    return Target("okta", "group", name)


# -- matching ---------------------------------------------------------------------------------

def test_the_first_matching_rule_wins_and_the_rest_fall_to_the_default():
    """Given data-* for Dave, then a later rule matching data-admins too is not used, and
    eng-admins (no rule) stays with the default rule."""
    book = rulebook(rules=[{"name": "data", "match": {"connector": "okta", "type": "group", "resource": "data-*"},
                            "approvers": ["U0DAVE"]},
                           {"name": "admins", "match": {"resource": "*-admins"}, "approvals": 2}])
    assert book.rule_for(group("data-admins")).name == "data"
    assert book.rule_for(group("billing-admins")).name == "admins"
    assert book.rule_for(group("prod-readers")).name == "default"


@pytest.mark.parametrize("target, matched", [
    (group("DATA-Admins"), True),  # globs ignore case
    (Target("okta", "app", "data-admins"), False),  # another resource type
    (Target("celigo", "group", "data-admins"), False),  # another connector
    (group("metadata-admins"), False),  # a glob matches the whole name
])
def test_a_rule_matches_connector_type_and_name_as_globs(target, matched):
    book = rulebook(rules=[{"name": "data", "match": {"connector": "okta", "type": "group", "resource": "data-*"}}])
    assert (book.rule_for(target).name == "data") is matched


def test_a_rule_for_resources_does_not_govern_a_bundle_of_the_same_name():
    """Given a rule auto-approving everything named oncall-* for the sre group (Carol), when she
    asks for the bundle oncall-kit, then it falls under the default rule, which approves nothing
    by itself: the owners are asked."""
    form = Form(rulebook(rules=[{"name": "oncall-groups", "match": {"resource": "oncall-*"},
                                 "auto_approve": {"slack_groups": ["@sre"]}}],
                         bundles=[{"name": "oncall-kit", "items": ["okta:eng-admins", "okta:data-admins"]}]))
    form.directory.groups = {"sre": [CAROL]}
    assert form.rules.rule_for(group("oncall-admins")).name == "oncall-groups"  # it would, for a group
    draft = form.submit("oncall-kit")
    assert draft.rule.name == "default" and not draft.rule.kind(AutoApproval).anyone
    assert draft.approvers == [ALICE, BOB]


# -- tickets ----------------------------------------------------------------------------------

TICKETED = {"name": "ticketed", "match": {"resource": "eng-*"}, "ticket": {"required": True, "pattern": "SEC-[0-9]+"}}


def test_a_ticket_is_required_and_must_match_the_pattern():
    """Given a rule requiring a SEC- ticket, then none or a malformed one is refused under the
    ticket field, and a good one passes (and, in tests/stories/test_rules.py, reaches the
    approvers)."""
    form = Form(rulebook(rules=[TICKETED]))
    assert "ticket reference is required" in form.problems("eng-admins")["ticket"]
    assert "does not look like a ticket" in form.problems("eng-admins", ticket="see slack")["ticket"]
    assert form.problems("eng-admins", ticket="SEC-1234") == {}


def ticket_problem(rule, ticket: str) -> str | None:
    return rule.kind(Ticket).problems(kinds.Form(ticket=ticket)).get("ticket")


@pytest.mark.parametrize("ticket, refused", [
    ("SEC-1", False), ("SEC-1234567", False),
    ("SEC-12 and OPS-3", True), ("see SEC-12", True), ("SEC-", True),  # the whole text must match
    ("sec-12", True),  # the pattern is the admin's, case and all
])
def test_a_ticket_pattern_must_match_the_whole_reference(ticket, refused):
    rule = rulebook(rules=[TICKETED]).named("ticketed")
    assert bool(ticket_problem(rule, ticket)) is refused


def test_a_ticket_pattern_without_required_checks_only_a_ticket_given():
    rule = rulebook(rules=[{"name": "t", "ticket": {"required": False, "pattern": "(SEC|OPS)-[0-9]+"}}]).named("t")
    assert ticket_problem(rule, "") is None
    assert ticket_problem(rule, "OPS-7") is None and ticket_problem(rule, "SEC-7") is None
    assert "expected (SEC|OPS)-[0-9]+" in ticket_problem(rule, "INC-7")


def test_a_required_ticket_without_a_pattern_takes_any_text():
    rule = rulebook(rules=[{"name": "t", "ticket": {}}]).named("t")  # `required` defaults to true
    assert rule.kind(Ticket).required and ticket_problem(rule, "") and ticket_problem(rule, "see slack") is None


def test_no_ticket_is_asked_for_where_no_rule_says_so():
    form = Form(rulebook(rules=[TICKETED]))
    assert form.problems("data-admins", ticket="anything at all") == {}


# -- durations and the justification ------------------------------------------------------------

SHORT = {"name": "short", "match": {"resource": "data-*"}, "durations": ["1h"], "max_duration": "1h",
         "justification_required": False}


def test_each_rule_caps_its_own_durations_and_may_waive_the_justification():
    """Given data-* limited to 1h without a required reason, then 4h is refused for data-admins
    but fine for eng-admins, data-admins may be asked for with no reason, and eng-admins may
    not."""
    form = Form(rulebook(rules=[SHORT]))
    assert "longest you can ask for is 1 hour" in form.problems("data-admins", duration="4h", why="")["duration"]
    assert form.problems("data-admins", duration="1h", why="") == {}
    assert "Say why" in form.problems("eng-admins", duration="4h", why="")["justification"]
    assert form.problems("eng-admins", duration="4h", why="Release day") == {}


@pytest.mark.parametrize("duration, problem", [
    (timedelta(hours=8), None),  # exactly the maximum
    (timedelta(hours=8, minutes=1), "The longest you can ask for is 8 hours."),
    (timedelta(days=1), "The longest you can ask for is 8 hours."),  # configured, but over the maximum
    (timedelta(hours=2), "Choose one of the offered durations."),  # under the maximum, never offered
    (None, "Choose how long you need the access."),  # none, or no duration at all (a tampered form)
])
def test_a_duration_is_one_offered_within_the_maximum(duration, problem):
    assert rulebook().default.policy.duration_problem(duration) == problem


def test_durations_over_the_maximum_are_not_offered_and_every_rule_adds_its_own():
    book = rulebook(rules=[{"name": "long", "match": {"resource": "eng-*"}, "durations": ["30m", "2d"],
                            "max_duration": "2d"}])
    assert book.default.policy.offered_durations() == tuple(HOURS)  # 1d is over the 8h maximum
    assert book.named("long").policy.offered_durations() == (timedelta(minutes=30), timedelta(days=2))
    assert book.offered_durations() == (timedelta(minutes=30), *HOURS, timedelta(days=2))


@pytest.mark.parametrize("typed", ["99999999999d", "3651d", "-1h", "0m", "garbage", "1.5h", "4 hours"])
def test_what_is_no_duration_at_all_is_refused_and_never_offered(typed):
    """A tampered form's duration: not a duration (so the form asks for one, under the duration
    field alone) and not one any rule offers (so the attempt is recorded as tampering).
    Past parse_duration, every one of them takes the path of "garbage", which the stories of
    tests/stories/test_refusals.py follow through both forms."""
    with pytest.raises(ValueError, match="is not a duration|is too long"):
        parse_duration(typed)
    book = rulebook()
    assert typed not in {format_duration(d) for d in book.offered_durations()}
    assert Form(book).problems("eng-admins", duration=None) == {"duration": "Choose how long you need the access."}


def test_a_duration_over_the_maximum_is_the_only_problem_of_a_tampered_form():
    assert Form(rulebook()).problems("eng-admins", duration="1d") == {
        "duration": "The longest you can ask for is 8 hours."}


# -- fallback ---------------------------------------------------------------------------------

def test_fallback_approvers_step_in_when_only_the_requester_could_approve():
    """Given a rule whose only approver is Carol herself, then her request goes to the fallback,
    Dave, and his approval is all it needs."""
    form = Form(rulebook(rules=[{"name": "self-owned", "approvers": ["U0CAROL"], "fallback": ["U0DAVE"]}]))
    draft = form.submit("eng-admins")
    assert (draft.rule.name, draft.approvers, draft.missing) == ("self-owned", [DAVE], None)
    progress = form.routing.progress(request(rule="self-owned"), {DAVE: 0})
    assert (progress.step, progress.steps, progress.needed) == (0, 1, 0)


def test_without_a_fallback_a_rule_only_the_requester_could_approve_is_refused():
    form = Form(rulebook(rules=[{"name": "self-owned", "approvers": ["U0CAROL"]}]))
    assert "Nobody but you can approve this" in form.problems("eng-admins")["access"]
    assert form.problems("eng-admins", user=DAVE) == {}


def test_escalation_brings_in_the_fallback_after_the_configured_reminders():
    book = rulebook(rules=[{"name": "escalating", "approvers": ["U0ALICE"], "fallback": ["U0DAVE"],
                            "remind_after": "1h", "escalate_after": 1}])
    routing = Form(book).routing
    assert routing.approvers_of(request(rule="escalating", reminders=0)) == [ALICE]
    assert routing.approvers_of(request(rule="escalating", reminders=1)) == [ALICE, DAVE]


# -- approval steps ---------------------------------------------------------------------------

def test_two_approvals_need_two_people_and_nobody_counts_twice():
    routing = Form(rulebook(approvals=2)).routing
    asked = request()
    assert routing.progress(asked, {}).needed == 2
    assert (routing.progress(asked, {ALICE: 0}).needed, routing.deciders(asked, {ALICE: 0})) == (1, [BOB])
    assert routing.progress(asked, {ALICE: 0, BOB: 0}).needed == 0


def test_an_owner_is_never_asked_to_decide_their_own_request():
    owners = (CAROL, BOB)
    assert Form(rulebook(owners), owners).routing.approvers_of(request()) == [BOB]


# -- break-glass ------------------------------------------------------------------------------

EMERGENCY = {"name": "emergency", "match": {"connector": "okta"}, "approvers": ["@oncall"], "break_glass": True}


def test_break_glass_nobody_else_could_review_is_refused():
    """Given break-glass approved only by the @oncall group, whose one member is Carol, when
    Carol breaks the glass, then the form refuses it under break-glass, and nothing is filed."""
    form = Form(rulebook(rules=[EMERGENCY]))
    form.directory.groups = {"oncall": [CAROL]}
    problems = form.problems("eng-admins", break_glass=True)
    assert problems.keys() == {"break_glass"} and "nobody but you could review it" in problems["break_glass"]


@pytest.mark.parametrize("change", [
    {"groups": {"oncall": [CAROL, DAVE]}},  # another member of the group
    {"rule": {"fallback": ["U0DAVE"]}},  # a fallback, who reviews break-glass too
])
def test_break_glass_someone_else_can_review_is_accepted(change):
    form = Form(rulebook(rules=[{**EMERGENCY, **change.get("rule", {})}]))
    form.directory.groups = change.get("groups", {"oncall": [CAROL]})
    assert form.problems("eng-admins", break_glass=True) == {}


def test_break_glass_where_the_rule_does_not_allow_it_is_refused():
    form = Form(rulebook(rules=[{"name": "emergency", "match": {"resource": "eng-*"}, "break_glass": True,
                                 "fallback": ["U0DAVE"]}]))
    assert "not allowed for this access" in form.problems("data-admins", break_glass=True)["break_glass"]
    assert form.problems("eng-admins", break_glass=True) == {}


def test_every_rule_kind_is_a_key_of_a_rule_in_the_config():
    """A kind is read from its key (bot/config/rulebook.py): each must be one a rule may set."""
    from bot.config.policy import RuleConfig, RuleSettings
    assert [k.key for k in kinds.KINDS if k.key not in RuleSettings.model_fields] == []
    assert [k.key for k in kinds.KINDS if k.key not in RuleConfig.model_fields] == []


@pytest.mark.parametrize("setting, expected", [
    (None, kinds.EndSessions()),  # off unless a rule asks
    (True, kinds.EndSessions(enabled=True)),
    ({"oauth_tokens": True}, kinds.EndSessions(enabled=True, oauth_tokens=True)),
])
def test_end_sessions_is_read_from_a_rule(setting, expected):
    rule = {"name": "admins"} | ({} if setting is None else {"end_sessions": setting})
    assert rulebook(rules=[rule]).named("admins").kind(kinds.EndSessions) == expected


def test_a_bundle_that_signs_out_less_than_its_item_is_weaker():
    signs_out = kinds.EndSessions(enabled=True, oauth_tokens=True)
    assert kinds.EndSessions().weaker_than(signs_out)
    assert kinds.EndSessions(enabled=True).weaker_than(signs_out)
    assert signs_out.weaker_than(kinds.EndSessions()) is None

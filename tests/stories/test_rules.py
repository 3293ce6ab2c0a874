"""Policy rules over real HTTP: matching, approval steps, user groups, fallback and escalation,
tickets, per-rule durations, auto-approval, break-glass and separation of duties."""

from __future__ import annotations

from datetime import timedelta

from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually, forge_click
from tests.support.requests import jump, pending
from tests.support.slack import ask, asked, ephemeral_answers, texts


def test_first_matching_rule_routes_to_its_approvers(make_bot, slack, okta):
    """Given a rule for data-* approved by Dave, then Carol's data-admins request goes to Dave
    only, while eng-admins (no rule) still goes to the connector's owners."""
    bot = make_bot(rules=[{"name": "data",
                           "match": {"connector": "okta", "type": "group", "resource": "data-*"},
                           "approvers": ["U0DAVE"]}]).start()
    ask(slack, "data-admins")
    eventually(lambda: asked(slack, DAVE))
    assert not asked(slack, ALICE) and not asked(slack, BOB)
    request = pending(bot)
    assert request.rule == "data"
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE) and asked(slack, BOB))


def test_steps_run_in_order_and_a_deny_at_the_second_ends_it(make_bot, slack, okta):
    """Given owner then @security (a Slack user group), then security is asked only after Alice
    approves, cannot approve before, and Dave's deny at step 2 ends the request with Okta untouched."""
    slack.add_user_group("security", [BOB, DAVE])
    bot = make_bot(rules=[{"name": "two-steps",
                           "steps": [{"approvers": ["U0ALICE"]}, {"approvers": ["@security"]}]}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    request = pending(bot)
    assert not asked(slack, BOB)
    forge_click(slack, DAVE, "approve", request.id)
    eventually(lambda: "not an approver for this access" in ephemeral_answers(slack, DAVE))
    assert bot.request(request.id).step == 0

    slack.click(ALICE, "approve")
    eventually(lambda: asked(slack, BOB) and asked(slack, DAVE))
    assert "Step 2 of 2" in texts(slack.dm(DAVE))
    eventually(lambda: "Step 1 approved by <@U0ALICE>; now with <@U0BOB>, <@U0DAVE>" in texts(slack.dm(ALICE)))
    assert not slack.buttons(slack.dm(ALICE)[-1])
    assert bot.request(request.id).state == "pending"

    slack.click(DAVE, "deny")
    eventually(lambda: slack.open_view(DAVE))
    slack.submit(DAVE, {"reason": "Not during the freeze"})
    eventually(lambda: bot.request(request.id).state == "denied")
    eventually(lambda: "Not during the freeze" in texts(slack.dm(CAROL)))
    assert okta.membership_writes() == []


def test_nobody_counts_twice_across_steps(make_bot, slack, okta):
    """Given Alice in both steps, then her second Approve does not pass step 2; Dave's does."""
    bot = make_bot(rules=[{"name": "overlap",
                           "steps": [{"approvers": ["U0ALICE", "U0BOB"]},
                                     {"approvers": ["U0ALICE", "U0DAVE"]}]}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    request = pending(bot)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).step == 1)
    forge_click(slack, ALICE, "approve", request.id)
    eventually(lambda: "already approved" in ephemeral_answers(slack, ALICE))
    assert bot.request(request.id).state == "pending"
    eventually(lambda: asked(slack, DAVE))
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert sorted(bot.request(request.id).decided_by) == [ALICE, DAVE]
    assert len(okta.membership_writes()) == 1


def test_fallback_approvers_step_in_when_the_approvers_cannot_be_reached(make_bot, slack, okta):
    """Given a rule whose approvers are an address nobody in Slack has and an empty user group,
    then the fallback approver is asked instead and can approve."""
    slack.add_user_group("ghosts", [])
    bot = make_bot(rules=[{"name": "unreachable",
                           "approvers": ["gone@acme.com", "@ghosts"],
                           "fallback": ["U0DAVE"]}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, DAVE))
    assert not asked(slack, ALICE) and not asked(slack, BOB)
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(pending_or_any(bot)).state == "active")


def pending_or_any(bot) -> str:
    return bot.service.lifecycle.queries.of_requester(CAROL, ("pending", "approved", "provisioning",
                                                                "active"))[0].id


def test_unanswered_requests_escalate_to_the_fallback(make_bot, slack, okta, clock):
    """Given Alice silent for an hour and escalate_after 1, then Dave is asked too and can approve."""
    bot = make_bot(rules=[{"name": "escalating",
                           "approvers": ["U0ALICE"],
                           "fallback": ["U0DAVE"],
                           "remind_after": "1h",
                           "escalate_after": 1}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    request = pending(bot)
    assert not asked(slack, DAVE)
    jump(bot, clock, timedelta(hours=1, minutes=1))
    eventually(lambda: "Escalated to you" in texts(slack.dm(DAVE)) and asked(slack, DAVE))
    eventually(lambda: "from <@U0ALICE>, <@U0DAVE>" in texts(slack.dm(CAROL)))  # whom she waits on
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert [e.action for e in bot.service.lifecycle.audit.events(request.id)].count("escalated") == 1


def test_a_ticket_is_required_and_must_match_the_pattern(make_bot, slack, okta):
    """Given a rule requiring a SEC- ticket, then a malformed one is refused in the modal, and a
    good one reaches the approvers next to the reason (no ticket at all, and the pattern's other
    edges: tests/unit/test_rules.py)."""
    bot = make_bot(rules=[{"name": "ticketed",
                           "match": {"resource": "eng-*"},
                           "ticket": {"required": True, "pattern": "SEC-[0-9]+"}}]).start()
    ask(slack, "eng-admins", ticket="see slack")
    assert "does not look like a ticket" in slack.view_errors(CAROL)["ticket"]
    assert bot.service.lifecycle.queries.in_states("pending") == []
    ask(slack, "eng-admins", ticket="SEC-1234")
    eventually(lambda: asked(slack, ALICE))
    assert "SEC-1234" in texts(slack.dm(ALICE))
    assert pending(bot).ticket == "SEC-1234"


def test_each_rule_caps_its_own_durations_and_may_waive_the_justification(make_bot, slack, okta):
    """Given data-* limited to 1h without a required reason, then 4h is refused for data-admins
    but fine for eng-admins, and data-admins may be asked for with no reason (eng-admins without
    one, and the other edges of durations: tests/unit/test_rules.py)."""
    bot = make_bot(rules=[{"name": "short",
                           "match": {"resource": "data-*"},
                           "durations": ["1h"],
                           "max_duration": "1h",
                           "justification_required": False}]).start()
    ask(slack, "data-admins", duration="4h", why=None)
    assert "longest you can ask for is 1 hour" in slack.view_errors(CAROL)["duration"]
    ask(slack, "data-admins", duration="1h", why=None)
    eventually(lambda: asked(slack, ALICE))
    ask(slack, "eng-admins", duration="4h", why="Release day")
    eventually(lambda: len(bot.service.lifecycle.queries.in_states("pending")) == 2)


def test_members_of_an_auto_approve_group_get_access_at_once_up_to_the_cap(make_bot, slack, okta):
    """Given @oncall (Carol) auto-approved once a day, then her first request is granted with no
    approver asked, and her second goes to the approvers."""
    slack.add_user_group("oncall", [CAROL])
    bot = make_bot(rules=[{"name": "oncall",
                           "auto_approve": {"slack_groups": ["@oncall"], "max_uses": 1,
                                            "period": "1d"}}]).start()
    ask(slack, "eng-admins")
    first = eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))[0]
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert first.route == "auto" and not asked(slack, ALICE)
    eventually(lambda: "automatically" in texts(slack.dm(CAROL)))
    ask(slack, "data-admins")
    eventually(lambda: asked(slack, ALICE))
    assert pending(bot).route == "people"


def test_members_of_an_okta_group_can_be_auto_approved(make_bot, slack, okta):
    """Given auto-approval for members of the Okta group prod-readers (Carol is one), then her
    request is granted without asking anyone; Dave's (not a member) is not."""
    bot = make_bot(rules=[{"name": "readers", "auto_approve": {"okta_groups": ["prod-readers"]}}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))
    ask(slack, "eng-admins", user=DAVE)
    eventually(lambda: asked(slack, ALICE))


def test_break_glass_grants_at_once_tells_the_fallback_and_is_reviewed(make_bot, slack, okta):
    """Given break-glass allowed for eng-*, then Carol's emergency request is granted without
    approval, Dave (fallback) is told at once and marks it reviewed; elsewhere it is refused."""
    bot = make_bot(audit_channel="C0GENERAL", rules=[{"name": "emergency",
                                                           "match": {"resource": "eng-*"},
                                                           "break_glass": True,
                                                           "fallback": ["U0DAVE"]}]).start()
    ask(slack, "data-admins", break_glass=["yes"])
    assert "not allowed for this access" in slack.view_errors(CAROL)["break_glass"]
    ask(slack, "eng-admins", break_glass=["yes"])
    request = eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))[0]
    assert request.route == "break_glass" and request.decided_by == (CAROL,)
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    eventually(lambda: "Break-glass" in texts(slack.dm(DAVE)))
    eventually(lambda: "used break-glass for" in texts(slack.messages("C0GENERAL")))  # the audit channel
    assert not asked(slack, ALICE)
    forge_click(slack, CAROL, "review", request.id)
    eventually(lambda: "Someone other than" in ephemeral_answers(slack, CAROL))
    slack.click(DAVE, "review")
    eventually(lambda: bot.request(request.id).reviewed_by == DAVE)
    eventually(lambda: "Reviewed by <@U0DAVE>" in texts(slack.dm(DAVE)))
    actions = [e.action for e in bot.service.lifecycle.audit.events(request.id)]
    assert "break_glass" in actions and "reviewed" in actions


def test_a_separation_of_duties_conflict_is_refused(make_bot, slack, okta):
    """Given prod-readers and eng-admins must not be held together, then Carol (a prod reader)
    cannot ask for eng-admins; Dave (not a reader) can."""
    make_bot(conflicts=[{"name": "deploy-and-read",
                         "entitlements": ["okta:eng-*", "okta:prod-readers"]}]).start()
    ask(slack, "eng-admins")
    assert "separation of duties: deploy-and-read" in slack.view_errors(CAROL)["access"]
    ask(slack, "eng-admins", user=DAVE)
    eventually(lambda: asked(slack, ALICE))


def test_access_held_only_through_a_group_still_counts_for_separation_of_duties(make_bot, slack, okta):
    """Given Salesforce and eng-admins must not be held together, and Carol uses Salesforce only
    through prod-readers (assigned to the app), then she cannot ask for eng-admins."""
    salesforce = okta.add_app("Salesforce")
    okta.assign_app_group(salesforce, okta.ids["prod-readers"])
    make_bot(conflicts=[{"name": "sell-and-deploy",
                         "entitlements": ["okta:eng-*", "okta:Salesforce"]}]).start()
    ask(slack, "eng-admins")
    assert "separation of duties: sell-and-deploy" in slack.view_errors(CAROL)["access"]


def test_a_conflict_may_instead_need_an_extra_approval(make_bot, slack, okta):
    """Given the conflict allowed with an extra step for Dave, then after Alice approves Dave is
    asked, warned of the conflict, and only his approval grants it."""
    bot = make_bot(conflicts=[{"name": "deploy-and-read",
                               "entitlements": ["okta:eng-*", "okta:prod-readers"],
                               "action": "approve",
                               "approvers": ["U0DAVE"]}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    request = pending(bot)
    assert request.conflict == "deploy-and-read"
    assert "separation of duties" in texts(slack.dm(ALICE))
    slack.click(ALICE, "approve")
    eventually(lambda: asked(slack, DAVE))
    assert bot.request(request.id).state == "pending"
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")


OWNERS_THEN_ALICE = {"name": "owners-then-alice", "steps": [{"approvals": 1}, {"approvers": ["U0ALICE"]}]}


def test_a_step_left_with_nobody_goes_to_the_fallback_at_once(make_bot, slack, okta):
    """Given steps [owners] then [Alice] and fallback Dave, when Alice approves step 1, then
    step 2 (where she may not count twice) goes to Dave at once, and his Approve grants it."""
    bot = make_bot(rules=[{**OWNERS_THEN_ALICE, "fallback": ["U0DAVE"]}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    request = pending(bot)
    slack.click(ALICE, "approve")
    eventually(lambda: asked(slack, DAVE))
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert sorted(bot.request(request.id).decided_by) == [ALICE, DAVE]


def test_an_approval_that_would_leave_a_later_step_with_nobody_is_refused(make_bot, slack, okta):
    """Given steps [owners] then [Alice] and no fallback, when Alice approves step 1, then she
    is told to leave it to another owner and nothing is counted; Bob approves step 1, Alice step 2."""
    bot = make_bot(rules=[OWNERS_THEN_ALICE]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE) and asked(slack, BOB))
    request = pending(bot)
    slack.click(ALICE, "approve")
    eventually(lambda: "leave this step to another approver" in ephemeral_answers(slack, ALICE))
    assert bot.service.lifecycle.queries.approvals(request.id) == {}
    slack.click(BOB, "approve")
    eventually(lambda: bot.request(request.id).step == 1)
    slack.click(ALICE, "approve", value=request.id)
    eventually(lambda: bot.request(request.id).state == "active")


def test_steps_that_can_never_be_completed_are_refused_in_the_form(make_bot, slack, okta):
    """Given steps [Alice] then [alice@acme.com] (her again, which only Slack can tell) and no
    fallback, then Carol's request is refused in the form, since Alice may not count twice."""
    bot = make_bot(rules=[{"name": "alice-twice",
                           "steps": [{"approvers": ["U0ALICE"]}, {"approvers": ["alice@acme.com"]}]}]).start()
    ask(slack, "eng-admins")
    assert "Step 2 needs 1 approval" in slack.view_errors(CAROL)["access"]
    assert bot.service.lifecycle.queries.in_states("pending") == []

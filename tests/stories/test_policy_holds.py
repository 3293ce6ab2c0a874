"""The policy's guarantees hold at every transition, not only when a request is filed: two forms
at the same instant, two approvals at once, an extension of an extension, a bundle under a
weaker rule.  (The guarantees' edge cases, such as a pending request against a conflicting one
or break-glass nobody could review, are checked in memory: tests/unit/test_invariants.py and
tests/unit/test_rules.py.)"""

from __future__ import annotations

import threading
from datetime import timedelta

from tests.support.config import CHASING, edit_config
from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.requests import active_request, jump
from tests.support.slack import ask, ask_to_extend, asked, ephemeral_answers, option_for, texts

CONFLICT = [{"name": "build-and-pay", "entitlements": ["okta:eng-admins", "okta:billing-admins"]}]


def requests_of(bot, *states):
    return bot.service.lifecycle.queries.in_states(*states)


def two_forms_at_once(bot, slack, first: str, second: str, user=CAROL):
    """`user` submits the request form for `first` and for `second` at the same instant."""
    slack.command(user)
    eventually(lambda: slack.open_view(user))
    why = {"duration": "1h", "justification": "INC-9 at 3am"}
    return slack.submit_at_once(user, [{"access": option_for(bot, first), **why},
                                       {"access": option_for(bot, second), **why}])


def refused(answer) -> str:
    body = answer.json() if answer.content else {}
    return str(body.get("errors", "")) if body.get("response_action") == "errors" else ""


# -- separation of duties ---------------------------------------------------------------------

def test_two_conflicting_forms_at_the_same_instant_file_one(make_bot, slack, okta):
    """Given the conflict, when Carol submits eng-admins and billing-admins at the same instant,
    then exactly one is filed and the other form answers with the conflict."""
    bot = make_bot(conflicts=CONFLICT).start()
    answers = two_forms_at_once(bot, slack, "eng-admins", "billing-admins")
    assert sorted(bool(refused(a)) for a in answers) == [False, True]
    assert "build-and-pay" in "".join(refused(a) for a in answers)
    assert len(requests_of(bot, "pending")) == 1


def test_two_approvals_of_the_two_sides_at_once_grant_one(make_bot, slack, okta):
    """Given Carol's two requests filed before the conflict existed, when the config adds it and
    Alice and Bob approve one side each at the same instant, then one is granted, the other
    approval is refused with the reason, and Okta never holds both."""
    bot = make_bot().start()
    ask(slack, "eng-admins")
    ask(slack, "billing-admins")
    pending = eventually(lambda: len(requests_of(bot, "pending")) == 2 and requests_of(bot, "pending"))
    eventually(lambda: all(r.id in texts(slack.dm(o)) for r in pending for o in (ALICE, BOB)))
    edit_config(bot, okta, conflicts=CONFLICT)
    assert bot.service.check_config() is True
    eng, billing = sorted(requests_of(bot, "pending"), key=lambda r: r.entitlement_name != "eng-admins")
    barrier = threading.Barrier(2)

    def approve(owner, request):
        barrier.wait()
        slack.click(owner, "approve", value=request.id)

    clicks = [threading.Thread(target=approve, args=args) for args in ((ALICE, eng), (BOB, billing))]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    eventually(lambda: len(requests_of(bot, "active")) == 1)
    loser = ALICE if bot.request(eng.id).state == "pending" else BOB
    eventually(lambda: "separation of duties: build-and-pay" in ephemeral_answers(slack, loser))
    carol = okta.ids["carol@acme.com"]
    held = [carol in okta.members(okta.ids[g]) for g in ("eng-admins", "billing-admins")]
    assert sorted(held) == [False, True]


def test_an_approved_request_is_not_granted_next_to_a_conflict(make_bot, slack, okta):
    """Given Carol's billing-admins request approved but not yet granted (manual provisioning
    leaves it to the owners) and eng-admins active, when the conflict is added and the approved
    one comes up for granting, then it fails with the reason instead of being granted."""
    bot = make_bot().start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    eventually(lambda: requests_of(bot, "active"))
    ask(slack, "billing-admins")
    billing = eventually(lambda: requests_of(bot, "pending"))[0]
    edit_config(bot, okta, conflicts=CONFLICT)
    bot.service.check_config()
    lifecycle = bot.service.lifecycle
    # The approval raced the reload: it was counted under the old rules.
    lifecycle.requests.approve(billing.id, ALICE, 0, 1, True, bot.service.clock.now(), approved="approved")
    lifecycle.provision(billing.id)
    assert bot.request(billing.id).state == "failed"
    assert "build-and-pay" in bot.request(billing.id).last_error
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["billing-admins"])
    eventually(lambda: "could not grant it" in texts(slack.dm(CAROL)))


# -- caps -------------------------------------------------------------------------------------

AUTO = [{"name": "self-serve",
         "match": {"connector": "okta"},
         "auto_approve": {"slack_groups": ["@sre"], "max_uses": 1}}]


def test_two_forms_at_once_use_an_auto_approval_once(make_bot, slack, okta):
    """Given one auto-approval a day for the sre group, when Carol submits two forms at the same
    instant, then one is approved at once and the other waits for the owners."""
    slack.add_user_group("sre", [CAROL])
    bot = make_bot(rules=AUTO).start()
    answers = two_forms_at_once(bot, slack, "eng-admins", "billing-admins")
    assert [refused(a) for a in answers] == ["", ""]
    eventually(lambda: len(requests_of(bot, "active")) == 1 and len(requests_of(bot, "pending")) == 1)
    assert [r.route for r in requests_of(bot, "pending")] == ["people"]


def test_two_forms_at_once_stay_within_the_hourly_cap(make_bot, slack, okta):
    """Given one request an hour, when Carol submits two forms at the same instant, then one is
    filed and the other is told to wait."""
    bot = make_bot(max_requests_per_hour=1).start()
    answers = two_forms_at_once(bot, slack, "eng-admins", "billing-admins")
    assert "1 requests in the last hour" in "".join(refused(a) for a in answers)
    assert len(requests_of(bot, "pending")) == 1


def test_extensions_count_against_the_hourly_cap(make_bot, slack, okta, clock):
    """Given two requests an hour, when Carol (after one request) asks to extend, cancels the
    extension and asks again, then the second extension is refused: the owners were asked
    twice in all, not more."""
    bot = make_bot(max_requests_per_hour=2).start()
    original = active_request(bot, slack)
    slack.open_home(CAROL)  # Extend is offered there for active access
    eventually(lambda: "yours until" in str(slack.home(CAROL)))
    ask_to_extend(slack)
    extension = eventually(lambda: [r for r in requests_of(bot, "pending") if r.extends])[0]
    eventually(lambda: f"'value': '{extension.id}'" in texts(slack.dm(CAROL)))  # its Cancel button
    slack.click(CAROL, "cancel", value=extension.id)
    eventually(lambda: bot.request(extension.id).state == "cancelled")
    slack.open_home(CAROL)
    ask_to_extend(slack)
    assert "requests in the last hour" in slack.view_errors(CAROL)["duration"]
    assert [r for r in requests_of(bot, "pending") if r.extends] == []
    assert bot.request(original.id).state == "active"


# -- the access window ------------------------------------------------------------------------

def test_self_extension_stops_at_the_whole_window(make_bot, slack, okta, clock):
    """Given extensions without approval and an 8h maximum, when Carol holds 4h and extends by 4h
    at the warning, then by 1h at the next warning, then the first applies at once and the
    second goes to the owners."""
    bot = make_bot(policy=CHASING, rules=[{"name": "self-extend", "extension_needs_approval": False}]).start()
    original = active_request(bot, slack)
    jump(bot, clock, timedelta(hours=3, minutes=46))
    eventually(lambda: "Extend" in texts(slack.dm(CAROL)))
    ask_to_extend(slack, duration="4h")
    extended = original.expires_at + timedelta(hours=4)
    eventually(lambda: bot.request(original.id).expires_at == extended)
    asked_before = len(slack.dm(ALICE))
    jump(bot, clock, timedelta(hours=4))  # the warning of the new expiry
    eventually(lambda: texts(slack.dm(CAROL)).count("Extend") >= 2)
    ask_to_extend(slack, duration="1h")
    second = eventually(lambda: [r for r in requests_of(bot, "pending") if r.extends])[0]
    assert second.route == "people"
    eventually(lambda: len(slack.dm(ALICE)) > asked_before and asked(slack, ALICE))
    assert bot.request(original.id).expires_at == extended


# -- bundles ----------------------------------------------------------------------------------

def test_a_bundle_cannot_skip_the_ticket_its_item_needs(make_bot, slack, okta):
    """Given data-* groups need a ticket (a rule matching on type, so only known at request
    time) and a bundle holding data-admins under the default rule, when Carol asks for the
    bundle, then the form refuses it naming the weaker rule, and nothing is filed."""
    bot = make_bot(rules=[{"name": "data",
                           "match": {"type": "group", "resource": "data-*"},
                           "ticket": {"required": True}}],
                   bundles=[{"name": "oncall", "items": ["okta:eng-admins", "okta:data-admins"]}]).start()
    ask(slack, "oncall")
    assert "the rule for data-admins (data)" in slack.view_errors(CAROL)["access"]
    assert requests_of(bot, "pending", "approved", "active") == []


def test_a_bundle_is_granted_and_ended_at_once(make_bot, slack, okta):
    """Given a bundle and a safety sweep that runs only every 10 minutes, when Alice approves it,
    then both groups are granted without waiting for the sweep; and when Carol ends it early,
    both are removed at once."""
    bot = make_bot(sweep_seconds=600, bundles=[{"name": "oncall",
                                                "items": ["okta:eng-admins", "okta:data-admins"]}]).start()
    carol = okta.ids["carol@acme.com"]
    ask(slack, "oncall")
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    bundle = eventually(lambda: [r for r in requests_of(bot, "approved", "provisioning", "active")
                                 if r.connector_id == "bundle"])[0]  # the click is acted on after its ack
    eventually(lambda: bot.request(bundle.id).state == "active", timeout=10)
    assert all(carol in okta.members(okta.ids[g]) for g in ("eng-admins", "data-admins"))
    bot.service.lifecycle.end_early(bundle.id, CAROL)
    eventually(lambda: bot.request(bundle.id).state == "revoked", timeout=10)
    assert not any(carol in okta.members(okta.ids[g]) for g in ("eng-admins", "data-admins"))

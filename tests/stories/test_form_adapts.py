"""The request form redraws itself for the chosen item's rule, over real HTTP: the requester
picks an item (Slack sends block_actions, the input dispatches), the bot answers views.update,
and what was already typed stays."""

from __future__ import annotations

import time
from datetime import timedelta

from tests.support.harness import ALICE, CAROL, eventually
from tests.support.requests import pending
from tests.support.slack import texts

DATA_NEEDS_A_TICKET = [{"name": "data",
                        "match": {"resource": "data-*"},
                        "durations": ["1h"],
                        "max_duration": "1h",
                        "ticket": {"required": True, "pattern": "SEC-[0-9]+"}}]


def open_form(slack, user=CAROL) -> dict:
    slack.command(user)
    return eventually(lambda: slack.open_view(user))


def option(slack, name: str, user=CAROL) -> dict:
    groups = slack.suggest(user, "entitlement", name[:3])["option_groups"]
    return next(o for g in groups for o in g["options"] if o["text"]["text"] == name)


def pick(slack, name: str, user=CAROL) -> dict:
    """The requester picks `name` in the form; returns the form once the bot has redrawn it."""
    before = slack.open_view(user)["hash"]
    assert slack.select(user, "entitlement", option(slack, name, user)).status_code == 200
    return eventually(lambda: (view := slack.open_view(user)) and view["hash"] != before and view)


def block(view: dict, block_id: str) -> dict | None:
    return next((b for b in view["blocks"] if b["block_id"] == block_id), None)


def durations(view: dict) -> list[str]:
    return [o["value"] for o in block(view, "duration")["element"]["options"]]


def test_the_form_offers_only_what_the_chosen_items_rule_allows(make_bot, slack, okta):
    """Given data-* limited to 1h and needing a SEC- ticket, when Carol picks data-admins, then
    the form offers only 1h and a required ticket field showing the pattern; when she picks
    eng-admins (default rule) instead, the ticket field goes and the default durations return."""
    make_bot(rules=DATA_NEEDS_A_TICKET).start()
    form = open_form(slack)
    assert durations(form) == ["1h", "4h", "8h"] and block(form, "ticket")["optional"] is True
    assert block(form, "access")["dispatch_action"] is True

    form = pick(slack, "data-admins")
    assert durations(form) == ["1h"]
    ticket = block(form, "ticket")
    assert ticket["optional"] is False and "SEC-[0-9]+" in ticket["hint"]["text"]
    assert block(form, "access")["element"]["initial_option"]["text"]["text"] == "data-admins"
    assert block(form, "break_glass") is None

    form = pick(slack, "eng-admins")
    assert block(form, "ticket") is None
    assert durations(form) == ["1h", "4h", "8h"]
    assert block(form, "access")["element"]["initial_option"]["text"]["text"] == "eng-admins"
    assert [b["block_id"] for b in form["blocks"]] == ["access", "duration", "justification"]


def test_break_glass_is_offered_only_where_the_rule_allows_it(make_bot, slack, okta):
    """Given break-glass allowed for eng-* only, then the checkbox shows for eng-admins and not
    for data-admins, and Carol can use it for eng-admins straight from the redrawn form."""
    bot = make_bot(rules=[{"name": "emergency",
                           "match": {"resource": "eng-*"},
                           "break_glass": True,
                           "fallback": ["U0DAVE"]}]).start()
    assert block(open_form(slack), "break_glass") is not None
    assert block(pick(slack, "data-admins"), "break_glass") is None
    form = pick(slack, "eng-admins")
    assert block(form, "break_glass")["element"]["options"][0]["value"] == "yes"
    slack.fill(CAROL, {"break_glass": ["yes"], "justification": "Payments are down (INC-9)"})
    slack.submit(CAROL)
    request = eventually(lambda: bot.service.lifecycle.queries.of_requester(CAROL, ("active",)))[0]
    assert request.route == "break_glass"


def test_what_was_typed_before_picking_survives_the_redraw(make_bot, slack, okta):
    """Given Carol types her reason and picks 4h before choosing the item, when the form is
    redrawn for eng-admins, then both are still there and the request goes through with them."""
    bot = make_bot(rules=DATA_NEEDS_A_TICKET).start()
    open_form(slack)
    slack.fill(CAROL, {"justification": "Deploy the INC-42 hotfix", "duration": "4h"})
    form = pick(slack, "eng-admins")
    assert form["state"]["values"]["justification"]["justification"]["value"] == "Deploy the INC-42 hotfix"
    assert slack.submit(CAROL).status_code == 200
    assert slack.open_view(CAROL) is None and slack.view_errors(CAROL) == {}
    request = pending(bot)
    assert request.justification == "Deploy the INC-42 hotfix"
    assert request.duration == timedelta(hours=4)
    assert request.entitlement_name == "eng-admins"
    eventually(lambda: "Deploy the INC-42 hotfix" in texts(slack.dm(ALICE)))


def test_a_rule_that_waives_the_reason_shows_it_optional(make_bot, slack, okta):
    """Given data-* needs no reason, then the reason is optional for data-admins, required for
    eng-admins, and data-admins can be asked for without one."""
    bot = make_bot(rules=[{"name": "no-reason",
                           "match": {"resource": "data-*"},
                           "justification_required": False}]).start()
    open_form(slack)
    assert block(pick(slack, "data-admins"), "justification")["optional"] is True
    assert block(pick(slack, "eng-admins"), "justification")["optional"] is False
    assert block(pick(slack, "data-admins"), "justification")["optional"] is True
    slack.submit(CAROL)
    assert pending(bot).entitlement_name == "data-admins"


def test_a_form_changed_meanwhile_is_left_alone(make_bot, slack, okta):
    """Given views.update answers hash_conflict (the requester changed the form meanwhile), then
    the form stays as it was, nobody is told of an error, and the next pick redraws it."""
    make_bot(rules=DATA_NEEDS_A_TICKET).start()
    form = open_form(slack)
    slack.fail("views.update", "hash_conflict")
    slack.select(CAROL, "entitlement", option(slack, "data-admins"))
    eventually(lambda: slack.calls_to("POST", "/api/views.update"))
    time.sleep(0.3)  # the listener has nothing left to do; give it the chance to misbehave
    assert slack.open_view(CAROL)["hash"] == form["hash"] and slack.dm(CAROL) == []
    assert durations(pick(slack, "data-admins")) == ["1h"]


def test_an_item_that_cannot_be_requested_leaves_the_form_as_it_is(make_bot, slack, okta):
    """Given a (tampered) pick of an Okta APP_GROUP, then the form is not redrawn; submitting it
    says why."""
    bot = make_bot(rules=DATA_NEEDS_A_TICKET).start()
    form = open_form(slack)
    gid = okta.ids["Salesforce users"]
    forged = {"text": {"type": "plain_text", "text": "Salesforce users"}, "value": f"okta|group:{gid}:member"}
    assert slack.select(CAROL, "entitlement", forged).status_code == 200
    time.sleep(0.3)
    assert slack.calls_to("POST", "/api/views.update") == []
    assert slack.open_view(CAROL)["hash"] == form["hash"] and slack.dm(CAROL) == []
    slack.submit(CAROL, {"justification": "Need it"})
    assert "not something you can request" in slack.view_errors(CAROL)["access"]
    assert bot.service.lifecycle.queries.in_states("pending") == []


def test_a_form_drawn_for_a_rule_is_valid_block_kit_and_keeps_ids():
    """Pure: the form drawn for a rule (also what `request_modal(..., rule=)` gives for a
    preselected item) is accepted by Slack and keeps every block and action id of the open form."""
    from bot.domain.kinds import BreakGlass, Ticket
    from bot.domain.policy import Policy
    from bot.domain.rules import Rule, RuleBook
    from bot.slack import blocks
    from sandbox import blockkit
    from storage.catalog import SearchHit

    hours = tuple(timedelta(hours=h) for h in (1, 4, 8))
    strict = Rule("strict", Policy(hours, timedelta(hours=1)),
                  kinds=(Ticket(required=True, pattern="SEC-[0-9]+"), BreakGlass(allowed=True)))
    book = RuleBook(Rule("default", Policy(hours, timedelta(hours=8))), (strict,))
    hit = SearchHit("okta", "group:00g1:member", "data-admins", "group")
    opened = blocks.request_modal(book, search="data")
    drawn = blocks.request_modal(book, search="data", preselected=hit, rule=strict)
    assert blockkit.view_problems(opened, "modal") == blockkit.view_problems(drawn, "modal") == []
    ids = {(b["block_id"], b["element"]["action_id"]) for b in opened["blocks"]}
    assert {(b["block_id"], b["element"]["action_id"]) for b in drawn["blocks"]} == ids
    assert durations(drawn) == ["1h"] and block(drawn, "ticket")["optional"] is False
    assert block(drawn, "access")["element"]["initial_option"]["value"] == "okta|group:00g1:member"
    assert drawn["private_metadata"] == opened["private_metadata"]
    assert durations(blocks.request_modal_for(book.default, "", None, duration="4h")) == ["1h", "4h", "8h"]
    assert block(blocks.request_modal_for(book.default, "", None, duration="4h"),
                 "duration")["element"]["initial_option"]["value"] == "4h"

"""Bundles: several entitlements asked for at once, approved together, granted together and
taken back together.  (What a bundle's config and rule may be is checked in memory, in
tests/unit/test_policy_guarantees.py and tests/unit/test_invariants.py.)"""

from __future__ import annotations

from datetime import timedelta

from tests.support.harness import ALICE, CAROL, eventually
from tests.support.requests import jump
from tests.support.slack import ask, asked, texts

ONCALL = {"name": "oncall", "description": "What the on-call engineer needs",
          "items": ["okta:eng-admins", "okta:data-admins"]}


def members(okta, *groups) -> list[bool]:
    carol = okta.ids["carol@acme.com"]
    return [carol in okta.members(okta.ids[group]) for group in groups]


def bundle_of(bot):
    return eventually(lambda: [r for r in bot.service.lifecycle.queries.in_states(
        "pending", "approved", "provisioning", "active") if r.connector_id == "bundle"])[0]


def active_bundle(bot, slack):
    """Carol asks for the bundle, Alice approves it, and it becomes active."""
    ask(slack, "oncall", duration="1h")
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    bundle = bundle_of(bot)
    eventually(lambda: bot.request(bundle.id).state == "active")
    return bundle


def test_a_bundle_is_approved_once_granted_together_and_revoked_together(make_bot, slack, okta, clock):
    """Given the oncall bundle, when Carol asks for it and Alice approves once, then both groups
    are granted, Carol gets one message naming both, and at expiry both are removed."""
    bot = make_bot(bundles=[ONCALL]).start()
    ask(slack, "oncall", duration="1h")
    eventually(lambda: asked(slack, ALICE))
    assert "eng-admins (okta), data-admins (okta)" in texts(slack.dm(ALICE))
    slack.click(ALICE, "approve")
    bundle = bundle_of(bot)
    eventually(lambda: bot.request(bundle.id).state == "active")
    assert members(okta, "eng-admins", "data-admins") == [True, True]
    items = bot.service.lifecycle.queries.children(bundle.id)
    assert {i.expires_at for i in items} == {bot.request(bundle.id).expires_at}
    eventually(lambda: "You now have *oncall* (bundle)" in texts(slack.dm(CAROL)))
    assert "You now have *eng-admins*" not in texts(slack.dm(CAROL))  # one message, not one per item

    jump(bot, clock, timedelta(hours=1, minutes=1))
    eventually(lambda: bot.request(bundle.id).state == "revoked")
    assert members(okta, "eng-admins", "data-admins") == [False, False]
    assert sorted(c.method for c in okta.membership_writes()) == ["DELETE", "DELETE", "PUT", "PUT"]


def test_when_one_item_cannot_be_granted_the_bundle_fails_and_nothing_stays(make_bot, slack, okta):
    """Given Okta refuses data-admins, then the bundle fails, Carol is told which item, and
    eng-admins (granted meanwhile) is taken back."""
    okta.fail(status=403, times=1000, method="PUT", path=f"/api/v1/groups/{okta.ids['data-admins']}/users/.*")
    bot = make_bot(bundles=[ONCALL]).start()
    ask(slack, "oncall", duration="1h")
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    bundle = bundle_of(bot)
    eventually(lambda: bot.request(bundle.id).state == "failed")
    eventually(lambda: "data-admins" in (bot.request(bundle.id).last_error or ""))
    eventually(lambda: "could not grant" in texts(slack.dm(CAROL)))
    eventually(lambda: members(okta, "eng-admins", "data-admins") == [False, False])
    eventually(lambda: {i.state for i in bot.service.lifecycle.queries.children(bundle.id)}
               == {"revoked", "failed"})


def test_ending_a_bundle_early_removes_every_item(make_bot, slack, okta):
    """Given an active bundle, when Carol presses End now in her list, then both groups go."""
    bot = make_bot(bundles=[ONCALL]).start()
    bundle = active_bundle(bot, slack)
    slack.command(CAROL, text="list")
    listed = eventually(lambda: slack.responses(CAROL) or slack.ephemerals(CAROL))
    assert "oncall" in str(listed) and "eng-admins" not in str(listed)  # the bundle, not its items
    bot.service.lifecycle.end_early(bundle.id, CAROL)
    eventually(lambda: bot.request(bundle.id).state == "revoked")
    assert members(okta, "eng-admins", "data-admins") == [False, False]


def test_an_item_already_held_stays_when_the_bundle_ends(make_bot, slack, okta, clock):
    """Given Carol already reads prod, when a bundle with prod-readers ends, then she still does."""
    bot = make_bot(bundles=[{**ONCALL, "items": ["okta:eng-admins", "okta:prod-readers"]}]).start()
    bundle = active_bundle(bot, slack)
    jump(bot, clock, timedelta(hours=1, minutes=1))
    eventually(lambda: bot.request(bundle.id).state == "revoked")
    assert members(okta, "eng-admins", "prod-readers") == [False, True]


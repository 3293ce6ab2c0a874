"""Every message shows who may act now and nothing stale, and its notification text is plain
words: what each person sees at the end of a story, over real HTTP."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.support.config import CHASING
from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually
from tests.support.requests import active_request, extension_asked, jump
from tests.support.slack import ask, asked, texts


def live(slack, user) -> bool:
    """Does any of the user's DMs still offer Approve?"""
    return any(b["action_id"] == "approve" for m in slack.dm(user) for b in slack.buttons(m))


def test_after_a_step_only_those_who_may_act_next_have_buttons(make_bot, slack, okta):
    """Given steps [owners] then [Alice or Dave], when Alice approves step 1, then only Dave
    (Alice may not count twice) has Approve; Alice's and Bob's DMs say the request is now with
    Dave, and Carol's says it waits on Dave."""
    make_bot(rules=[{"name": "two-steps",
                     "steps": [{"approvals": 1}, {"approvers": ["U0ALICE", "U0DAVE"]}]}]).start()
    ask(slack, "eng-admins")
    eventually(lambda: asked(slack, ALICE) and asked(slack, BOB))
    slack.click(ALICE, "approve")
    eventually(lambda: live(slack, DAVE))
    now_with = "Step 1 approved by <@U0ALICE>; now with <@U0DAVE>."
    eventually(lambda: now_with in texts(slack.dm(BOB)))
    assert now_with in texts(slack.dm(ALICE))
    assert not live(slack, ALICE) and not live(slack, BOB)
    assert "Step 2 of 2" in texts(slack.dm(DAVE))
    eventually(lambda: "is waiting for approval from <@U0DAVE>" in texts(slack.dm(CAROL)))
    assert "<@U0BOB>" not in texts(slack.dm(CAROL))


def test_the_expiry_warning_loses_its_buttons_when_the_access_ends(make_bot, slack, okta, clock):
    """Given Carol's warning with End now / Extend, when she ends the access, then the warning
    says it has ended and offers nothing."""
    bot = make_bot(policy=CHASING).start()
    request = active_request(bot, slack)
    jump(bot, clock, timedelta(hours=3, minutes=46))
    eventually(lambda: "end it now if you are done" in texts(slack.dm(CAROL)))
    slack.click(CAROL, "end_now")
    eventually(lambda: bot.request(request.id).state == "revoked")
    warning = eventually(lambda: next((m for m in slack.dm(CAROL) if "has ended" in texts([m])
                                       and "Your access to" in texts([m])), None))
    assert slack.buttons(warning) == []
    assert not any(b["action_id"] in ("end_now", "extend") for m in slack.dm(CAROL) for b in slack.buttons(m))


def test_after_an_extension_the_grant_shows_its_new_end(make_bot, slack, okta, clock):
    """Given 4h of access extended by 1h, then Alice's message about the grant says it is
    granted until the new end."""
    bot = make_bot(policy=CHASING).start()
    original = active_request(bot, slack)
    extension = extension_asked(bot, slack, clock)
    slack.click(ALICE, "approve", value=extension.id)
    eventually(lambda: bot.request(extension.id).state == "extended")
    new_end = (original.expires_at + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M UTC")
    eventually(lambda: any("Granted until" in texts([m]) and new_end in texts([m])
                           for m in slack.dm(ALICE)))


def test_the_list_is_redrawn_after_one_of_its_buttons_is_used(bot, slack, okta):
    """Given Carol's active access in her `/request-access list`, when she presses End now there,
    then the list is replaced by one without the button (the access gone, or shown being taken
    back when the periodic sweep got to it first)."""
    active_request(bot, slack)
    slack.command(CAROL, text="list")
    assert "'End now'" in str(slack.ephemerals(CAROL))
    slack.click(CAROL, "end_now")
    eventually(lambda: "'End now'" not in str(slack.ephemerals(CAROL)))
    assert slack.ephemerals(CAROL)  # replaced, not deleted


MARKUP = re.compile(r"\*|(?<!\S):[a-z_]+:|<!date|<@|Access request [0-9a-f]")


def test_notification_texts_are_plain_words(make_bot, slack, okta, clock):
    """Given a request approved, extended and ended, then the `text` of every message anyone got
    (what a phone shows) has no mrkdwn and says what and for whom."""
    bot = make_bot(policy=CHASING).start()
    active_request(bot, slack)
    slack.click(ALICE, "approve", value=extension_asked(bot, slack, clock).id)
    eventually(lambda: "now lasts until" in texts(slack.dm(CAROL)))
    notifications = [m["text"] for user in (ALICE, BOB, CAROL, DAVE) for m in slack.dm(user)]
    assert [text for text in notifications if MARKUP.search(text)] == []
    assert "Carol asks for eng-admins (okta) for 4 hours." in notifications
    assert "Carol asks to keep eng-admins (okta) 1 hour longer." in notifications

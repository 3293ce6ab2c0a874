"""Extending active access: same policy as a request, and the expiry moves without a revoke
and a second grant."""

from __future__ import annotations

from datetime import timedelta

from tests.support.config import CHASING
from tests.support.harness import ALICE, CAROL, DAVE, eventually, forge_click
from tests.support.requests import active_request, extension_asked, jump
from tests.support.slack import ask_to_extend, asked, ephemeral_answers, texts


def test_an_approved_extension_moves_the_expiry_without_regranting(make_bot, slack, okta, clock):
    """Given 4h of access, when Carol asks for 1h more at the warning and Alice approves, then the
    membership stays through the old expiry, ends at the new one, and Okta saw one PUT, one DELETE."""
    bot = make_bot(policy=CHASING).start()
    original = active_request(bot, slack)
    extension = extension_asked(bot, slack, clock)
    assert extension.extends == original.id
    slack.click(ALICE, "approve", value=extension.id)
    eventually(lambda: bot.request(extension.id).state == "extended")
    assert bot.request(original.id).expires_at == original.expires_at + timedelta(hours=1)
    eventually(lambda: "now lasts until" in texts(slack.dm(CAROL)))

    carol, group = okta.ids["carol@acme.com"], okta.ids["eng-admins"]
    jump(bot, clock, timedelta(minutes=30))  # past the old expiry
    assert bot.request(original.id).state == "active" and carol in okta.members(group)
    jump(bot, clock, timedelta(minutes=45))  # past the new one
    eventually(lambda: bot.request(original.id).state == "revoked")
    assert carol not in okta.members(group)
    assert [c.method for c in okta.membership_writes()] == ["PUT", "DELETE"]


def test_a_rule_may_let_holders_extend_without_asking(make_bot, slack, okta, clock):
    """Given extension_needs_approval: false, then the expiry moves at once and nobody is asked."""
    bot = make_bot(policy=CHASING,
                   rules=[{"name": "self-service", "extension_needs_approval": False}]).start()
    original = active_request(bot, slack)
    before = len(slack.dm(ALICE))
    jump(bot, clock, timedelta(hours=3, minutes=46))
    eventually(lambda: "Extend" in texts(slack.dm(CAROL)))
    ask_to_extend(slack, duration="4h")
    eventually(lambda: bot.request(original.id).expires_at == original.expires_at + timedelta(hours=4))
    assert len(slack.dm(ALICE)) == before


def test_only_the_holder_can_extend(make_bot, slack, okta):
    """Given Carol's active access, when Dave forges her Extend click, then he is refused."""
    bot = make_bot().start()
    original = active_request(bot, slack)
    forge_click(slack, DAVE, "extend", original.id)
    eventually(lambda: "Only the person who holds the access" in ephemeral_answers(slack, DAVE))
    assert slack.open_view(DAVE) is None


def test_ending_access_closes_its_pending_extension(make_bot, slack, okta, clock):
    """Given a pending extension, when Carol ends her access, then the extension is closed at
    once: Alice's DM loses its buttons and says so, Carol is told, `list` no longer shows it, a
    late (forged) Approve is refused, and nothing is granted again."""
    bot = make_bot(policy=CHASING).start()
    original = active_request(bot, slack)
    jump(bot, clock, timedelta(hours=3, minutes=46))
    eventually(lambda: "Extend" in texts(slack.dm(CAROL)))
    ask_to_extend(slack)
    eventually(lambda: asked(slack, ALICE) and bot.service.lifecycle.queries.in_states("pending"))
    extension = bot.service.lifecycle.queries.in_states("pending")[0]
    slack.click(CAROL, "end_now")
    eventually(lambda: bot.request(original.id).state == "revoked")
    eventually(lambda: bot.request(extension.id).state == "cancelled")
    eventually(lambda: not asked(slack, ALICE))
    assert "the access it would extend has ended" in texts(slack.dm(ALICE))
    eventually(lambda: "was closed: the access has ended" in texts(slack.dm(CAROL)))
    forge_click(slack, ALICE, "approve", extension.id)
    eventually(lambda: "extension was closed" in ephemeral_answers(slack, ALICE))
    assert bot.request(extension.id).state == "cancelled"
    slack.command(CAROL, text="list")
    assert extension.id not in str(slack.responses(CAROL)[-1])
    assert [c.method for c in okta.membership_writes()] == ["PUT", "DELETE"]

"""Okta's System Log between full syncs: changes an admin makes by hand in Okta reach Latchkey
within the poll interval (the tests poll at once instead of waiting for it), as holdings, new
requestable groups and drift told to the owners; a cursor Okta refuses and an outage longer than
the log keeps end in a full sync that says so."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.domain.events import AuditAction
from tests.support.harness import ALICE, CAROL, DAVE, eventually
from tests.support.metrics import scrape, value
from tests.support.requests import active_request
from tests.support.slack import ask, asked, options, texts


@pytest.fixture
def poll(bot):
    """One read of the System Log, now, as the poller makes every interval."""
    return bot.service.pollers["okta"].poll_once


def full_syncs(bot):
    return bot.service.catalog.last_sync("okta").finished_at


def test_a_group_and_a_membership_made_by_hand_are_known_within_the_poll_interval(bot, slack, okta, poll):
    """Given an admin who creates a group and adds Dave to eng-admins in Okta, when the log is
    read, then the group is offered and can be requested, and Dave is told he already has
    eng-admins, with no full sync in between."""
    synced = full_syncs(bot)
    okta.console.create_group("incident-responders")
    okta.console.add_member(okta.ids["eng-admins"], okta.ids["dave@acme.com"])
    slack.command(CAROL, text="")
    eventually(lambda: slack.open_view(CAROL))
    assert options(slack, CAROL, "incident") == []
    poll()
    assert options(slack, CAROL, "incident") == ["incident-responders"]
    ask(slack, "incident-responders", user=CAROL)
    eventually(lambda: asked(slack, ALICE))
    ask(slack, "eng-admins", user=DAVE)
    assert "You already have eng-admins" in str(slack.view_errors(DAVE))
    assert full_syncs(bot) == synced


def test_a_granted_membership_removed_by_hand_is_told_to_the_owners(bot, slack, okta, poll):
    """Given Carol's active eng-admins access, read back from the log (Latchkey's own grant is
    no drift), when an admin removes her from the group by hand, then the next read tells the
    owners, once, without a full sync."""
    request = active_request(bot, slack)
    synced = full_syncs(bot)
    poll()
    okta.console.remove_member(okta.ids["eng-admins"], okta.ids["carol@acme.com"])
    poll()
    eventually(lambda: "no longer shows it" in texts(slack.dm(ALICE)))
    poll()
    bot.service.notifier.close()  # wait until anything queued has been sent
    assert len([m for m in slack.dm(ALICE) if "Drift" in texts([m])]) == 1
    assert [e.action for e in bot.service.lifecycle.audit.events(request.id)].count("drift") == 1
    assert full_syncs(bot) == synced


def test_access_put_back_by_hand_after_revocation_is_told_to_the_owners(bot, slack, okta, clock, poll):
    request = active_request(bot, slack)
    clock.advance(timedelta(hours=4, seconds=1))
    eventually(lambda: bot.request(request.id).state == "revoked")
    poll()
    assert "Drift" not in texts(slack.dm(ALICE))
    okta.console.add_member(okta.ids["eng-admins"], okta.ids["carol@acme.com"])
    poll()
    eventually(lambda: "still shows it" in texts(slack.dm(ALICE)))


def test_an_expired_cursor_falls_back_to_a_full_sync_and_says_so(bot, okta, poll):
    """Given a cursor Okta no longer honours, when the log is read, then a full sync takes its
    place (and brings the change the log would have), it is audited as a System Log gap, and
    the log is read again from the sync on."""
    poll()
    synced = full_syncs(bot)
    okta.system_log.expire_cursors()
    okta.console.add_member(okta.ids["eng-admins"], okta.ids["dave@acme.com"])
    poll()
    assert full_syncs(bot) > synced
    assert bot.service.catalog.holds("okta", f"group:{okta.ids['eng-admins']}:member",
                                     okta.ids["dave@acme.com"])
    gap = bot.service.lifecycle.audit.last(AuditAction.FEED_GAP)
    assert gap is not None and '"feed": "System Log"' in gap.detail and "refused" in gap.detail
    okta.console.remove_member(okta.ids["eng-admins"], okta.ids["dave@acme.com"])
    poll()
    assert not bot.service.catalog.holds("okta", f"group:{okta.ids['eng-admins']}:member",
                                         okta.ids["dave@acme.com"])
    assert len([e for e in bot.service.lifecycle.audit.events() if e.action == AuditAction.FEED_GAP]) == 1


def test_a_log_outage_shows_as_lag_and_one_longer_than_the_retention_ends_in_a_full_sync(make_bot, okta, clock):
    """Given the System Log down, then reads fail, back off and the lag on /metrics grows; when
    it comes back after more than the 90 days it keeps, then a full sync takes its place and
    says so."""
    bot = make_bot(max_attempts=1).start()  # each failed read fails at once
    poller = bot.service.pollers["okta"]
    poll = poller.poll_once
    poll()
    okta.system_log.down = True
    assert poll() == 0 and poller.next_read_in() > 20
    clock.advance(timedelta(minutes=11))
    assert value(scrape(bot), "latchkey_okta_log_lag_seconds", connector="okta") >= 660
    synced = full_syncs(bot)
    clock.advance(timedelta(days=91))
    okta.system_log.down = False
    poll()
    assert full_syncs(bot) > synced
    gap = bot.service.lifecycle.audit.last(AuditAction.FEED_GAP)
    assert gap is not None and "90 days" in gap.detail
    poll()
    assert value(scrape(bot), "latchkey_okta_log_lag_seconds", connector="okta") < 60

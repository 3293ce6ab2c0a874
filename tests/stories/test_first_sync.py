"""A fresh bot whose first catalog sync has not finished says so in the typeahead, refuses the
placeholder if submitted, and shows the sync's state in /metrics."""

from __future__ import annotations

import httpx

from tests.support.harness import CAROL, eventually
from tests.support.metrics import scrape, value
from tests.support.slack import options

STILL_READING = "Still reading the catalog from okta…"


def test_the_typeahead_says_the_catalog_is_still_being_read(make_bot, slack, okta):
    """Given Okta has not yet answered the first sync's list of groups, when Carol opens the
    form, then the typeahead says the catalog is still being read, /readyz is 200 and /metrics
    shows the sync in progress; once Okta answers, the groups are offered instead."""
    released = okta.hold(path="/api/v1/groups")
    try:
        bot = make_bot().start(wait_for_sync=False)
        assert httpx.get(bot.url + "/readyz").status_code == 200
        slack.command(CAROL)
        eventually(lambda: slack.open_view(CAROL))
        assert options(slack, CAROL, "") == [STILL_READING]
        assert options(slack, CAROL, "admins") == [STILL_READING]
        eventually(lambda: value(scrape(bot), "latchkey_catalog_sync_in_progress", connector="okta") == 1)
        assert value(scrape(bot), "latchkey_catalog_last_sync_timestamp_seconds", connector="okta") == 0
    finally:
        released.set()
    eventually(lambda: options(slack, CAROL, "admins") == ["eng-admins", "data-admins", "billing-admins"],
               timeout=10)
    metrics = scrape(bot)
    assert value(metrics, "latchkey_catalog_sync_in_progress", connector="okta") == 0
    assert value(metrics, "latchkey_catalog_last_sync_timestamp_seconds", connector="okta") > 0


def test_the_placeholder_cannot_be_requested(make_bot, slack, okta):
    """Given the first sync is still running, when Carol submits the "still reading" choice,
    then the form says so under the access and nothing is stored."""
    released = okta.hold(path="/api/v1/groups")
    try:
        bot = make_bot().start(wait_for_sync=False)
        slack.command(CAROL)
        eventually(lambda: slack.open_view(CAROL))
        [placeholder] = [o for g in slack.suggest(CAROL, "entitlement", "")["option_groups"]
                         for o in g["options"]]
        slack.submit(CAROL, {"access": placeholder, "duration": "4h", "justification": "need it"})
        assert STILL_READING in slack.view_errors(CAROL)["access"]
        assert bot.service.lifecycle.queries.in_states("pending") == []
    finally:
        released.set()

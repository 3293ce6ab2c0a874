"""Words people read, in memory: time left, and notification texts without markup."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.slack.text import plain
from bot.slack.wording import time_left


@pytest.mark.parametrize("left, said", [
    (timedelta(seconds=-5), "less than a minute left"),
    (timedelta(seconds=59), "less than a minute left"),
    (timedelta(minutes=1), "1 minute left"),
    (timedelta(minutes=59, seconds=59), "59 minutes left"),
    (timedelta(hours=1), "1 hour left"),
    (timedelta(hours=1, minutes=1), "1 hour 1 minute left"),
    (timedelta(hours=1, minutes=59), "1 hour 59 minutes left"),
    (timedelta(hours=2), "2 hours left"),
    (timedelta(hours=47, minutes=59), "47 hours left"),
    (timedelta(days=2), "2 days left"),
])
def test_time_left_is_rounded_down_to_words_that_fit(left, said):
    assert time_left(left) == said


def test_plain_text_keeps_the_words_and_drops_the_markup():
    """Mentions become names, dates their fallback; emoji codes and formatting marks go, but
    marks inside words (eng_admins, 2*3) and escaped user text stay."""
    mrkdwn = (":white_check_mark: Approved by <@U0ALICE> <!date^1700000000^{date_short_pretty} at "
              "{time}|2023-11-14 22:13 UTC>. Granted *eng_admins* (okta), _really_ `now`: 2*3 &lt;b&gt;")
    assert plain(mrkdwn, {"U0ALICE": "Alice"}.get) == (
        "Approved by Alice 2023-11-14 22:13 UTC. Granted eng_admins (okta), really now: 2*3 &lt;b&gt;")


def test_a_name_is_escaped_like_any_user_text():
    assert plain("<@U1> asks", lambda person: "<!channel> Eve") == "&lt;!channel&gt; Eve asks"

"""The kinds of message the core can ask for, and the Slack notifier's ways of telling them,
match one to one (the notifier also checks it when it is built, before any delivery)."""

from __future__ import annotations

from bot.ports import MessageKind
from bot.slack.notifier import SlackNotifier


def test_every_kind_has_a_slack_message_and_every_slack_message_a_kind():
    senders = {name.removeprefix("_send_") for name in dir(SlackNotifier) if name.startswith("_send_")}
    assert sorted(kind.value for kind in MessageKind if kind.value not in senders) == []
    assert sorted(senders - {kind.value for kind in MessageKind}) == []

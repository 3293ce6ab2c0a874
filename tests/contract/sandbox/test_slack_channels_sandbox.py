"""The Slack sandbox's channels answer the real slack_sdk client as Slack does: the app posts only
where it is a member, threads, ephemeral messages only to members, conversations.info and
conversations.replies."""

from __future__ import annotations

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import SlackSandbox


@pytest.fixture
def slack():
    with SlackSandbox(bot_token="xoxb-test") as sandbox:
        sandbox.add_user("U1", "ann@example.com")
        sandbox.add_user("U2", "bob@example.com")
        sandbox.add_channel("C0APPROVE", "approvals", members=("U1",))
        sandbox.add_channel("C0NOBOT", "elsewhere", members=("U1",), bot=False)
        sandbox.add_channel("G0SECRET", "secret", members=("U1",), bot=False, private=True)
        yield sandbox


@pytest.fixture
def client(slack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.url + "/api/")


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value.response["error"]


def test_the_app_posts_only_in_channels_it_was_invited_to(slack, client):
    """A public channel without the app says not_in_channel; a private one it is not in does not
    exist for it (channel_not_found), nor does an unknown id."""
    assert client.chat_postMessage(channel="C0APPROVE", text="hello")["channel"] == "C0APPROVE"
    assert error_of(lambda: client.chat_postMessage(channel="C0NOBOT", text="x")) == "not_in_channel"
    assert error_of(lambda: client.chat_postMessage(channel="G0SECRET", text="x")) == "channel_not_found"
    assert error_of(lambda: client.chat_postMessage(channel="C0GONE", text="x")) == "channel_not_found"
    slack.remove_from_channel("C0APPROVE", slack.bot_user_id)
    assert error_of(lambda: client.chat_postMessage(channel="C0APPROVE", text="x")) == "not_in_channel"


def test_a_private_channel_the_app_left_is_gone_for_it(slack, client):
    """Its messages can no longer be updated: the channel does not exist for the app."""
    slack.add_channel("G0TEAM", "team", members=("U1",), private=True)
    posted = client.chat_postMessage(channel="G0TEAM", text="request")
    slack.remove_from_channel("G0TEAM", slack.bot_user_id)
    assert error_of(lambda: client.chat_update(channel="G0TEAM", ts=posted["ts"], text="x")) == "channel_not_found"
    assert error_of(lambda: client.conversations_info(channel="G0TEAM")) == "channel_not_found"


def test_a_reply_goes_to_its_thread_not_to_the_channel(slack, client):
    """thread_ts makes a reply: the channel shows the parent with its reply_count, and
    conversations.replies returns the parent then its replies, a page at a time."""
    parent = client.chat_postMessage(channel="C0APPROVE", text="request")
    for n in range(3):
        client.chat_postMessage(channel="C0APPROVE", text=f"reminder {n}", thread_ts=parent["ts"])
    shown = slack.channel("C0APPROVE")
    assert [m["text"] for m in shown] == ["request"] and shown[0]["reply_count"] == 3
    first = client.conversations_replies(channel="C0APPROVE", ts=parent["ts"], limit=2)
    assert [m["text"] for m in first["messages"]] == ["request", "reminder 0"] and first["has_more"]
    rest = client.conversations_replies(channel="C0APPROVE", ts=parent["ts"],
                                        cursor=first["response_metadata"]["next_cursor"])
    assert [m["text"] for m in rest["messages"]] == ["reminder 1", "reminder 2"] and not rest["has_more"]
    assert all(m["thread_ts"] == parent["ts"] for m in rest["messages"])
    assert error_of(lambda: client.conversations_replies(channel="C0APPROVE", ts="1.000001")) \
        == "thread_not_found"


def test_an_ephemeral_message_reaches_only_a_member_of_the_channel(slack, client):
    assert client.chat_postEphemeral(channel="C0APPROVE", user="U1", text="only you")["message_ts"]
    assert error_of(lambda: client.chat_postEphemeral(channel="C0APPROVE", user="U2", text="x")) \
        == "user_not_in_channel"
    assert [e["text"] for e in slack.ephemerals("U1")] == ["only you"] and slack.ephemerals("U2") == []


def test_conversations_info_says_whether_the_app_is_a_member(client):
    info = client.conversations_info(channel="C0APPROVE")["channel"]
    assert (info["name"], info["is_channel"], info["is_private"], info["is_member"]) == \
        ("approvals", True, False, True)
    assert client.conversations_info(channel="C0NOBOT")["channel"]["is_member"] is False
    assert error_of(lambda: client.conversations_info(channel="G0SECRET")) == "channel_not_found"
    assert error_of(lambda: client.conversations_info(channel="C0GONE")) == "channel_not_found"

"""The Slack sandbox answers the real slack_sdk client like Slack, and posts to the bot like Slack."""

from __future__ import annotations

import json
from urllib.parse import parse_qs

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from sandbox import blockkit
from sandbox.server import Call, Reply, SandboxServer
from sandbox.slack import SlackSandbox

SECRET = "test-secret"


class FakeBot(SandboxServer):
    """Stands in for the bot: records what Slack delivers and answers with `reply`."""

    def __init__(self) -> None:
        super().__init__()
        self.reply = Reply(200)

    def route(self, call: Call) -> Reply:
        return self.reply

    def last(self) -> Call:
        return self.calls[-1]

    def last_fields(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.last().body.decode()).items()}

    def last_payload(self) -> dict:
        return json.loads(self.last_fields()["payload"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack(clock):
    with SlackSandbox(signing_secret=SECRET, clock=clock) as sandbox:
        sandbox.add_user("U1", "Ann@Example.com", real_name="Ann")
        sandbox.add_user("U2", "bob@example.com", real_name="Bob")
        yield sandbox


@pytest.fixture
def bot(slack):
    with FakeBot() as fake:
        slack.bot_url = fake.url + "/slack/events"
        yield fake


@pytest.fixture
def client(slack) -> WebClient:
    return WebClient(token="xoxb-test", base_url=slack.url + "/api/")


def error_of(call) -> SlackApiError:
    with pytest.raises(SlackApiError) as raised:
        call()
    return raised.value


def modal(title: str = "Request access", blocks: list | None = None, **extra) -> dict:
    return {"type": "modal", "title": {"type": "plain_text", "text": title},
            "submit": {"type": "plain_text", "text": "Submit"}, "blocks": blocks or [], **extra}


def approve_blocks(value: str = "req-1") -> list[dict]:
    return [{"type": "section", "text": {"type": "mrkdwn", "text": "*Ann* wants access"}},
            {"type": "actions", "block_id": "decide", "elements": [
                {"type": "button", "action_id": "approve", "value": value, "style": "primary",
                 "text": {"type": "plain_text", "text": "Approve"}}]}]


def trigger_from_command(slack, bot, user_id: str = "U1") -> str:
    slack.command(user_id, "/request-access")
    return bot.last_fields()["trigger_id"]


REQUEST_FORM = [
    {"type": "input", "block_id": "resource", "label": {"type": "plain_text", "text": "Resource"},
     "element": {"type": "static_select", "action_id": "pick", "options": [
         {"text": {"type": "plain_text", "text": "Okta admins"}, "value": "okta-admins"}]}},
    {"type": "input", "block_id": "reason", "label": {"type": "plain_text", "text": "Why"},
     "element": {"type": "plain_text_input", "action_id": "text"}},
    {"type": "input", "block_id": "hours", "optional": True,
     "label": {"type": "plain_text", "text": "Hours"},
     "element": {"type": "number_input", "action_id": "n", "is_decimal_allowed": False,
                 "initial_value": "2"}},
]


# -- Web API: transport and auth ------------------------------------------------------------
def test_auth_test_accepts_slack_sdk_and_an_empty_json_body(slack, client):
    """auth.test answers slack_sdk with x-oauth-scopes, and accepts an empty body typed as JSON."""
    response = client.auth_test()
    assert response["user_id"] == slack.bot_user_id and response["team_id"] == slack.team_id
    assert "chat:write" in response.headers["x-oauth-scopes"]
    # slack_sdk 3.43 sent parameterless calls this way
    empty = httpx.post(slack.url + "/api/auth.test", content=b"",
                       headers={"Authorization": "Bearer xoxb-test",
                                "Content-Type": "application/json;charset=utf-8"})
    assert empty.json()["ok"] is True and empty.headers["x-oauth-scopes"]


def test_token_rules_match_slack(slack):
    """Bad token: invalid_auth; none: not_authed; JSON-body token ignored; form/query token works."""
    api = slack.url + "/api/auth.test"
    assert error_of(WebClient(token="xoxb-nope", base_url=slack.url + "/api/").auth_test) \
        .response["error"] == "invalid_auth"
    assert httpx.post(api).json()["error"] == "not_authed"
    assert httpx.post(api, json={"token": "xoxb-test"}).json()["error"] == "not_authed"
    assert httpx.post(api, data={"token": "xoxb-test", "team_id": "T1"}).json()["ok"] is True
    assert httpx.get(api, params={"token": "xoxb-test"}).json()["ok"] is True


def test_unknown_method(client):
    """A method the sandbox does not serve answers unknown_method."""
    assert error_of(lambda: client.api_call("chat.meMessage")).response["error"] == "unknown_method"


# -- triggers and views ----------------------------------------------------------------------
def test_trigger_is_single_use(slack, bot, client):
    """A trigger the sandbox issued opens one modal; reuse and invented ids are refused."""
    trigger = trigger_from_command(slack, bot)
    view = client.views_open(trigger_id=trigger, view=modal())["view"]
    assert view["id"].startswith("V") and view["hash"] and slack.open_view("U1")["id"] == view["id"]
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=modal())) \
        .response["error"] == "exchanged_trigger_id"
    assert error_of(lambda: client.views_open(trigger_id="123.456.abc", view=modal())) \
        .response["error"] == "invalid_trigger_id"


def test_trigger_expires_after_ttl(slack, bot, client, clock):
    """A trigger is refused as expired once trigger_ttl seconds have passed on the sandbox clock."""
    trigger = trigger_from_command(slack, bot)
    clock.now += 3.01
    assert error_of(lambda: client.views_open(trigger_id=trigger, view=modal())) \
        .response["error"] == "expired_trigger_id"


def test_views_push_stacks_at_most_three_views(slack, bot, client):
    """views.push puts a view on top of the open modal, which goes back to the one below when
    it closes; a fourth view is refused with push_limit_reached, and a push with no modal open
    with not_found (views.push: "limited to pushing 2 additional views")."""
    assert error_of(lambda: client.views_push(trigger_id=trigger_from_command(slack, bot), view=modal())) \
        .response["error"] == "not_found"
    root = client.views_open(trigger_id=trigger_from_command(slack, bot), view=modal("Root"))["view"]
    pushed = [client.views_push(trigger_id=trigger_from_command(slack, bot), view=modal(f"Pushed {n}"))["view"]
              for n in (1, 2)]
    assert pushed[0]["previous_view_id"] == root["id"] and pushed[1]["root_view_id"] == root["id"]
    assert slack.open_view("U1")["id"] == pushed[1]["id"]
    assert error_of(lambda: client.views_push(trigger_id=trigger_from_command(slack, bot), view=modal())) \
        .response["error"] == "push_limit_reached"
    with slack.lock:
        slack.workspace.close_modal("U1", pushed[1]["id"])
    assert slack.open_view("U1")["id"] == pushed[0]["id"]


def test_a_view_of_more_than_100_blocks_is_refused(slack, bot, client):
    """A modal of 101 blocks is refused with invalid_arguments naming the limit; 100 pass."""
    block = {"type": "section", "text": {"type": "mrkdwn", "text": "row"}}
    refused = error_of(lambda: client.views_open(trigger_id=trigger_from_command(slack, bot),
                                                 view=modal(blocks=[block] * 101)))
    assert refused.response["error"] == "invalid_arguments"
    assert "no more than 100 items allowed" in str(refused.response["response_metadata"]["messages"])
    client.views_open(trigger_id=trigger_from_command(slack, bot), view=modal(blocks=[block] * 100))


def test_views_update_by_id_and_external_id_with_hash(slack, bot, client):
    """views.update finds the view by id or external_id, refuses a stale hash and unknown views."""
    opened = client.views_open(trigger_id=trigger_from_command(slack, bot),
                               view=json.dumps(modal(external_id="req-1")))["view"]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"], view=modal("Step 2"))
    assert updated["view"]["id"] == opened["id"] and updated["view"]["hash"] != opened["hash"]
    assert error_of(lambda: client.views_update(view_id=opened["id"], hash=opened["hash"],
                                                view=modal())).response["error"] == "hash_conflict"
    client.views_update(external_id="req-1", view=modal("Step 3"))
    assert slack.open_view("U1")["title"]["text"] == "Step 3"
    assert error_of(lambda: client.views_update(view_id="V404", view=modal())) \
        .response["error"] == "not_found"


def test_views_publish_stores_home_and_app_home_opened_carries_it(slack, bot, client):
    """views.publish stores the user's Home view and the next app_home_opened includes it."""
    home = {"type": "home", "blocks": [{"type": "header", "text": {"type": "plain_text", "text": "Hi"}}]}
    published = client.views_publish(user_id="U1", view=home)["view"]
    assert slack.home("U1")["id"] == published["id"]
    slack.open_home("U1")
    event = json.loads(bot.last().body)["event"]
    assert event["type"] == "app_home_opened" and event["view"]["id"] == published["id"]
    assert error_of(lambda: client.views_publish(user_id="U404", view=home)) \
        .response["error"] == "invalid_arguments"


# -- Block Kit limits ------------------------------------------------------------------------
def test_too_many_blocks_rejected(client):
    """51 blocks in a message -> invalid_blocks; 101 in a Home view -> invalid_arguments."""
    divider = {"type": "divider"}
    refused = error_of(lambda: client.chat_postMessage(channel="U1", text="x", blocks=[divider] * 51))
    assert refused.response["error"] == "invalid_blocks"
    assert "no more than 50 items" in refused.response["response_metadata"]["messages"][0]
    client.chat_postMessage(channel="U1", text="x", blocks=[divider] * 50)
    home = {"type": "home", "blocks": [divider] * 101}
    assert error_of(lambda: client.views_publish(user_id="U1", view=home)) \
        .response["error"] == "invalid_arguments"


def test_modal_title_of_25_chars_rejected(slack, bot, client):
    """A 25-character modal title is refused with a json-pointer at the title; 24 is fine."""
    refused = error_of(lambda: client.views_open(trigger_id=trigger_from_command(slack, bot),
                                                 view=modal("x" * 25)))
    assert refused.response["error"] == "invalid_arguments"
    assert "[json-pointer:/view/title/text]" in refused.response["response_metadata"]["messages"][0]
    client.views_open(trigger_id=trigger_from_command(slack, bot), view=modal("x" * 24))


def test_button_text_of_76_chars_and_unknown_block_type_rejected(client):
    """Button text over 75 characters and an unknown block type are invalid_blocks."""
    blocks = approve_blocks()
    blocks[1]["elements"][0]["text"]["text"] = "x" * 76
    assert error_of(lambda: client.chat_postMessage(channel="U1", text="x", blocks=blocks)) \
        .response["error"] == "invalid_blocks"
    assert error_of(lambda: client.chat_postMessage(channel="U1", text="x",
                                                    blocks=[{"type": "carousel"}])) \
        .response["error"] == "invalid_blocks"


def test_blockkit_catches_duplicate_ids_and_wrong_text_types():
    """Duplicate block_id / action_id and mrkdwn where Slack wants plain_text are problems."""
    blocks = approve_blocks() + approve_blocks()
    blocks[1]["elements"].append(dict(blocks[1]["elements"][0]))
    blocks.append({"type": "header", "text": {"type": "mrkdwn", "text": "Hi"}})
    problems = "\n".join(blockkit.message_problems(blocks))
    assert "duplicate block_id: decide" in problems
    assert "duplicate action_id: approve" in problems
    assert "/blocks/4/text/type" in problems
    assert blockkit.message_problems(approve_blocks()) == []


# -- messages ----------------------------------------------------------------------------------
def test_dm_routing_by_user_id_and_dm_id(slack, client):
    """Posts to U1 and to U1's conversations.open id land in the same DM, with increasing ts."""
    dm_id = client.conversations_open(users="U1")["channel"]["id"]
    assert dm_id.startswith("D") and client.conversations_open(users="U1")["channel"]["id"] == dm_id
    first = client.chat_postMessage(channel="U1", text="one")
    second = client.chat_postMessage(channel=dm_id, text="two")
    assert first["channel"] == second["channel"] == dm_id
    assert float(second["ts"]) > float(first["ts"])
    assert [m["text"] for m in slack.dm("U1")] == ["one", "two"] and slack.dm("U2") == []
    assert error_of(lambda: client.chat_postMessage(channel="U404", text="x")) \
        .response["error"] == "channel_not_found"
    with pytest.warns(UserWarning):  # slack_sdk warns about the missing text, Slack refuses it
        assert error_of(lambda: client.chat_postMessage(channel="U1")).response["error"] == "no_text"


def test_chat_update_changes_the_message_and_refuses_unknown_ts(slack, client):
    """chat.update rewrites the message, keeps blocks when none are sent, refuses unknown ts."""
    posted = client.chat_postMessage(channel="U1", text="pending", blocks=approve_blocks())
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="approved")
    assert slack.dm("U1")[0]["text"] == "approved" and slack.dm("U1")[0]["blocks"]
    assert error_of(lambda: client.chat_update(channel=posted["channel"], ts="1.000001", text="x")) \
        .response["error"] == "message_not_found"
    assert error_of(lambda: client.chat_update(channel=posted["channel"], ts=posted["ts"],
                                               text="x" * 4001)).response["error"] == "msg_too_long"


def test_ephemeral_is_kept_per_user(slack, client):
    """chat.postEphemeral returns message_ts and shows only to the named user."""
    response = client.chat_postEphemeral(channel="C0GENERAL", user="U1", text="only you")
    assert slack.ephemerals("U1")[0]["ts"] == response["message_ts"] and slack.ephemerals("U2") == []


def test_users_info_and_lookup_by_email(client):
    """users.info returns profile.email; lookupByEmail is case-insensitive and says users_not_found."""
    assert client.users_info(user="U1")["user"]["profile"]["email"] == "Ann@Example.com"
    assert client.users_lookupByEmail(email="ann@example.COM")["user"]["id"] == "U1"
    assert error_of(lambda: client.users_lookupByEmail(email="eve@example.com")) \
        .response["error"] == "users_not_found"
    assert error_of(lambda: client.users_info(user="U404")).response["error"] == "user_not_found"


# -- user groups -------------------------------------------------------------------------------
def test_usergroups_list_shows_enabled_groups_and_members_only_when_asked(slack, client):
    """usergroups.list: handle without @, date_delete 0; `users` and `user_count` only on request."""
    group_id = slack.add_user_group("security-team", ["U1", "U2"], name="Security")
    slack.add_user_group("old-team", ["U1"], disabled=True)
    response = client.usergroups_list()
    assert "usergroups:read" in response.headers["x-oauth-scopes"]
    [group] = response["usergroups"]
    assert group["id"] == group_id and group_id.startswith("S")
    assert (group["handle"], group["name"], group["date_delete"]) == ("security-team", "Security", 0)
    assert "users" not in group and "user_count" not in group
    [group] = client.usergroups_list(include_users=True, include_count=True)["usergroups"]
    assert group["users"] == ["U1", "U2"] and group["user_count"] == 2


def test_usergroups_list_includes_disabled_groups_only_when_asked(slack, client):
    slack.add_user_group("security-team", ["U1"])
    disabled_id = slack.add_user_group("old-team", ["U2"], disabled=True)
    listed = {g["handle"]: g for g in client.usergroups_list(include_disabled=True)["usergroups"]}
    assert set(listed) == {"security-team", "old-team"}
    assert listed["old-team"]["id"] == disabled_id and listed["old-team"]["date_delete"] > 0
    assert listed["security-team"]["date_delete"] == 0


def test_usergroups_users_list_answers_members_and_no_such_subteam(slack, client):
    """Members by group id; an unknown id, or a disabled group without include_disabled, is
    no_such_subteam (the error Slack documents for this method)."""
    group_id = slack.add_user_group("security-team", ["U2", "U1"])
    assert client.usergroups_users_list(usergroup=group_id)["users"] == ["U2", "U1"]
    slack.set_user_group_members(group_id, ["U1"])
    assert client.usergroups_users_list(usergroup=group_id)["users"] == ["U1"]
    assert error_of(lambda: client.usergroups_users_list(usergroup="S404")) \
        .response["error"] == "no_such_subteam"
    slack.disable_user_group(group_id)
    assert error_of(lambda: client.usergroups_users_list(usergroup=group_id)) \
        .response["error"] == "no_such_subteam"
    assert client.usergroups_users_list(usergroup=group_id, include_disabled=True)["users"] == ["U1"]
    assert client.usergroups_list()["usergroups"] == []


def test_usergroups_need_a_valid_token(slack):
    bad = WebClient(token="xoxb-nope", base_url=slack.url + "/api/")
    assert error_of(bad.usergroups_list).response["error"] == "invalid_auth"
    assert httpx.get(slack.url + "/api/usergroups.users.list",
                     params={"usergroup": "S1"}).json()["error"] == "not_authed"


def test_add_user_group_refuses_what_slack_could_not_hold(slack):
    """Only existing users, one group per handle, and the handle has no @ (a typo fails loudly)."""
    slack.add_user_group("security-team", ["U1"])
    for handle, members in [("security-team", ["U2"]), ("@ops", ["U1"]), ("ops", ["U404"])]:
        with pytest.raises(ValueError):
            slack.add_user_group(handle, members)


# -- faults ------------------------------------------------------------------------------------
def test_rate_limit_sends_integer_retry_after(slack, client):
    """An injected rate limit is HTTP 429, Retry-After an integer, error ratelimited."""
    slack.rate_limit("chat.postMessage", retry_after=7)
    refused = error_of(lambda: client.chat_postMessage(channel="U1", text="x"))
    assert refused.response.status_code == 429 and refused.response["error"] == "ratelimited"
    assert int(refused.response.headers["Retry-After"][0]) == 7


def test_rate_limit_retry_handler_recovers(slack, client):
    """slack_sdk's RateLimitErrorRetryHandler waits out the 429 and the retry succeeds."""
    slack.rate_limit("chat.postMessage", retry_after=0)
    client.retry_handlers.append(RateLimitErrorRetryHandler(max_retry_count=1))
    assert client.chat_postMessage(channel="U1", text="x")["ok"]
    assert len(slack.calls_to("POST", "/api/chat.postMessage")) == 2


def test_fail_injects_an_error(slack, client):
    """fail() makes the next call answer 200 with ok=false and the chosen error."""
    slack.fail("users.info", error="user_not_visible")
    assert error_of(lambda: client.users_info(user="U1")).response["error"] == "user_not_visible"
    assert client.users_info(user="U1")["ok"]


# -- the platform side -------------------------------------------------------------------------
def test_signatures_verify_with_slack_sdk(slack, bot):
    """Deliveries are signed as Slack signs them; a wrong secret or stale timestamp does not verify."""
    verifier = SignatureVerifier(SECRET)
    slack.command("U1", "/request-access", text="okta")
    assert verifier.is_valid_request(bot.last().body, bot.last().headers)
    assert bot.last_fields()["text"] == "okta" and bot.last_fields()["user_id"] == "U1"
    slack.post_raw(b"{}", "application/json", secret="wrong")
    assert not verifier.is_valid_request(bot.last().body, bot.last().headers)
    slack.post_raw(b"{}", "application/json", timestamp=1)
    assert not verifier.is_valid_request(bot.last().body, bot.last().headers)


def test_command_answer_and_response_url_are_recorded(slack, bot):
    """The command's HTTP answer and response_url posts reach responses(); a URL works 5 times."""
    bot.reply = Reply.json(200, {"response_type": "ephemeral", "text": "opening..."})
    slack.command("U1")
    url = bot.last_fields()["response_url"]
    statuses = [httpx.post(url, json={"text": f"update {i}"}).status_code for i in range(6)]
    assert statuses == [200] * 5 + [404]
    texts = [r["text"] for r in slack.responses("U1")]
    assert texts == ["opening..."] + [f"update {i}" for i in range(5)]


def test_click_sends_block_actions_for_a_visible_button(slack, bot, client):
    """A click on a DM button posts block_actions with message, container and a working response_url."""
    posted = client.chat_postMessage(channel="U2", text="Ann wants access", blocks=approve_blocks())
    slack.click("U2", "approve", value="req-1")
    payload = bot.last_payload()
    assert payload["type"] == "block_actions" and payload["user"]["id"] == "U2"
    assert payload["container"] == {"type": "message", "message_ts": posted["ts"],
                                    "channel_id": posted["channel"], "is_ephemeral": False}
    assert payload["actions"][0]["block_id"] == "decide" and payload["actions"][0]["value"] == "req-1"
    httpx.post(payload["response_url"], json={"replace_original": True, "text": "Approved"})
    assert slack.dm("U2")[0]["text"] == "Approved"


def test_a_click_in_an_ephemeral_answer_can_replace_or_delete_it(slack, bot):
    """A command's ephemeral answer with a button: the click's response_url replaces it in place
    (replace_original) or removes it (delete_original), as Slack does for ephemeral messages."""
    bot.reply = Reply.json(200, {"response_type": "ephemeral", "text": "list", "blocks": approve_blocks()})
    slack.command("U1")
    slack.click("U1", "approve")
    payload = bot.last_payload()
    assert payload["container"]["is_ephemeral"] is True and "message" not in payload
    httpx.post(payload["response_url"], json={"replace_original": True, "text": "redrawn",
                                              "blocks": approve_blocks()})
    assert [e["text"] for e in slack.ephemerals("U1")] == ["redrawn"]
    slack.click("U1", "approve")
    httpx.post(bot.last_payload()["response_url"], json={"delete_original": True})
    assert slack.ephemerals("U1") == []


def test_click_refuses_buttons_the_user_cannot_see(slack, bot, client):
    """Clicking a button that is not shown to that user, or no longer shown, raises AssertionError."""
    posted = client.chat_postMessage(channel="U2", text="Ann wants access", blocks=approve_blocks())
    with pytest.raises(AssertionError):
        slack.click("U1", "approve")  # the button is in Bob's DM, not Ann's
    with pytest.raises(AssertionError):
        slack.click("U2", "approve", value="req-2")
    message = slack.dm("U2")[0]
    client.chat_update(channel=posted["channel"], ts=posted["ts"], text="done", blocks=[])
    with pytest.raises(AssertionError):
        slack.click("U2", "approve", message=message)  # the stale copy still shows it
    assert len(bot.calls) == 0


def test_submit_builds_state_values_and_applies_the_answer(slack, bot, client):
    """submit fills view.state.values like Slack; errors keep the modal open, an empty 200 closes it."""
    client.views_open(trigger_id=trigger_from_command(slack, bot),
                      view=modal(blocks=REQUEST_FORM, callback_id="request"))
    with pytest.raises(AssertionError):
        slack.submit("U1", {"resource": "okta-admins", "reason": None})  # required input empty
    bot.reply = Reply.json(200, {"response_action": "errors", "errors": {"reason": "Too short"}})
    slack.submit("U1", {"resource": "okta-admins", "reason": "x"})
    values = bot.last_payload()["view"]["state"]["values"]
    assert values["resource"]["pick"]["selected_option"]["text"]["text"] == "Okta admins"
    assert values["reason"]["text"] == {"type": "plain_text_input", "value": "x"}
    assert values["hours"]["n"]["value"] == "2"  # untouched input keeps its initial value
    assert slack.view_errors("U1") == {"reason": "Too short"} and slack.open_view("U1")
    bot.reply = Reply(200)
    slack.submit("U1", {"resource": "okta-admins", "reason": "incident 42", "hours": None})
    assert slack.open_view("U1") is None and slack.view_errors("U1") == {}


def test_suggest_validates_the_options_answer(slack, bot, client):
    """block_suggestion returns the bot's options and raises when Slack would refuse them."""
    select = {"type": "input", "block_id": "resource", "label": {"type": "plain_text", "text": "R"},
              "element": {"type": "external_select", "action_id": "search", "min_query_length": 1}}
    client.views_open(trigger_id=trigger_from_command(slack, bot), view=modal(blocks=[select]))
    option = {"text": {"type": "plain_text", "text": "Okta admins"}, "value": "okta-admins"}
    bot.reply = Reply.json(200, {"options": [option]})
    assert slack.suggest("U1", "search", "ok")["options"] == [option]
    assert bot.last_payload()["value"] == "ok"
    bot.reply = Reply.json(200, {"options": [{**option, "value": "v" * 151}]})
    with pytest.raises(AssertionError):
        slack.suggest("U1", "search", "ok")


def test_event_retry_repeats_event_id_with_headers(slack, bot):
    """A retried event carries the same event_id and X-Slack-Retry-Num / Reason headers."""
    slack.event({"type": "app_mention", "user": "U1"}, event_id="Ev1", retry_num=2)
    body, headers = json.loads(bot.last().body), bot.last().headers
    assert body["type"] == "event_callback" and body["event_id"] == "Ev1"
    assert headers["x-slack-retry-num"] == "2" and headers["x-slack-retry-reason"] == "http_timeout"


# -- selecting in a modal, and what survives views.update ----------------------------------------
PICK_FORM = [
    {"type": "input", "block_id": "item", "dispatch_action": True,
     "label": {"type": "plain_text", "text": "Item"},
     "element": {"type": "external_select", "action_id": "search", "min_query_length": 0}},
    {"type": "input", "block_id": "size", "label": {"type": "plain_text", "text": "Size"},
     "element": {"type": "static_select", "action_id": "pick", "options": [
         {"text": {"type": "plain_text", "text": size}, "value": size} for size in ("S", "M", "L")],
         "initial_option": {"text": {"type": "plain_text", "text": "S"}, "value": "S"}}},
    {"type": "input", "block_id": "why", "label": {"type": "plain_text", "text": "Why"},
     "element": {"type": "plain_text_input", "action_id": "text"}},
]
OKTA_ADMINS = {"text": {"type": "plain_text", "text": "Okta admins"}, "value": "okta-admins"}


def open_pick_form(slack, bot, client) -> dict:
    return client.views_open(trigger_id=trigger_from_command(slack, bot),
                             view=modal(blocks=PICK_FORM, callback_id="request"))["view"]


def test_select_dispatches_block_actions_only_from_a_dispatching_input(slack, bot, client):
    """Picking in an input without dispatch_action sends nothing; picking in one with it posts
    block_actions carrying the view (id, hash, state with both choices) and the action."""
    opened = open_pick_form(slack, bot, client)
    calls = len(bot.calls)
    assert slack.select("U1", "pick", "L") is None
    assert len(bot.calls) == calls
    assert slack.open_view("U1")["state"]["values"]["size"]["pick"]["selected_option"]["value"] == "L"
    slack.fill("U1", {"why": "incident 42"})
    assert len(bot.calls) == calls

    assert slack.select("U1", "search", OKTA_ADMINS).status_code == 200
    payload = bot.last_payload()
    assert payload["type"] == "block_actions" and payload["trigger_id"]
    assert payload["container"] == {"type": "view", "view_id": opened["id"]}
    assert payload["view"]["id"] == opened["id"] and payload["view"]["hash"] == opened["hash"]
    action = payload["actions"][0]
    assert (action["type"], action["action_id"], action["block_id"]) == ("external_select", "search", "item")
    assert action["selected_option"] == OKTA_ADMINS and action["action_ts"]
    values = payload["view"]["state"]["values"]
    assert values["item"]["search"]["selected_option"] == OKTA_ADMINS
    assert values["size"]["pick"]["selected_option"]["value"] == "L"
    assert values["why"]["text"] == {"type": "plain_text_input", "value": "incident 42"}
    with pytest.raises(AssertionError):
        slack.select("U1", "pick", "XL")  # not an option of that select
    with pytest.raises(AssertionError):
        slack.fill("U1", {"item": OKTA_ADMINS})  # a dispatching input is driven by select()


def test_submit_sends_what_the_user_entered_unless_told_otherwise(slack, bot, client):
    """submit() with no values sends the choices and text entered so far; values still override."""
    open_pick_form(slack, bot, client)
    slack.select("U1", "search", OKTA_ADMINS)
    slack.select("U1", "pick", "M")
    slack.fill("U1", {"why": "incident 42"})
    bot.reply = Reply.json(200, {"response_action": "errors", "errors": {"why": "Say more"}})
    slack.submit("U1")
    values = bot.last_payload()["view"]["state"]["values"]
    assert values["item"]["search"]["selected_option"] == OKTA_ADMINS
    assert values["size"]["pick"]["selected_option"]["value"] == "M"
    assert values["why"]["text"]["value"] == "incident 42"
    bot.reply = Reply(200)
    slack.submit("U1", {"why": "incident 42, the payments outage"})
    values = bot.last_payload()["view"]["state"]["values"]
    assert values["why"]["text"]["value"] == "incident 42, the payments outage"
    assert values["size"]["pick"]["selected_option"]["value"] == "M"
    assert slack.open_view("U1") is None


def test_views_update_keeps_entries_whose_ids_stay_and_issues_a_new_hash(slack, bot, client):
    """Slack keeps what was entered in inputs whose block_id and action_id are unchanged; an
    input with a new action_id starts empty, and a choice the new select no longer offers goes."""
    opened = open_pick_form(slack, bot, client)
    slack.select("U1", "search", OKTA_ADMINS)
    slack.select("U1", "pick", "L")
    slack.fill("U1", {"why": "incident 42"})
    fewer_sizes = [PICK_FORM[0], {**PICK_FORM[1], "element": {**PICK_FORM[1]["element"], "options": [
        {"text": {"type": "plain_text", "text": "S"}, "value": "S"}]}}, PICK_FORM[2]]
    updated = client.views_update(view_id=opened["id"], hash=opened["hash"],
                                  view=modal(blocks=fewer_sizes, callback_id="request"))["view"]
    assert updated["hash"] != opened["hash"]
    bot.reply = Reply(200)
    slack.submit("U1")
    values = bot.last_payload()["view"]["state"]["values"]
    assert values["item"]["search"]["selected_option"] == OKTA_ADMINS
    assert values["why"]["text"]["value"] == "incident 42"
    assert values["size"]["pick"]["selected_option"]["value"] == "S"  # L is gone: the initial shows

    again = open_pick_form(slack, bot, client)
    slack.select("U1", "search", OKTA_ADMINS)
    slack.fill("U1", {"why": "incident 42"})
    renamed_input = {**PICK_FORM[2]["element"], "action_id": "reason"}
    renamed = [*PICK_FORM[:2], {**PICK_FORM[2], "element": renamed_input}]
    client.views_update(view_id=again["id"], hash=again["hash"], view=modal(blocks=renamed))
    assert set(slack.open_view("U1")["state"]["values"]) == {"item"}
    with pytest.raises(AssertionError, match="'why' is empty"):
        slack.submit("U1")  # "why" is required and now empty
    stale = error_of(lambda: client.views_update(view_id=again["id"], hash=again["hash"],
                                                 view=modal(blocks=PICK_FORM)))
    assert stale.response["error"] == "hash_conflict"

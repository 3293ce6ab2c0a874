"""A stateful, faithful fake of Slack: the Web API the bot calls, and the platform that posts
signed requests to the bot on behalf of users.  It refuses what Slack refuses.

    with SlackSandbox() as slack:
        slack.add_user("U1", "ann@example.com")
        slack.add_user_group("security-team", ["U1"])  # -> "S…", for usergroups.*
        client = WebClient(token=slack.bot_token, base_url=slack.url + "/api/")
        slack.bot_url = "http://127.0.0.1:8000/slack/events"
        slack.command("U1", "/request-access")       # the bot opens a modal
        slack.fill("U1", {"reason": "incident 42"})   # typed, not sent
        slack.select("U1", "pick", "okta-admins")     # sent only if the input dispatches
        slack.submit("U1")                            # what was entered (or pass values)
        slack.click("U2", "approve")                  # the approver's DM button
        slack.add_channel("C0APPROVE", "approvals", members=("U1", "U2"))  # the app is in it
        slack.click("U2", "approve", message=slack.channel("C0APPROVE")[0])  # a button there

Routes: `{url}/api/<method>` (Web API), `{url}/response/<id>` (response_url).
Layout: slack_workspace (state), slack_webapi (methods), slack_platform (deliveries to the bot),
slack_forms (what a user's client does), blockkit (Block Kit limits).
"""

from __future__ import annotations

import copy
import json
import re
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from sandbox import blockkit, slack_forms
from sandbox.server import Call, Reply, SandboxServer
from sandbox.slack_platform import SlackPlatform
from sandbox.slack_webapi import WebApi
from sandbox.slack_workspace import BOT_USER_ID, TEAM_ID, SlackError, Workspace

SCOPES = ("channels:read,chat:write,commands,groups:read,im:write,usergroups:read,users:read,"
          "users:read.email")


class SlackSandbox(SlackPlatform, SandboxServer):
    team_id = TEAM_ID
    bot_user_id = BOT_USER_ID

    def __init__(self, bot_token: str = "xoxb-test", signing_secret: str = "test-secret",
                 trigger_ttl: float = 3.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.bot_token = bot_token
        self.signing_secret = signing_secret
        self.bot_url: str | None = None
        self.delivery_timeout = 3.0  # Slack gives up on the bot after 3 s
        self.workspace = Workspace(clock, trigger_ttl)
        self.api = WebApi(self.workspace, bot_token)

    def stop(self) -> None:
        self.close_connections()
        super().stop()

    # -- setup and faults --------------------------------------------------------------------
    def add_user(self, user_id: str, email: str, real_name: str = "", is_bot: bool = False,
                 deleted: bool = False) -> dict:
        with self.lock:
            return copy.deepcopy(self.workspace.add_user(user_id, email, real_name, is_bot, deleted))

    def add_channel(self, channel_id: str, name: str, members: tuple[str, ...] = (),
                    bot: bool = True, private: bool = False) -> None:
        """A channel (its name without the #) with these members, and the app among them
        unless `bot=False` (nobody invited it)."""
        with self.lock:
            self.workspace.add_channel(channel_id, name, set(members) | ({BOT_USER_ID} if bot else set()),
                                       private)

    def remove_from_channel(self, channel_id: str, user_id: str) -> None:
        """The user (or the app, `bot_user_id`) leaves or is removed from the channel."""
        with self.lock:
            self.workspace.channel_members[channel_id].discard(user_id)

    def add_user_group(self, handle: str, members: list[str], name: str = "",
                       disabled: bool = False) -> str:
        """A user group (handle without the @) of existing users; returns its id (S…)."""
        with self.lock:
            return self.workspace.add_user_group(handle, members, name, disabled)["id"]

    def set_user_group_members(self, group_id: str, members: list[str]) -> None:
        """Replace the group's members, as an admin (or usergroups.users.update) would."""
        with self.lock:
            self.workspace.set_user_group_members(group_id, members)

    def disable_user_group(self, group_id: str) -> None:
        """Disable the group, as an admin (or usergroups.disable) would."""
        with self.lock:
            self.workspace.disable_user_group(group_id)

    def rate_limit(self, method: str, times: int = 1, retry_after: int = 1) -> None:
        """The next `times` calls to `method` get HTTP 429 with an integer Retry-After."""
        headers = {"Retry-After": str(int(retry_after))}
        self.inject(lambda call: Reply.json(429, {"ok": False, "error": "ratelimited"}, headers),
                    path=f"/api/{re.escape(method)}", times=times)

    def fail(self, method: str, error: str = "fatal_error", times: int = 1) -> None:
        """The next `times` calls to `method` answer 200 with `{"ok": false, "error": error}`."""
        self.inject(lambda call: Reply.json(200, {"ok": False, "error": error}),
                    path=f"/api/{re.escape(method)}", times=times)

    # -- inspection (copies, so tests cannot change the workspace by accident) ----------------
    def messages(self, channel_id: str) -> list[dict]:
        with self.lock:
            return copy.deepcopy(self.workspace.messages.get(channel_id, []))

    def channel(self, channel_id: str) -> list[dict]:
        """The channel's messages as its members see them: replies stay in their threads."""
        return [m for m in self.messages(channel_id) if m.get("thread_ts") in (None, m["ts"])]

    def replies(self, channel_id: str, ts: str) -> list[dict]:
        """The thread under message `ts`, without the message itself."""
        with self.lock:
            return copy.deepcopy(self.workspace.thread(channel_id, ts)[1:])

    def dm(self, user_id: str) -> list[dict]:
        """The messages in the user's DM with the bot as they are now, oldest first."""
        with self.lock:
            dm = self.workspace.dm_ids.get(user_id)
            return self.messages(dm) if dm else []

    def ephemerals(self, user_id: str) -> list[dict]:
        with self.lock:
            return copy.deepcopy(self.workspace.ephemerals.get(user_id, []))

    def open_view(self, user_id: str) -> dict | None:
        """The modal on top of the user's stack, or None."""
        with self.lock:
            return copy.deepcopy(self.workspace.top_modal(user_id))

    def home(self, user_id: str) -> dict | None:
        with self.lock:
            return copy.deepcopy(self.workspace.home(user_id))

    def responses(self, user_id: str) -> list[dict]:
        """What the bot answered the user's commands with or posted to their response_urls."""
        with self.lock:
            return copy.deepcopy(self.workspace.responses.get(user_id, []))

    def view_errors(self, user_id: str) -> dict:
        """The errors the bot showed under the inputs of the user's open modal."""
        with self.lock:
            return dict(self.workspace.view_errors.get(user_id, {}))

    buttons = staticmethod(slack_forms.buttons)

    # -- HTTP --------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        if call.path.startswith("/api/"):
            return self._web_api(call)
        if call.path.startswith("/response/"):
            return self._serve_response_url(call)
        return Reply(404, b"not found")

    def _web_api(self, call: Call) -> Reply:
        headers = {"x-oauth-scopes": SCOPES}
        try:
            args, token_args = _api_args(call)
            authorization = call.headers.get("authorization", "")
            token = authorization[7:] if authorization.lower().startswith("bearer ") \
                else token_args.get("token")
            with self.lock:
                result = self.api.call(call.path.removeprefix("/api/"), token, args)
                return Reply.json(200, {"ok": True, **result}, headers)
        except SlackError as refusal:
            return Reply.json(200, refusal.payload(), headers)

    def _serve_response_url(self, call: Call) -> Reply:
        """Incoming-webhook style: plain-text answers, 4xx on refusal."""
        try:
            body = json.loads(call.body)
        except ValueError:
            return Reply(400, b"invalid_payload")
        if not isinstance(body, dict):
            return Reply(400, b"invalid_payload")
        if body.get("blocks") and blockkit.message_problems(body["blocks"]):
            return Reply(400, b"invalid_blocks")
        if not (body.get("text") or body.get("blocks") or body.get("delete_original")):
            return Reply(400, b"no_text")
        with self.lock:
            try:
                self.workspace.respond(call.path.removeprefix("/response/"), body)
            except SlackError as refusal:
                return Reply(404, refusal.code.encode())
        return Reply(200, b"ok", {"Content-Type": "text/plain"})


def _api_args(call: Call) -> tuple[dict, dict]:
    """(all arguments, those that may carry the token): Slack ignores a token in a JSON body."""
    query = {name: values[0] for name, values in call.query.items()}
    if call.headers.get("content-type", "").startswith("application/json"):
        try:
            body = json.loads(call.body) if call.body.strip() else {}
        except ValueError:
            raise SlackError("invalid_json") from None
        if not isinstance(body, dict):
            raise SlackError("invalid_json")
        return {**query, **body}, query
    form = {**query, **dict(parse_qsl(call.body.decode(), keep_blank_values=True))}
    return form, form

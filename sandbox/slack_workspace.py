"""The state of one fake Slack workspace: users, user groups, conversations, views, triggers,
response URLs.

No HTTP here.  Every method expects the caller to hold the sandbox lock.  What the Web API
would refuse raises `SlackError` with Slack's error code (each method's page under
https://api.slack.com/methods lists them).
"""

from __future__ import annotations

import copy
import itertools
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sandbox.slack_forms import elements

TEAM_ID = "T0LATCHKEY"
TEAM_DOMAIN = "latchkey-sandbox"
APP_ID = "A0LATCHKEY"
BOT_USER_ID = "U0LATCHBOT"
BOT_ID = "B0LATCHBOT"
GENERAL_CHANNEL = "C0GENERAL"
TS_EPOCH = 1_700_000_000
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60.0


MAX_MODAL_STACK = 3  # views in one modal stack: the root and two pushed (views.push)


class SlackError(Exception):
    """A Web API failure: `code` is Slack's `error`, `messages` its `response_metadata.messages`."""

    def __init__(self, code: str, *messages: str) -> None:
        super().__init__(code, *messages)
        self.code = code
        self.messages = list(messages)

    def payload(self) -> dict:
        body: dict[str, Any] = {"ok": False, "error": self.code}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


@dataclass
class _Trigger:
    user_id: str
    issued_at: float
    used: bool = False


@dataclass
class _ResponseUrl:
    user_id: str
    channel_id: str
    message_ts: str | None  # set when the URL came with a click on a message
    issued_at: float
    uses: int = 0


class Workspace:
    def __init__(self, clock: Callable[[], float], trigger_ttl: float) -> None:
        self.clock = clock
        self.trigger_ttl = trigger_ttl
        self.team_domain = TEAM_DOMAIN                   # the workspace's URL name: DOMAIN.slack.com
        self.users: dict[str, dict] = {}
        self.user_groups: dict[str, dict] = {}          # id -> usergroup object, with its users
        self.channel_names: dict[str, str] = {GENERAL_CHANNEL: "general"}
        # Channels' members (DMs and #general, which holds everyone, are not listed here).
        self.channel_members: dict[str, set[str]] = {}
        self.private_channels: set[str] = set()
        self.dm_ids: dict[str, str] = {}                 # user id -> DM id
        self.messages: dict[str, list[dict]] = {}        # channel id -> messages, oldest first
        self.message_channel: dict[str, str] = {}        # ts -> channel id (ts are workspace-unique)
        self.ephemerals: dict[str, list[dict]] = {}      # user id -> ephemeral messages
        self.views: dict[str, dict] = {}                 # live views by id
        self.modals: dict[str, list[str]] = {}           # user id -> modal stack, top last
        self.homes: dict[str, str] = {}                  # user id -> Home view id
        self.view_errors: dict[str, dict] = {}           # user id -> errors shown in the open modal
        self.responses: dict[str, list[dict]] = {}       # user id -> command/response_url answers
        self.triggers: dict[str, _Trigger] = {}
        self.response_urls: dict[str, _ResponseUrl] = {}
        self._serial = itertools.count(1)
        self._ts = itertools.count(100, 100)
        self.add_user(BOT_USER_ID, "", real_name="Latchkey", is_bot=True)

    def serial(self) -> int:
        return next(self._serial)

    # -- users -------------------------------------------------------------------------------
    def add_user(self, user_id: str, email: str, real_name: str = "", is_bot: bool = False,
                 deleted: bool = False) -> dict:
        name = email.split("@")[0] or user_id.lower()
        self.users[user_id] = {
            "id": user_id, "team_id": TEAM_ID, "name": name, "deleted": deleted,
            "real_name": real_name or name, "tz": "Europe/London", "is_bot": is_bot,
            "is_admin": False, "is_owner": False, "is_restricted": False,
            "is_ultra_restricted": False, "is_app_user": False,
            "profile": {"email": email, "display_name": name, "real_name": real_name or name},
        }
        return self.users[user_id]

    def user(self, user_id: str | None) -> dict:
        if user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def user_by_email(self, email: str | None) -> dict:
        for user in self.users.values():
            if email and user["profile"]["email"].lower() == email.lower():
                return user
        raise SlackError("users_not_found")

    # -- user groups -------------------------------------------------------------------------
    def add_user_group(self, handle: str, members: list[str], name: str = "",
                       disabled: bool = False) -> dict:
        """A user group as an admin would make it; the handle is unique and has no leading @."""
        if handle.startswith("@") or any(g["handle"] == handle for g in self.user_groups.values()):
            raise ValueError(f"bad or duplicate user group handle {handle!r}")
        self._check_members(members)
        group_id = f"S{self.serial():08d}"
        self.user_groups[group_id] = {
            "id": group_id, "team_id": TEAM_ID, "is_usergroup": True, "is_subteam": True,
            "name": name or handle, "description": "", "handle": handle, "is_external": False,
            "date_create": TS_EPOCH, "date_update": TS_EPOCH, "date_delete": 0,
            "auto_type": None, "created_by": "USLACKBOT", "updated_by": "USLACKBOT",
            "deleted_by": None, "prefs": {"channels": [], "groups": []}, "users": list(members),
        }
        if disabled:
            self.disable_user_group(group_id)
        return self.user_groups[group_id]

    def user_group(self, group_id: str | None, include_disabled: bool = False) -> dict:
        """The group, or `no_such_subteam`: the one error Slack documents for a group it will not
        answer about; a disabled group needs `include_disabled` ("allow results that involve
        disabled User Groups")."""
        group = self.user_groups.get(group_id or "")
        if group is None or (group["date_delete"] and not include_disabled):
            raise SlackError("no_such_subteam")
        return group

    def set_user_group_members(self, group_id: str, members: list[str]) -> None:
        self._check_members(members)
        group = self.user_group(group_id, include_disabled=True)
        group.update(users=list(members), date_update=TS_EPOCH + self.serial())

    def disable_user_group(self, group_id: str) -> None:
        group = self.user_group(group_id, include_disabled=True)
        group.update(date_delete=TS_EPOCH + self.serial(), deleted_by="USLACKBOT")

    def _check_members(self, members: list[str]) -> None:
        """Slack only puts real users in a group: a typo in a test's setup should fail loudly."""
        unknown = [m for m in members if m not in self.users]
        if unknown:
            raise ValueError(f"no such users: {unknown}")

    # -- conversations -----------------------------------------------------------------------
    def dm_id(self, user_id: str) -> str:
        """The user's DM with the bot; created on first use and stable afterwards."""
        if user_id not in self.dm_ids:
            dm = f"D{self.serial():08d}"
            self.dm_ids[user_id] = dm
            self.channel_names[dm] = "directmessage"
        return self.dm_ids[user_id]

    def resolve_channel(self, channel: str | None, *, user_ids: bool = True) -> str:
        """A channel id, or (where Slack allows it) a user id standing for that user's DM."""
        if channel in self.channel_names:
            return channel
        if user_ids and channel in self.users and not self.users[channel]["deleted"]:
            return self.dm_id(channel)
        raise SlackError("channel_not_found")

    def dm_owner(self, channel_id: str) -> str | None:
        return next((u for u, dm in self.dm_ids.items() if dm == channel_id), None)

    def add_channel(self, channel_id: str, name: str, members: set[str], private: bool) -> None:
        self._check_members(sorted(members - {BOT_USER_ID}))
        self.channel_names[channel_id] = name
        self.channel_members[channel_id] = set(members)
        if private:
            self.private_channels.add(channel_id)

    def is_member(self, channel_id: str, user_id: str) -> bool:
        """Whether the user (or the bot) is in the conversation: #general holds everyone, a DM
        its user and the bot."""
        if channel_id == GENERAL_CHANNEL:
            return user_id in self.users
        owner = self.dm_owner(channel_id)
        if owner is not None:
            return user_id in (owner, BOT_USER_ID)
        return user_id in self.channel_members.get(channel_id, set())

    def visible_channel(self, channel: str | None, *, user_ids: bool = True) -> str:
        """`resolve_channel`, for a bot that must be in a channel to post there: a private
        channel it is not in does not exist for it; a public one answers `not_in_channel`."""
        channel_id = self.resolve_channel(channel, user_ids=user_ids)
        if not self.is_member(channel_id, BOT_USER_ID):
            raise SlackError("channel_not_found" if channel_id in self.private_channels else "not_in_channel")
        return channel_id

    def conversation(self, channel: str | None) -> dict:
        """A channel as conversations.info shows it (the fields Latchkey and the tests read)."""
        channel_id = self.resolve_channel(channel, user_ids=False)
        if channel_id in self.private_channels and not self.is_member(channel_id, BOT_USER_ID):
            raise SlackError("channel_not_found")
        owner = self.dm_owner(channel_id)
        if owner is not None:
            return {"id": channel_id, "created": TS_EPOCH, "is_im": True, "is_org_shared": False,
                    "user": owner, "is_user_deleted": self.users[owner]["deleted"]}
        private = channel_id in self.private_channels
        return {"id": channel_id, "name": self.channel_names[channel_id],
                "name_normalized": self.channel_names[channel_id], "is_channel": not private,
                "is_group": private, "is_im": False, "is_mpim": False, "is_private": private,
                "is_archived": False, "is_general": channel_id == GENERAL_CHANNEL,
                "created": TS_EPOCH, "context_team_id": TEAM_ID,
                "is_member": self.is_member(channel_id, BOT_USER_ID)}

    # -- messages ----------------------------------------------------------------------------
    def next_ts(self) -> str:
        n = next(self._ts)
        return f"{TS_EPOCH + n // 1_000_000}.{n % 1_000_000:06d}"

    def post(self, channel_id: str, text: str | None, blocks: list | None,
             thread_ts: str | None = None) -> dict:
        message = {"type": "message", "ts": self.next_ts(), "user": BOT_USER_ID, "bot_id": BOT_ID,
                   "app_id": APP_ID, "team": TEAM_ID, "text": text or "",
                   "blocks": with_ids(blocks or [])}
        if thread_ts:
            # A reply names its thread by the parent's ts (a reply's own ts names the same
            # thread); the parent then counts its replies.
            parent = self.message(channel_id, thread_ts)
            parent = self.message(channel_id, parent.get("thread_ts", parent["ts"]))
            parent.update(thread_ts=parent["ts"], reply_count=parent.get("reply_count", 0) + 1,
                          latest_reply=message["ts"])
            message.update(thread_ts=parent["ts"], parent_user_id=parent["user"])
        self.messages.setdefault(channel_id, []).append(message)
        self.message_channel[message["ts"]] = channel_id
        return message

    def thread(self, channel_id: str, ts: str | None) -> list[dict]:
        """The message `ts` and, if it starts a thread, its replies, oldest first."""
        try:
            parent = self.message(channel_id, ts)
        except SlackError:
            raise SlackError("thread_not_found") from None
        root = parent.get("thread_ts", parent["ts"])
        return [m for m in self.messages[channel_id] if m["ts"] == root or m.get("thread_ts") == root]

    def message(self, channel_id: str, ts: str | None) -> dict:
        for message in self.messages.get(channel_id, []):
            if message["ts"] == ts:
                return message
        raise SlackError("message_not_found")

    def update_message(self, channel_id: str, ts: str | None, text: str | None,
                       blocks: list | None) -> dict:
        message = self.message(channel_id, ts)
        if text is not None:
            message["text"] = text
        if blocks is not None:  # chat.update keeps the old blocks when none are sent
            message["blocks"] = with_ids(blocks)
        message["edited"] = {"user": BOT_USER_ID, "ts": self.next_ts()}
        return message

    def delete_message(self, channel_id: str, ts: str) -> None:
        self.messages[channel_id].remove(self.message(channel_id, ts))

    def post_ephemeral(self, channel_id: str, user_id: str, text: str | None,
                       blocks: list | None) -> str:
        ts = self.next_ts()
        self.ephemerals.setdefault(user_id, []).append(
            {"type": "message", "ts": ts, "channel": channel_id, "user": BOT_USER_ID,
             "text": text or "", "blocks": with_ids(blocks or [])})
        return ts

    # -- triggers and response URLs ----------------------------------------------------------
    def issue_trigger(self, user_id: str) -> str:
        trigger_id = f"{self.serial()}.{TS_EPOCH}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = _Trigger(user_id, self.clock())
        return trigger_id

    def redeem_trigger(self, trigger_id: str) -> str:
        """The user the trigger was issued for; each trigger opens one view, within its TTL."""
        trigger = self.triggers.get(trigger_id)
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.clock() - trigger.issued_at > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    def issue_response_url(self, user_id: str, channel_id: str, message_ts: str | None) -> str:
        url_id = f"{self.serial()}{secrets.token_hex(8)}"
        self.response_urls[url_id] = _ResponseUrl(user_id, channel_id, message_ts, self.clock())
        return url_id

    def respond(self, url_id: str, body: dict) -> None:
        url = self.response_urls.get(url_id)
        if url is None:
            raise SlackError("no_service")
        if url.uses >= RESPONSE_URL_USES or self.clock() - url.issued_at > RESPONSE_URL_TTL:
            raise SlackError("expired_url")
        url.uses += 1
        self.record_response(url.user_id, url.channel_id, url.message_ts, body)

    def record_response(self, user_id: str, channel_id: str, message_ts: str | None,
                        body: dict) -> None:
        """Keep what the user was told, and apply it to the conversation as Slack does."""
        self.responses.setdefault(user_id, []).append(copy.deepcopy(body))
        ephemeral = next((e for e in self.ephemerals.get(user_id, []) if e["ts"] == message_ts), None)
        if ephemeral is not None and (body.get("delete_original") or body.get("replace_original")):
            # A click on an ephemeral message may replace or delete it through its response_url.
            shown = self.ephemerals[user_id]
            at = shown.index(ephemeral)
            shown[at:at + 1] = [] if body.get("delete_original") else [
                {**ephemeral, "text": body.get("text") or "", "blocks": with_ids(body.get("blocks") or [])}]
        elif message_ts and body.get("delete_original"):
            self.delete_message(channel_id, message_ts)
        elif message_ts and body.get("replace_original"):
            self.update_message(channel_id, message_ts, body.get("text"), body.get("blocks"))
        elif body.get("response_type") == "in_channel":
            self.post(channel_id, body.get("text"), body.get("blocks"))
        elif body.get("blocks"):  # an ephemeral answer the user can click in, like any message
            self.post_ephemeral(channel_id, user_id, body.get("text"), body.get("blocks"))

    # -- views -------------------------------------------------------------------------------
    def find_view(self, view_id: str | None = None, external_id: str | None = None) -> dict:
        for view in self.views.values():
            if view_id and view["id"] == view_id \
                    or external_id and view["external_id"] == external_id:
                return view
        raise SlackError("not_found")

    def check_external_id(self, view: dict, replacing: str | None = None) -> None:
        external_id = view.get("external_id")
        if external_id and any(v["external_id"] == external_id and v["id"] != replacing
                               for v in self.views.values()):
            raise SlackError("duplicate_external_id")

    def open_modal(self, user_id: str, view: dict) -> dict:
        """views.open starts a new modal stack for the user."""
        for view_id in self.modals.get(user_id, []):
            self.views.pop(view_id, None)
        stored = self._store(view, f"V{self.serial():010d}", root=None)
        self.modals[user_id] = [stored["id"]]
        return stored

    def push_modal(self, user_id: str, view: dict, limited: bool = False) -> dict:
        """A view on top of the user's modal stack; `limited` (views.push) refuses a push with
        no modal open, or onto a stack of 3 already."""
        stack = self.modals.setdefault(user_id, [])
        if limited and not stack:
            raise SlackError("not_found")
        if limited and len(stack) >= MAX_MODAL_STACK:
            raise SlackError("push_limit_reached")
        stored = self._store(view, f"V{self.serial():010d}", root=stack[0] if stack else None)
        stored["previous_view_id"] = stack[-1] if stack else None
        stack.append(stored["id"])
        return stored

    def replace_view(self, view_id: str, view: dict) -> dict:
        old = self.views[view_id]
        # an update that names no external_id keeps the one the view had
        view = {"external_id": old["external_id"], **view}
        stored = self._store(view, view_id, root=old["root_view_id"])
        stored["previous_view_id"] = old["previous_view_id"]
        return stored

    def close_modal(self, user_id: str, view_id: str) -> None:
        stack = self.modals.get(user_id, [])
        if view_id in stack:
            stack.remove(view_id)
            self.views.pop(view_id, None)
        self.view_errors.pop(user_id, None)

    def clear_modals(self, user_id: str) -> None:
        for view_id in list(self.modals.get(user_id, [])):
            self.close_modal(user_id, view_id)

    def top_modal(self, user_id: str) -> dict | None:
        stack = self.modals.get(user_id)
        return self.views[stack[-1]] if stack else None

    def publish_home(self, user_id: str, view: dict) -> dict:
        view_id = self.homes.get(user_id) or f"V{self.serial():010d}"  # the Home view keeps its id
        self.homes[user_id] = view_id
        return self._store(view, view_id, root=None)

    def home(self, user_id: str) -> dict | None:
        return self.views.get(self.homes.get(user_id, ""))

    def _store(self, view: dict, view_id: str, root: str | None) -> dict:
        stored = {
            "id": view_id, "team_id": TEAM_ID, "type": view["type"],
            "blocks": with_ids(view.get("blocks", [])),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""), "external_id": view.get("external_id", ""),
            "state": {"values": {}}, "hash": f"{TS_EPOCH}.{self.serial():08d}",
            "title": view.get("title"), "close": view.get("close"), "submit": view.get("submit"),
            "clear_on_close": bool(view.get("clear_on_close")),
            "notify_on_close": bool(view.get("notify_on_close")),
            "previous_view_id": None, "root_view_id": root or view_id, "app_id": APP_ID,
            "app_installed_team_id": TEAM_ID, "bot_id": BOT_ID,
        }
        self.views[view_id] = stored
        return stored


def with_ids(blocks: list) -> list:
    """A copy of `blocks` where, as Slack does, every block and interactive element has an id."""
    blocks = copy.deepcopy(blocks)
    for block in blocks:
        block.setdefault("block_id", secrets.token_urlsafe(4))
    for _, element in elements({"blocks": blocks}):
        if element.get("type") != "image":
            element.setdefault("action_id", secrets.token_urlsafe(4))
    return blocks

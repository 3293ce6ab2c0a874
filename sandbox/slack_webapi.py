"""The Web API methods the bot calls, answered as Slack answers them (https://api.slack.com/methods).

`WebApi.call` takes the already-parsed arguments and returns the success body without `ok`;
every refusal is a `SlackError`.  The caller holds the sandbox lock.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from sandbox import blockkit
from sandbox.slack_forms import kept_on_update
from sandbox.slack_workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    TEAM_ID,
    SlackError,
    Workspace,
)

MAX_UPDATE_TEXT = 4000


class WebApi:
    def __init__(self, workspace: Workspace, bot_token: str) -> None:
        self.ws = workspace
        self.bot_token = bot_token
        self.methods: dict[str, Callable[[dict], dict]] = {
            "auth.test": self.auth_test,
            "views.open": self.views_open,
            "views.update": self.views_update,
            "views.push": self.views_push,
            "views.publish": self.views_publish,
            "chat.postMessage": self.chat_post_message,
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "conversations.open": self.conversations_open,
            "conversations.info": self.conversations_info,
            "conversations.replies": self.conversations_replies,
            "users.info": self.users_info,
            "users.lookupByEmail": self.users_lookup_by_email,
            "usergroups.list": self.usergroups_list,
            "usergroups.users.list": self.usergroups_users_list,
        }

    def call(self, method: str, token: str | None, args: dict) -> dict:
        if method not in self.methods:
            raise SlackError("unknown_method")
        if not token:
            raise SlackError("not_authed")
        if token != self.bot_token:
            raise SlackError("invalid_auth")
        return self.methods[method](args)

    # -- methods -----------------------------------------------------------------------------
    def auth_test(self, args: dict) -> dict:
        return {"url": f"https://{self.ws.team_domain}.slack.com/", "team": "Latchkey Sandbox",
                "user": "latchkey", "team_id": TEAM_ID, "user_id": BOT_USER_ID, "bot_id": BOT_ID,
                "app_id": APP_ID, "is_enterprise_install": False}

    def views_open(self, args: dict) -> dict:
        user_id, view = self._triggered_modal(args)
        return {"view": self.ws.open_modal(user_id, view)}

    def views_push(self, args: dict) -> dict:
        """A view on top of the user's open modal (the trigger comes from a click in it); at
        most 3 views in a stack ("After a modal is opened, the app is limited to pushing 2
        additional views"; error `push_limit_reached`)."""
        user_id, view = self._triggered_modal(args)
        return {"view": self.ws.push_modal(user_id, view, limited=True)}

    def _triggered_modal(self, args: dict) -> tuple[str, dict]:
        """The user whose click's trigger opens (or pushes) the modal, and the modal, checked."""
        trigger_id = args.get("trigger_id") or args.get("interactivity_pointer")
        if not trigger_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        view = _checked_view(args, "modal")
        self.ws.check_external_id(view)
        return self.ws.redeem_trigger(trigger_id), view

    def views_update(self, args: dict) -> dict:
        view_id, external_id = args.get("view_id"), args.get("external_id")
        if bool(view_id) == bool(external_id):
            raise SlackError("invalid_arguments",
                             "[ERROR] must provide exactly one of view_id or external_id")
        current = self.ws.find_view(view_id, external_id)
        view = _checked_view(args, current["type"])
        _check_hash(args, current)
        self.ws.check_external_id(view, replacing=current["id"])
        entered = current["state"]["values"]
        updated = self.ws.replace_view(current["id"], view)  # with a new hash
        updated["state"]["values"] = kept_on_update(entered, updated)
        return {"view": updated}

    def views_publish(self, args: dict) -> dict:
        user_id = args.get("user_id")
        if user_id not in self.ws.users:
            raise SlackError("invalid_arguments", "invalid `user_id`")
        view = _checked_view(args, "home")
        current = self.ws.home(user_id)
        if current:
            _check_hash(args, current)
        return {"view": self.ws.publish_home(user_id, view)}

    def chat_post_message(self, args: dict) -> dict:
        channel = self.ws.visible_channel(args.get("channel"))
        text, blocks = _content(args)
        message = self.ws.post(channel, text, blocks, args.get("thread_ts") or None)
        return {"channel": channel, "ts": message["ts"], "message": message}

    def chat_update(self, args: dict) -> dict:
        # chat.update wants the conversation id: a user id is not a DM id here.
        channel = self.ws.resolve_channel(args.get("channel"), user_ids=False)
        if channel in self.ws.private_channels and not self.ws.is_member(channel, BOT_USER_ID):
            raise SlackError("channel_not_found")  # a private channel the app left is gone for it
        text, blocks = _content(args)
        if text and len(text) > MAX_UPDATE_TEXT:
            raise SlackError("msg_too_long")
        message = self.ws.update_message(channel, args.get("ts"), text, blocks)
        return {"channel": channel, "ts": message["ts"], "text": message["text"], "message": message}

    def chat_post_ephemeral(self, args: dict) -> dict:
        channel = self.ws.visible_channel(args.get("channel"))
        user_id = args.get("user")
        if user_id not in self.ws.users or not self.ws.is_member(channel, user_id):
            raise SlackError("user_not_in_channel")
        text, blocks = _content(args)
        return {"message_ts": self.ws.post_ephemeral(channel, user_id, text, blocks)}

    def conversations_open(self, args: dict) -> dict:
        if args.get("channel"):
            channel = self.ws.resolve_channel(args["channel"], user_ids=False)
            return {"channel": {"id": channel}, "no_op": True, "already_open": True}
        users = [u for u in str(args.get("users") or "").split(",") if u]
        if not users:
            raise SlackError("users_list_not_supplied")
        if len(users) > 1:
            raise NotImplementedError("the sandbox models 1:1 DMs only")
        user = self.ws.user(users[0])
        if user["deleted"]:
            raise SlackError("user_disabled")
        already_open = user["id"] in self.ws.dm_ids
        channel: dict[str, Any] = {"id": self.ws.dm_id(user["id"])}
        if _flag(args.get("return_im")):
            channel.update(is_im=True, user=user["id"], created=0)
        result: dict[str, Any] = {"channel": channel}
        if already_open:
            result.update(no_op=True, already_open=True)
        return result

    def conversations_info(self, args: dict) -> dict:
        return {"channel": self.ws.conversation(args.get("channel"))}

    def conversations_replies(self, args: dict) -> dict:
        """A thread, parent first, a page at a time (`limit`, default 1,000; `cursor`)."""
        channel = self.ws.conversation(args.get("channel"))["id"]
        if not args.get("ts"):
            raise SlackError("thread_not_found")
        thread = self.ws.thread(channel, args["ts"])
        try:
            limit = max(1, min(int(args.get("limit") or 1000), 1000))
            start = int(str(args.get("cursor") or "0").removeprefix("next_ts:"))
        except ValueError:
            raise SlackError("invalid_cursor") from None
        page, more = thread[start:start + limit], start + limit < len(thread)
        return {"messages": copy.deepcopy(page), "has_more": more,
                "response_metadata": {"next_cursor": f"next_ts:{start + limit}" if more else ""}}

    def users_info(self, args: dict) -> dict:
        return {"user": self.ws.user(args.get("user"))}

    def users_lookup_by_email(self, args: dict) -> dict:
        return {"user": self.ws.user_by_email(args.get("email"))}

    def usergroups_list(self, args: dict) -> dict:
        """Enabled groups only, unless include_disabled; members and counts only when asked."""
        include_disabled = _flag(args.get("include_disabled"))
        groups = [g for g in self.ws.user_groups.values()
                  if include_disabled or not g["date_delete"]]
        return {"usergroups": [_listed(g, _flag(args.get("include_users")),
                                       _flag(args.get("include_count"))) for g in groups]}

    def usergroups_users_list(self, args: dict) -> dict:
        group = self.ws.user_group(args.get("usergroup"), _flag(args.get("include_disabled")))
        return {"users": list(group["users"])}


# -- argument helpers --------------------------------------------------------------------------
def _json_arg(args: dict, name: str, error: SlackError) -> Any:
    """Slack takes `view`/`blocks` as JSON strings (form posts) or as JSON values (JSON posts)."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise error from None
    return value


def _checked_view(args: dict, kind: str) -> dict:
    unparsable = SlackError("invalid_arguments", "[ERROR] invalid json [json-pointer:/view]")
    view = _json_arg(args, "view", unparsable)
    if view is None:
        raise SlackError("invalid_arguments", "[ERROR] missing required field: view")
    if isinstance(view, dict) and blockkit.view_too_large(view):
        raise SlackError("view_too_large")
    problems = blockkit.view_problems(view, kind)
    if problems:
        raise SlackError("invalid_arguments", *problems)
    return view


def _check_hash(args: dict, current: dict) -> None:
    if args.get("hash") and args["hash"] != current["hash"]:
        raise SlackError("hash_conflict")


def _content(args: dict) -> tuple[str | None, list | None]:
    """The message `text` and `blocks`, refused as Slack refuses them."""
    blocks = _json_arg(args, "blocks", SlackError("invalid_blocks_format"))
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    text = args.get("text")
    if not text and not blocks:
        raise SlackError("no_text")
    problems = blockkit.message_problems(blocks) if blocks is not None else []
    if problems:
        raise SlackError("invalid_blocks", *problems)
    return text, blocks


def _listed(group: dict, include_users: bool, include_count: bool) -> dict:
    """A usergroup object as usergroups.list shows it: `users`/`user_count` only on request."""
    listed = {k: copy.deepcopy(v) for k, v in group.items() if k != "users"}
    if include_users:
        listed["users"] = list(group["users"])
    if include_count:
        listed["user_count"] = len(group["users"])
    return listed


def _flag(value: Any) -> bool:
    return value in (True, 1, "1", "true", "True")

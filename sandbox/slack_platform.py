"""Slack's side of the conversation: signed deliveries to the bot on behalf of users.

Mixed into `SlackSandbox`.  Each delivery is built under the lock from what the user can see,
sent without holding it (the bot calls the Web API while it handles the request), and its
answer applied as Slack would.  Payload shapes: Slack's interaction payload reference,
https://api.slack.com/reference/interaction-payloads.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx

from sandbox import blockkit
from sandbox.slack_forms import (
    DEFAULT_MIN_QUERY_LENGTH,
    VALUE_FIELDS,
    buttons,
    chosen,
    external_select,
    input_blocks,
    input_with,
    kept_on_update,
    shown_state,
    state_values,
)
from sandbox.slack_workspace import APP_ID, BOT_USER_ID, MAX_MODAL_STACK, TEAM_ID, SlackError, Workspace

FORM = "application/x-www-form-urlencoded"
VERIFICATION_TOKEN = "sandbox-verification-token"  # deprecated by Slack; bolt ignores it


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Slack's v0 signature over the exact bytes sent."""
    base = f"v0:{timestamp}:".encode() + body
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


@dataclass
class _Seen:
    """Something the user is looking at: a message, an ephemeral message or a view."""

    kind: str  # "message" | "ephemeral" | "view"
    surface: dict
    channel_id: str | None = None


class SlackPlatform:
    # provided by SlackSandbox
    lock: threading.RLock
    workspace: Workspace
    signing_secret: str
    bot_url: str | None
    delivery_timeout: float
    url: str

    # -- deliveries --------------------------------------------------------------------------
    def post_raw(self, body: bytes, content_type: str, *, timestamp: int | str | None = None,
                 secret: str | None = None, signature: str | None = None,
                 headers: dict[str, str] | None = None) -> httpx.Response:
        """POST `body` to the bot, signed unless told otherwise.

        `timestamp` defaults to now; `secret` to the signing secret; `signature` to the right
        one.  An empty `timestamp` or `signature` leaves that header out.
        """
        assert self.bot_url, "set sandbox.bot_url before delivering to the bot"
        ts = str(int(time.time())) if timestamp is None else str(timestamp)
        if signature is None:
            signature = sign(self.signing_secret if secret is None else secret, ts, body)
        sent = {"Content-Type": content_type}
        if ts:
            sent["X-Slack-Request-Timestamp"] = ts
        if signature:
            sent["X-Slack-Signature"] = signature
        sent.update(headers or {})
        if not self.keep_alive:
            sent["Connection"] = "close"
        return self._http().post(self.bot_url, content=body, headers=sent, timeout=self.delivery_timeout)

    # One client for every delivery: building one per request (as `httpx.post` does) costs
    # milliseconds of the sender's CPU, which load tests and hundreds of fuzzed examples feel.
    keep_alive = False  # True: keep connections to the bot open between deliveries (faster;
    # a bot whose HTTP server must stop cleanly then needs `close_connections()` first)

    def _http(self) -> httpx.Client:
        with self.lock:
            if getattr(self, "_client", None) is None:
                self._client = httpx.Client(limits=httpx.Limits(
                    max_connections=256, max_keepalive_connections=256))
            return self._client

    def close_connections(self) -> None:
        """Close the connections kept to the bot (a new delivery opens new ones)."""
        with self.lock:
            client, self._client = getattr(self, "_client", None), None
        if client is not None:
            client.close()

    def command(self, user_id: str, command: str = "/request-access", text: str = "",
                channel_id: str = "C0GENERAL") -> httpx.Response:
        """A slash command typed by `user_id`; what the bot answers is shown to that user."""
        with self.lock:
            user = self._user(user_id)
            fields = {
                "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "team_domain": self.workspace.team_domain,
                "channel_id": channel_id,
                "channel_name": self.workspace.channel_names.get(channel_id, channel_id.lower()),
                "user_id": user_id, "user_name": user["name"], "command": command, "text": text,
                "api_app_id": APP_ID, "is_enterprise_install": "false",
                "response_url": self._new_response_url(user_id, channel_id, None),
                "trigger_id": self.workspace.issue_trigger(user_id),
            }
        response = self.post_raw(urlencode(fields).encode(), FORM)
        if response.status_code == 200 and response.content:
            is_json = response.headers.get("content-type", "").startswith("application/json")
            body = response.json() if is_json else {"text": response.text}
            with self.lock:
                self.workspace.record_response(user_id, channel_id, None, body)
        return response

    def click(self, user_id: str, action_id: str, *, value: str | None = None,
              message: dict | None = None, view: dict | None = None,
              stale: bool = False) -> httpx.Response:
        """`user_id` clicks a button they can see (by default in the newest DM message that has it).

        With `stale=True` the click comes from `message` as the user's client still shows it,
        although the bot has updated it since: Slack delivers such late clicks too.
        """
        with self.lock:
            if stale:
                seen = self._stale_copy(user_id, message)
                button = next(b for b in buttons(seen.surface) if b.get("action_id") == action_id
                              and value in (None, b.get("value")))
            else:
                seen, button = self._visible_button(user_id, action_id, value, message, view)
            payload = self._envelope("block_actions", user_id, trigger=True)
            action = {"action_id": action_id, "block_id": button["block_id"], "type": "button",
                      "text": button["text"], "action_ts": f"{time.time():.6f}"}
            for key in ("value", "style", "url"):
                if key in button:
                    action[key] = button[key]
            payload["actions"] = [action]
            payload.update(self._surface_fields(user_id, seen))
        return self._post_payload(payload)

    def submit(self, user_id: str, values: dict[str, Any] | None = None,
               view: dict | None = None) -> httpx.Response:
        """`user_id` fills the open modal's inputs (block_id -> raw value) and presses Submit.

        Inputs not in `values` keep what the user entered before (`select`, an earlier refused
        submission), else their initial value.
        """
        with self.lock:
            current = self._modal(user_id, view)
            state = state_values(current, values or {}, current["state"]["values"])
            submitted = {**copy.deepcopy(current), "state": {"values": state}}
            payload = self._envelope("view_submission", user_id, trigger=True)
            payload.update(view=submitted, response_urls=[])
        response = self._post_payload(payload)
        with self.lock:
            self._apply_submission_answer(user_id, submitted, response)
        return response

    def submit_at_once(self, user_id: str, choices: list[dict[str, Any]]) -> list[httpx.Response]:
        """The open modal submitted with each of `choices` at the same instant, as from two
        clients of one person (a laptop and a phone); returns the bot's answers in order.  The
        modal itself is left as it was."""
        with self.lock:
            current = self._modal(user_id, None)
            payloads = []
            for values in choices:
                state = state_values(current, values, current["state"]["values"])
                payload = self._envelope("view_submission", user_id, trigger=True)
                payload.update(view={**copy.deepcopy(current), "state": {"values": state}},
                               response_urls=[])
                payloads.append(payload)
        barrier = threading.Barrier(len(payloads))

        def send(payload: dict) -> httpx.Response:
            barrier.wait()
            return self._post_payload(payload)

        with ThreadPoolExecutor(len(payloads)) as pool:
            return list(pool.map(send, payloads))

    def fill(self, user_id: str, values: dict[str, Any], view: dict | None = None) -> None:
        """`user_id` types into (or chooses in) inputs of the open modal without submitting:
        block_id -> raw value, kept in the view's state.  Nothing reaches the bot; an input that
        would tell it (dispatch_action) must be driven with `select` instead."""
        with self.lock:
            current = self._modal(user_id, view)
            inputs = input_blocks(current)
            unknown = set(values) - set(inputs)
            assert not unknown, f"no input blocks {sorted(unknown)} in view {current['id']}"
            filled = shown_state(current, values=values)
            for block_id in values:
                assert not inputs[block_id].get("dispatch_action"), f"{block_id!r} dispatches: use select()"
                current["state"]["values"][block_id] = filled[block_id]

    def select(self, user_id: str, action_id: str, option: dict | str,
               view: dict | None = None) -> httpx.Response | None:
        """`user_id` picks `option` (an option object, or its value) in a select of an input block
        of the open modal.  The client keeps the choice in the view's state; only when the input
        block has `dispatch_action: true` does Slack also post `block_actions` to the bot (with the
        view, its hash and current state).  Returns the bot's answer, or None when nothing was sent.
        """
        with self.lock:
            current = self._modal(user_id, view)
            block, element = input_with(current, action_id)
            kind = element["type"]
            assert VALUE_FIELDS.get(kind) == "selected_option", f"{action_id!r} is a {kind}, not a select"
            picked = chosen(element, option)
            current["state"]["values"][block["block_id"]] = {
                action_id: {"type": kind, "selected_option": picked}}
            if not block.get("dispatch_action"):
                return None
            payload = self._envelope("block_actions", user_id, trigger=True)
            payload["actions"] = [{"type": kind, "action_id": action_id, "block_id": block["block_id"],
                                   "selected_option": copy.deepcopy(picked),
                                   "action_ts": f"{time.time():.6f}"}]
            payload.update(self._surface_fields(user_id, _Seen("view", current)))
        return self._post_payload(payload)

    def suggest(self, user_id: str, action_id: str, value: str, view: dict | None = None) -> dict:
        """`user_id` types `value` into an external select; returns the options the bot offers."""
        with self.lock:
            current = self._modal(user_id, view)
            block_id, element = external_select(current, action_id)
            minimum = element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH)
            assert len(value) >= minimum, f"Slack asks only after {minimum} characters"
            payload = self._envelope("block_suggestion", user_id, trigger=False)
            payload.update(action_id=action_id, block_id=block_id, value=value,
                           container={"type": "view", "view_id": current["id"]},
                           view=copy.deepcopy(current))
        response = self._post_payload(payload)
        assert response.status_code == 200 and response.content, \
            f"options request failed: {response.status_code} {response.text!r}"
        answer = response.json()
        problems = blockkit.options_problems(answer)
        assert not problems, f"Slack would reject these options: {problems}"
        return answer

    def event(self, event: dict, *, event_id: str | None = None,
              retry_num: int | None = None) -> httpx.Response:
        """An Events API delivery; a retry repeats the `event_id` with retry headers."""
        with self.lock:
            event_id = event_id or f"Ev{self.workspace.serial():08d}"
        body = {
            "token": VERIFICATION_TOKEN, "team_id": TEAM_ID, "api_app_id": APP_ID,
            "event": event, "type": "event_callback", "event_id": event_id,
            "event_time": int(time.time()), "is_ext_shared_channel": False,
            "authorizations": [{"enterprise_id": None, "team_id": TEAM_ID, "user_id": BOT_USER_ID,
                                "is_bot": True, "is_enterprise_install": False}],
        }
        headers = {}
        if retry_num:
            headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"}
        return self.post_raw(json.dumps(body).encode(), "application/json", headers=headers)

    def open_home(self, user_id: str) -> httpx.Response:
        """`user_id` opens the app's Home tab."""
        with self.lock:
            self._user(user_id)
            event = {"type": "app_home_opened", "user": user_id, "tab": "home",
                     "channel": self.workspace.dm_id(user_id), "event_ts": f"{time.time():.6f}"}
            home = self.workspace.home(user_id)
            if home:
                event["view"] = copy.deepcopy(home)
        return self.event(event)

    # -- what the user sees ------------------------------------------------------------------
    def _user(self, user_id: str) -> dict:
        try:
            return self.workspace.user(user_id)
        except SlackError:
            raise AssertionError(f"unknown user {user_id}: call add_user first") from None

    def _visible_button(self, user_id: str, action_id: str, value: str | None,
                        message: dict | None, view: dict | None) -> tuple[_Seen, dict]:
        for seen in self._surfaces(user_id, message, view):
            for button in buttons(seen.surface):
                if button.get("action_id") == action_id and value in (None, button.get("value")):
                    return seen, button
        raise AssertionError(f"{user_id} sees no button {action_id!r} (value={value!r})")

    def _surfaces(self, user_id: str, message: dict | None, view: dict | None) -> list[_Seen]:
        ws = self.workspace
        if message is not None:
            return [self._message_now(user_id, message["ts"])]
        if view is not None:
            return [_Seen("view", self._view_now(user_id, view["id"]))]
        dm = ws.dm_ids.get(user_id)
        seen = [_Seen("message", m, dm) for m in reversed(ws.messages.get(dm, []))] if dm else []
        seen += [_Seen("ephemeral", e, e["channel"]) for e in reversed(ws.ephemerals.get(user_id, []))]
        return seen + [_Seen("view", v) for v in (ws.top_modal(user_id), ws.home(user_id)) if v]

    def _stale_copy(self, user_id: str, message: dict | None) -> _Seen:
        assert message is not None, "a stale click needs the message copy the user still sees"
        current = self._message_now(user_id, message["ts"])  # checks it is the user's own
        return _Seen("message", copy.deepcopy(message), current.channel_id)

    def _message_now(self, user_id: str, ts: str) -> _Seen:
        """The message as the user sees it now, which may have changed since the test read it."""
        ws = self.workspace
        for ephemeral in ws.ephemerals.get(user_id, []):
            if ephemeral["ts"] == ts:
                return _Seen("ephemeral", ephemeral, ephemeral["channel"])
        channel = ws.message_channel.get(ts, "")
        owner = ws.dm_owner(channel)
        assert owner in (None, user_id), f"{user_id} cannot see {owner}'s DM"
        try:
            return _Seen("message", ws.message(channel, ts), channel)
        except SlackError:
            raise AssertionError(f"message {ts} is not there any more") from None

    def _view_now(self, user_id: str, view_id: str) -> dict:
        ws = self.workspace
        for current in (ws.top_modal(user_id), ws.home(user_id)):
            if current and current["id"] == view_id:
                return current
        raise AssertionError(f"{user_id} does not see view {view_id}")

    def _modal(self, user_id: str, view: dict | None) -> dict:
        top = self.workspace.top_modal(user_id)
        assert top, f"{user_id} has no modal open"
        assert view is None or view["id"] == top["id"], f"view {view and view['id']} is not on top"
        return top

    # -- payload pieces ----------------------------------------------------------------------
    def _envelope(self, kind: str, user_id: str, *, trigger: bool) -> dict:
        user = self._user(user_id)
        payload = {
            "type": kind, "token": VERIFICATION_TOKEN, "api_app_id": APP_ID,
            "user": {"id": user_id, "username": user["name"], "name": user["name"], "team_id": TEAM_ID},
            "team": {"id": TEAM_ID, "domain": self.workspace.team_domain}, "enterprise": None,
            "is_enterprise_install": False,
        }
        if trigger:
            payload["trigger_id"] = self.workspace.issue_trigger(user_id)
        return payload

    def _surface_fields(self, user_id: str, seen: _Seen) -> dict:
        if seen.kind == "view":
            view = copy.deepcopy(seen.surface)
            view["state"] = {"values": shown_state(view, view["state"]["values"])}
            return {"container": {"type": "view", "view_id": view["id"]}, "view": view}
        ts, channel = seen.surface["ts"], seen.channel_id or ""
        fields = {
            "container": {"type": "message", "message_ts": ts, "channel_id": channel,
                          "is_ephemeral": seen.kind == "ephemeral"},
            "channel": {"id": channel, "name": self.workspace.channel_names.get(channel, channel)},
            "state": {"values": {}},
            "response_url": self._new_response_url(user_id, channel, ts),
        }
        if seen.kind == "message":  # Slack sends no copy of an ephemeral message
            fields["message"] = copy.deepcopy(seen.surface)
        return fields

    def _new_response_url(self, user_id: str, channel_id: str, message_ts: str | None) -> str:
        url_id = self.workspace.issue_response_url(user_id, channel_id, message_ts)
        return f"{self.url}/response/{url_id}"

    def _post_payload(self, payload: dict) -> httpx.Response:
        return self.post_raw(urlencode({"payload": json.dumps(payload)}).encode(), FORM)

    # -- answers -----------------------------------------------------------------------------
    def _apply_submission_answer(self, user_id: str, submitted: dict, response: httpx.Response) -> None:
        """Close, update, push or keep the modal, as Slack does with the bot's answer."""
        ws, view_id = self.workspace, submitted["id"]
        if response.status_code != 200 or view_id not in ws.views:
            return  # Slack shows the user an error and leaves the modal as it was
        answer = response.json() if response.content else {}
        action = answer.get("response_action")
        if action == "errors":
            inputs = {b["block_id"] for b in submitted["blocks"] if b.get("type") == "input"}
            assert answer["errors"] and set(answer["errors"]) <= inputs, \
                f"errors must name input blocks {sorted(inputs)}: {answer['errors']}"
            ws.views[view_id]["state"] = submitted["state"]
            ws.view_errors[user_id] = answer["errors"]
            return
        ws.view_errors.pop(user_id, None)
        if action in ("update", "push"):
            problems = blockkit.view_problems(answer.get("view"), "modal")
            assert not problems, f"Slack would reject the {action}d view: {problems}"
            if action == "update":
                updated = ws.replace_view(view_id, answer["view"])
                updated["state"]["values"] = kept_on_update(submitted["state"]["values"], updated)
            else:
                assert len(ws.modals.get(user_id, [])) < MAX_MODAL_STACK, \
                    "Slack would refuse the pushed view: push_limit_reached"
                ws.push_modal(user_id, answer["view"])
        elif action == "clear":
            ws.clear_modals(user_id)
        else:
            assert action is None, f"unknown response_action {action!r}"
            ws.close_modal(user_id, view_id)

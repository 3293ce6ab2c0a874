"""Modal submissions: the request form and the deny reason."""

from __future__ import annotations

from slack_bolt import App

from bot.domain.errors import AlreadyDecidedError, InvalidRequestError, LatchkeyError
from bot.domain.policy import parse_duration
from bot.slack import blocks, wording
from bot.slack.context import Deps
from bot.slack.errors import guarded


def _selected(values: dict, block_id: str, action_id: str) -> str | None:
    state = (values.get(block_id) or {}).get(action_id) or {}
    option = state.get("selected_option") or {}
    return option.get("value") if isinstance(option, dict) else None


def _typed(values: dict, block_id: str) -> str:
    state = (values.get(block_id) or {}).get(block_id) or {}
    return state.get("value") or ""


def register(app: App, deps: Deps) -> None:
    @app.view(blocks.REQUEST_MODAL)
    @guarded
    def submit_request(ack, body, view):
        values = view["state"]["values"]
        choice = _selected(values, blocks.ACCESS, blocks.ENTITLEMENT_ACTION) or ""
        connector_id, entitlement_id = blocks.parse_entitlement_value(choice)
        try:
            duration = parse_duration(_selected(values, blocks.DURATION, blocks.DURATION) or "")
        except ValueError:
            duration = None
        requester = deps.directory.person(body["user"]["id"])
        try:
            deps.lifecycle.submit(requester, connector_id, entitlement_id, duration,
                                  _typed(values, blocks.JUSTIFICATION))
        except InvalidRequestError as error:
            ack(response_action="errors", errors=error.problems)
            return
        ack()

    @app.view(blocks.DENY_MODAL)
    @guarded
    def submit_denial(ack, body, view, client):
        reason = _typed(view["state"]["values"], blocks.REASON).strip()
        if not reason:
            ack(response_action="errors", errors={blocks.REASON: "Say why, so the requester knows."})
            return
        ack()
        user = body["user"]["id"]
        try:
            deps.lifecycle.deny(view["private_metadata"], user, reason)
        except AlreadyDecidedError as error:
            client.chat_postMessage(channel=user, text=wording.already_decided(error))
        except LatchkeyError as error:  # not allowed, or no such request (a tampered form)
            client.chat_postMessage(channel=user, text=str(error))

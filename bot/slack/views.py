"""Modal submissions: the request form and the deny reason."""

from __future__ import annotations

from slack_bolt import App

from bot.domain.errors import AlreadyDecidedError, InvalidRequestError, LatchkeyError
from bot.domain.policy import parse_duration
from bot.slack import blocks, wording
from bot.slack.context import Deps
from bot.slack.errors import guarded
from bot.slack.notifier import post_notice


def _selected(values: dict, block_id: str, action_id: str) -> str | None:
    state = (values.get(block_id) or {}).get(action_id) or {}
    option = state.get("selected_option") or {}
    return option.get("value") if isinstance(option, dict) else None


def _typed(values: dict, block_id: str) -> str:
    state = (values.get(block_id) or {}).get(block_id) or {}
    return state.get("value") or ""


def _checked(values: dict, block_id: str) -> bool:
    state = (values.get(block_id) or {}).get(block_id) or {}
    return any(isinstance(o, dict) and o.get("value") == "yes" for o in state.get("selected_options") or [])


def _duration(values: dict):
    try:
        return parse_duration(_selected(values, blocks.DURATION, blocks.DURATION) or "")
    except ValueError:
        return None


def _shown(problems: dict[str, str], values: dict) -> dict[str, str]:
    """Errors go under the field they concern; one for a field the form lacks goes under the first."""
    shown: dict[str, str] = {}
    for field, problem in problems.items():
        block = field if field in values else next(iter(values), field)
        shown[block] = f"{shown[block]} {problem}" if block in shown else problem
    return shown


def register(app: App, deps: Deps) -> None:
    @app.view(blocks.REQUEST_MODAL)
    @guarded
    def submit_request(ack, body, view):
        values = view["state"]["values"]
        choice = _selected(values, blocks.ACCESS, blocks.ENTITLEMENT_ACTION) or ""
        connector_id, entitlement_id = blocks.parse_entitlement_value(choice)
        duration = _duration(values)
        requester = deps.directory.person(body["user"]["id"])
        try:
            deps.lifecycle.submit(requester, connector_id, entitlement_id, duration,
                                  _typed(values, blocks.JUSTIFICATION), ticket=_typed(values, blocks.TICKET),
                                  break_glass=_checked(values, blocks.BREAK_GLASS))
        except InvalidRequestError as error:
            ack(response_action="errors", errors=_shown(error.problems, values))
            return
        ack()

    @app.view(blocks.EXTEND_MODAL)
    @guarded
    def submit_extension(ack, body, view, client):
        values = view["state"]["values"]
        user = body["user"]["id"]
        try:
            deps.lifecycle.extend(view["private_metadata"], user, _duration(values),
                                  _typed(values, blocks.JUSTIFICATION))
        except InvalidRequestError as error:
            ack(response_action="errors", errors=_shown(error.problems, values))
            return
        except LatchkeyError as error:  # ended meanwhile, not the holder, or a tampered form
            ack()
            post_notice(client, user, str(error), deps.directory.name)
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
            post_notice(client, user, wording.already_decided(error), deps.directory.name)
        except LatchkeyError as error:  # not allowed, or no such request (a tampered form)
            post_notice(client, user, str(error), deps.directory.name)

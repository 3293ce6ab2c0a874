"""Buttons: Approve, Deny (asks for a reason first), Cancel, Extend (asks how long), End now,
Mark reviewed (break-glass), Done on a manual task, and Decline (a request filed for you).

Who may press them is checked by the lifecycle at click time, never by what the message shows.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.domain.errors import LatchkeyError
from bot.slack import blocks
from bot.slack.context import Deps
from bot.slack.errors import explain, guarded
from bot.slack.home import own_list, publish_home
from bot.slack.notifier import post_notice, post_private

log = logging.getLogger(__name__)


def _tell(respond, client, body, deps: Deps, text: str) -> None:
    """Answer only the clicker: privately in the channel where they clicked (chat.postEphemeral;
    everyone else there sees nothing), ephemerally under a DM, or by DM from the Home tab (its
    notification in plain words)."""
    channel = _shared_channel(body)
    if channel:
        try:
            post_private(client, channel, body["user"]["id"], text, deps.directory.name)
            return
        except SlackApiError as error:  # e.g. a click by someone no longer in the channel
            log.info("could not answer %s privately in %s (%s): answering through the click",
                     body["user"]["id"], channel, error.response.get("error"))
    if body.get("response_url"):
        respond(text=text, response_type="ephemeral", replace_original=False)
    else:
        post_notice(client, body["user"]["id"], text, deps.directory.name)


def _shared_channel(body) -> str | None:
    """The channel of a click on a message there (an approval channel), not a DM's or an
    ephemeral message's."""
    container = body.get("container") or {}
    channel = container.get("channel_id")
    if container.get("type") != "message" or container.get("is_ephemeral") or not isinstance(channel, str):
        return None
    return channel if channel[:1] in ("C", "G") else None


def register(app: App, deps: Deps) -> None:
    lifecycle = deps.lifecycle
    # Buttons that act at once: each calls one lifecycle use case with (request id, clicker).
    use_cases = {blocks.APPROVE: "approve", blocks.CANCEL: "cancel", blocks.REVIEW: "review",
                 blocks.TASK_DONE: "complete_task", blocks.END_NOW: "end_early",
                 blocks.DECLINE: "decline"}
    for action_id, use_case in use_cases.items():
        app.action(action_id)(guarded(_button_calling(action_id, use_case, deps)))

    # Buttons that ask something first: check the clicker may, then open the form.  The check
    # comes first so that nobody is shown a form for nothing.
    forms = {blocks.DENY: ("check_decidable", blocks.deny_modal),
             blocks.EXTEND: ("check_extendable", lambda request: blocks.extend_modal(
                 request, lifecycle.rules.named(request.rule).policy.offered_durations()))}
    for action_id, (check, form) in forms.items():
        app.action(action_id)(guarded(_button_opening(action_id, check, form, deps)))


def _button_opening(action_id: str, check: str, form, deps: Deps):
    def clicked(ack, body, action, respond, client):
        ack()
        request = _decide(respond, client, body, action, deps, getattr(deps.lifecycle, check))
        if request is not None:
            client.views_open(trigger_id=body["trigger_id"], view=form(request))

    clicked.__name__ = action_id
    return clicked


def _button_calling(action_id: str, use_case: str, deps: Deps):
    def clicked(ack, body, action, respond, client):
        ack()
        _decide(respond, client, body, action, deps, getattr(deps.lifecycle, use_case))

    clicked.__name__ = action_id  # names the listener in logs and errors
    return clicked


def _decide(respond, client, body, action, deps: Deps, use_case):
    """Run `use_case(request id, clicker)`; explain a refusal to the clicker only; redraw the
    list it came from."""
    clicker = body["user"]["id"]
    try:
        return use_case(action["value"], clicker)
    except LatchkeyError as error:
        _tell(respond, client, body, deps, explain(error, deps, clicker, action["action_id"], action["value"]))
    finally:
        _redraw_list(respond, client, body, deps)
    return None


def _redraw_list(respond, client, body, deps: Deps) -> None:
    """A click in a list of the clicker's own requests (the Home tab, or the ephemeral answer
    to `/request-access list`) redraws that list, so it shows no stale state or buttons."""
    user = body["user"]["id"]
    if (body.get("view") or {}).get("type") == "home":
        publish_home(client, deps, user)
    elif (body.get("container") or {}).get("is_ephemeral") and body.get("response_url"):
        respond(replace_original=True, **own_list(deps, user))

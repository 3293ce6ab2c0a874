"""Buttons: Approve, Deny (asks for a reason first) and Cancel.

Who may press them is checked by the lifecycle at click time, never by what the message shows.
"""

from __future__ import annotations

from slack_bolt import App

from bot.domain.errors import AlreadyDecidedError, LatchkeyError
from bot.slack import blocks, wording
from bot.slack.context import Deps


def _tell(respond, text: str) -> None:
    respond(text=text, response_type="ephemeral", replace_original=False)


def register(app: App, deps: Deps) -> None:
    @app.action(blocks.APPROVE)
    def approve(ack, body, action, respond):
        ack()
        _decide(respond, lambda: deps.lifecycle.approve(action["value"], body["user"]["id"]))

    @app.action(blocks.DENY)
    def deny(ack, body, action, respond, client):
        ack()
        user = body["user"]["id"]
        # Check before asking for a reason, so a non-approver is not shown a form for nothing.
        request = _decide(respond, lambda: deps.lifecycle.check_decidable(action["value"], user))
        if request is not None:
            client.views_open(trigger_id=body["trigger_id"], view=blocks.deny_modal(request))

    @app.action(blocks.CANCEL)
    def cancel(ack, body, action, respond):
        ack()
        _decide(respond, lambda: deps.lifecycle.cancel(action["value"], body["user"]["id"]))


def _decide(respond, call):
    """Run a decision; explain a refusal to the clicker only."""
    try:
        return call()
    except AlreadyDecidedError as error:
        _tell(respond, wording.already_decided(error))
    except LatchkeyError as error:
        _tell(respond, str(error))
    return None

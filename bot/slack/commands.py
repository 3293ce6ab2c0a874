"""`/request-access`: open the request form, or answer `help` and `list`."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks, wording
from bot.slack.context import Deps
from bot.slack.errors import guarded
from bot.slack.home import own_list

COMMAND = "/request-access"


def register(app: App, deps: Deps) -> None:
    @app.command(COMMAND)
    @guarded
    def request_access(ack, body, client):
        text = (body.get("text") or "").strip()
        if text.lower() in ("help", "-h", "--help"):
            ack(response_type="ephemeral", text=wording.HELP)
            return
        if text.lower() == "list":
            ack(**own_list(deps, body["user_id"]))
            return
        ack()
        matches = deps.catalog.search(text, limit=2) if text else []
        chosen = matches[0] if len(matches) == 1 else None
        view = blocks.request_modal(deps.lifecycle.rules, search=text, preselected=chosen, rule=chosen and
                                    deps.lifecycle.rule_for(chosen.connector_id, chosen.id))
        # The trigger id lives 3 s: open the modal first, everything else afterwards.
        client.views_open(trigger_id=body["trigger_id"], view=view)
        deps.directory.person(body["user_id"])  # warm the email cache for the submission

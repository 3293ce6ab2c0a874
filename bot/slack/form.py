"""The request form adapts to the chosen item: once the requester picks one, the form is redrawn
for that item's rule (its durations, its ticket field, break-glass where allowed, the reason
required or not).

The ACCESS input has `dispatch_action: true`, so Slack posts a `block_actions` payload when the
choice changes.  We answer with `views.update` on that view and its hash; blocks keep their ids,
so Slack keeps what the requester has typed.  The submission still checks everything against
the rule: the redraw only saves a round trip.
"""

from __future__ import annotations

import logging

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.slack import blocks
from bot.slack.context import Deps
from bot.slack.errors import guarded

log = logging.getLogger(__name__)

# views.update errors that only mean the form moved on: the requester changed something
# meanwhile (the next choice redraws it again), or closed it.
OVERTAKEN = {"hash_conflict", "not_found"}


def _selected(values: dict, block_id: str, action_id: str) -> str | None:
    option = ((values.get(block_id) or {}).get(action_id) or {}).get("selected_option")
    return option.get("value") if isinstance(option, dict) else None


def register(app: App, deps: Deps) -> None:
    @app.action(blocks.ENTITLEMENT_ACTION)
    @guarded
    def entitlement_chosen(ack, body, action, client):
        ack()
        view = body.get("view") or {}
        option = action.get("selected_option")
        if view.get("callback_id") != blocks.REQUEST_MODAL or not view.get("id") \
                or not isinstance(option, dict) or not option.get("value"):
            return
        connector_id, entitlement_id = blocks.parse_entitlement_value(str(option["value"]))
        rule = deps.lifecycle.rule_for(connector_id, entitlement_id)
        label = option.get("text")
        name = label.get("text") if isinstance(label, dict) else None
        chosen = blocks.entitlement_option(connector_id, entitlement_id, str(name or entitlement_id))
        if rule is None or chosen is None:
            return  # not something one can request: the form stays, the submission says why
        values = (view.get("state") or {}).get("values") or {}
        redrawn = blocks.request_modal_for(
            rule, blocks.modal_search(view), chosen,
            duration=_selected(values, blocks.DURATION, blocks.DURATION),
            someone_picked=bool(((values.get(blocks.FOR) or {}).get(blocks.FOR) or {}).get("selected_user")))
        try:
            client.views_update(view_id=view["id"], hash=view.get("hash"), view=redrawn)
        except SlackApiError as error:
            code = error.response.get("error") if error.response is not None else None
            if code not in OVERTAKEN:
                raise
            log.info("request form not redrawn (%s): it changed or closed meanwhile", code)

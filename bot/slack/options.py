"""Typeahead for the request form (`block_suggestion` from an `external_select`)."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks
from bot.slack.context import Deps
from bot.slack.errors import guarded


def register(app: App, deps: Deps) -> None:
    @app.options(blocks.ENTITLEMENT_ACTION)
    @guarded
    def suggest_entitlements(ack, payload, body):
        typed = (payload.get("value") or "").strip()
        search = typed or blocks.modal_search(body.get("view") or {})
        bundles = deps.lifecycle.rules.bundles_matching(search[:200])
        ack(option_groups=blocks.option_groups(bundles + deps.catalog.search(search[:200], limit=100)))

"""Typeahead for the request form (`block_suggestion` from an `external_select`)."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks
from bot.slack.context import Deps
from bot.slack.errors import guarded


def still_reading(deps: Deps, synced: set[str]) -> tuple[str, ...]:
    """Connectors whose first catalog sync has not finished.  `synced` remembers the others:
    a catalog once synced stays, so they are never read again."""
    for connector_id in deps.lifecycle.connectors:
        if connector_id not in synced and deps.catalog.last_sync(connector_id) is not None:
            synced.add(connector_id)
    return tuple(cid for cid in deps.lifecycle.connectors if cid not in synced)


def register(app: App, deps: Deps) -> None:
    synced: set[str] = set()

    @app.options(blocks.ENTITLEMENT_ACTION)
    @guarded
    def suggest_entitlements(ack, payload, body):
        typed = (payload.get("value") or "").strip()
        search = typed or blocks.modal_search(body.get("view") or {})
        bundles = deps.lifecycle.rules.bundles_matching(search[:200])
        ack(option_groups=blocks.option_groups(bundles + deps.catalog.search(search[:200], limit=100),
                                               still_reading=still_reading(deps, synced)))

"""App Home, and the `list` answer: my requests and access, the approvals waiting on me, and (on
the Home tab) the access reviews I have open."""

from __future__ import annotations

from slack_bolt import App

from bot.slack import blocks, review_blocks
from bot.slack.context import Deps
from bot.slack.errors import guarded


def publish_home(client, deps: Deps, user_id: str) -> None:
    lifecycle = deps.lifecycle
    view = blocks.home(lifecycle.of_requester(user_id), lifecycle.waiting_on(user_id), lifecycle.clock.now())
    view["blocks"] += review_blocks.home_section(lifecycle.reviews.for_reviewer(user_id))
    client.views_publish(user_id=user_id, view=view)


def own_list(deps: Deps, user_id: str) -> dict:
    """The ephemeral `/request-access list`: the person's pending requests and live access."""
    lifecycle = deps.lifecycle
    return blocks.request_list(lifecycle.of_requester(user_id), lifecycle.clock.now())


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    @guarded
    def home_opened(event, body, client):  # body: for guarded, to tell the person
        if event.get("tab") == "home":
            publish_home(client, deps, event["user"])

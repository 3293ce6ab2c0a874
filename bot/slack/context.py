"""What the Slack listeners need from the rest of Latchkey, handed over in one object."""

from __future__ import annotations

from dataclasses import dataclass

from bot.lifecycle import Lifecycle
from bot.refusals import RefusedAttempts
from bot.slack.directory import SlackDirectory
from storage.catalog import Catalog
from storage.chat import SeenEvents


@dataclass(frozen=True)
class Deps:
    lifecycle: Lifecycle
    catalog: Catalog
    directory: SlackDirectory
    seen_events: SeenEvents
    refusals: RefusedAttempts

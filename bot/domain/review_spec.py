"""A configured access review (the YAML file's `reviews:` entries): what it covers, who reviews
each holding, by when, and what the due date does with what nobody decided."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.domain.reviews import OnNoDecision
from bot.domain.rules import Match, Target


class ReviewerSource(enum.StrEnum):
    """Reviewers named by their relation to the holding, not by name."""

    OWNERS = "owners"  # the owners of the holding's connector
    APPROVERS = "approvers"  # the first-step approvers of the rule that governs the entitlement
    MANAGER = "manager"  # the holder's manager, as their Okta profile says (managerId)


@dataclass(frozen=True)
class Schedule:
    """When a campaign starts again: a cron expression (UTC) or a fixed period."""

    cron: str | None = None
    every: timedelta | None = None

    def next_after(self, moment: datetime) -> datetime:
        """The first start strictly after `moment`."""
        if self.every is not None:
            return moment + self.every
        assert self.cron is not None
        following: datetime = cron_trigger(self.cron).get_next_fire_time(None, moment + timedelta(seconds=1))
        return following


def cron_trigger(expression: str) -> Any:
    """The five-field crontab `expression` (minute hour day month weekday), in UTC; ValueError
    saying what is wrong with it."""
    from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]  # the scheduler's own

    return CronTrigger.from_crontab(expression, timezone=UTC)


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    scope: tuple[Match, ...]  # a holding is in scope when one of these matches its entitlement
    # Tried in order: the first that names somebody but the holder reviews; each entry a
    # ReviewerSource or a person or user group as approvers are named.
    reviewers: tuple[str, ...]
    fallback: tuple[str, ...]  # who reviews the holder's own access, and what nobody else can
    due_in: timedelta = timedelta(days=14)
    on_no_decision: OnNoDecision = OnNoDecision.KEEP
    remind_every: timedelta | None = timedelta(days=3)
    schedule: Schedule | None = None  # None: started by hand (`latchkey review start`)

    def covers(self, target: Target) -> bool:
        return any(match.matches(target) for match in self.scope)

    def may_cover(self, connector_id: str) -> bool:
        """Whether some holding of this connector could be in scope (what to sync first)."""
        return any(Match(connector=match.connector).matches(Target(connector_id, "", ""))
                   for match in self.scope)

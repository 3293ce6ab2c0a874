"""The `reviews:` section of the YAML file: access reviews, each a campaign that asks reviewers
whether the holdings in its scope should stay (bot/domain/review_spec.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from bot.config.fields import GROUP, Approvers, Duration, Strict, approver_entries
from bot.config.policy import MatchConfig
from bot.domain.review_spec import CampaignSpec, ReviewerSource, Schedule, cron_trigger
from bot.domain.reviews import OnNoDecision
from bot.domain.rules import Match


def _reviewer_entries(entries: list[str]) -> list[str]:
    named = [entry for entry in entries if entry not in set(ReviewerSource)]
    try:
        approver_entries(named)
    except ValueError as exc:
        raise ValueError(f"{exc}; or one of {', '.join(ReviewerSource)}") from None
    if len(set(entries)) != len(entries):
        raise ValueError("a reviewer is listed twice")
    return entries


class ScopeConfig(MatchConfig):
    """What a review covers, matched as a rule's `match` is; a holding is in scope when one
    entry matches its entitlement."""


class EveryConfig(Strict):
    every: Duration = Field(description="the time from one campaign's start to the next, e.g. 90d")


class ReviewConfig(Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$", description=(
        "what `latchkey review start NAME` and the reports call it; one campaign of a name is "
        "open at a time"))
    schedule: str | EveryConfig | None = Field(default=None, description=(
        "when a campaign starts by itself: a cron expression in UTC (`0 9 1 */3 *`: 09:00 on "
        "the first day of every third month) or `{every: 90d}`; none: only by hand"))
    scope: list[ScopeConfig] = Field(min_length=1, description=(
        "what it covers, as rules match (connector, type, resource globs): a holding is in "
        "scope when one entry matches; `[{}]` covers everything"))
    reviewers: Annotated[list[str], Field(min_length=1), AfterValidator(_reviewer_entries)] = Field(
        description="who reviews each holding, tried in order until one names somebody but the "
        "holder: `owners` (the connector's owners), `approvers` (the approvers of the rule that "
        "governs the entitlement), `manager` (the holder's manager, by the Okta profile's "
        "`managerId`), or people and Slack user groups named as approvers are")
    fallback: Approvers = Field(description=(
        "who reviews the holders' own access and what no reviewer above can take; name two "
        "people or a user group, since nobody reviews their own access"))
    due_in: Duration = Field(default=timedelta(days=14), description="how long reviewers have")
    on_no_decision: Literal["keep", "revoke", "escalate"] = Field(default="keep", description=(
        "what the due date does with an undecided holding: `keep` it (recorded as no "
        "decision), `revoke` it, or `escalate` it once to the fallback reviewers for another "
        "`due_in` (then kept as no decision)"))
    remind_every: Duration | None = Field(default=timedelta(days=3), description=(
        "how often reviewers with undecided holdings are reminded; null: never"))

    @field_validator("schedule")
    @classmethod
    def _cron_reads(cls, schedule: str | EveryConfig | None) -> str | EveryConfig | None:
        if isinstance(schedule, str):
            try:
                cron_trigger(schedule)
            except ValueError as exc:
                raise ValueError(f"{schedule!r} is not a cron expression (minute hour day month "
                                 f"weekday): {exc}") from None
        return schedule

    @model_validator(mode="after")
    def _fallback_is_not_one_person(self) -> ReviewConfig:
        if len(set(self.fallback)) < 2 and not any(GROUP.fullmatch(entry) for entry in self.fallback):
            raise ValueError("fallback: name at least two people or a user group: the one person "
                             "named could not review their own access")
        return self

    def to_spec(self) -> CampaignSpec:
        schedule = None if self.schedule is None else Schedule(cron=self.schedule) \
            if isinstance(self.schedule, str) else Schedule(every=self.schedule.every)
        return CampaignSpec(
            name=self.name, reviewers=tuple(self.reviewers), fallback=tuple(self.fallback),
            scope=tuple(Match(m.connector, m.type, m.resource) for m in self.scope),
            due_in=self.due_in, on_no_decision=OnNoDecision(self.on_no_decision),
            remind_every=self.remind_every, schedule=schedule)


def unique_names(reviews: list[ReviewConfig]) -> list[ReviewConfig]:
    names = [review.name for review in reviews]
    if duplicates := sorted({name for name in names if names.count(name) > 1}):
        raise ValueError(f"review names must be unique: {', '.join(duplicates)} is used twice")
    return reviews

"""The `on_call:` section of the YAML file (the on-call services Latchkey may ask who is on
call) and what a rule's `auto_approve.on_call` asks of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from bot.config.fields import Strict
from bot.domain.on_call import OnCallEntry

Source = Literal["pagerduty", "opsgenie"]


def _bare(url: str) -> str:
    return url.rstrip("/")


class PagerDutyConfig(Strict):
    token: SecretStr = Field(min_length=1, description="a REST API key, read-only is enough (use ${ENV_VAR})")
    url: str = Field(default="https://api.pagerduty.com", pattern=r"^https?://[^\s]+$",
                     description="the REST API's base URL (`https://api.eu.pagerduty.com` for the EU service region)")

    _url = field_validator("url")(_bare)


class OpsgenieConfig(Strict):
    api_key: SecretStr = Field(min_length=1, description="an API integration's key that may read "
                               "the schedules (use ${ENV_VAR})")
    url: str = Field(default="https://api.opsgenie.com", pattern=r"^https?://[^\s]+$",
                     description="the API's base URL (`https://api.eu.opsgenie.com` for the EU instance)")

    _url = field_validator("url")(_bare)


class OnCallConfig(Strict):
    pagerduty: PagerDutyConfig | None = Field(default=None, description="PagerDuty (REST API v2)")
    opsgenie: OpsgenieConfig | None = Field(default=None, description="Opsgenie (schedules by name or id)")

    def sources(self) -> set[str]:
        return {name for name in ("pagerduty", "opsgenie") if getattr(self, name) is not None}


class OnCallRuleConfig(Strict):
    source: Source = Field(description="the `on_call:` service to ask")
    schedules: list[str] = Field(default=[], description="schedule ids (Opsgenie: names or ids) "
                                 "whose on-call people are approved at once")
    escalation_policies: list[str] = Field(default=[], description="PagerDuty escalation policy ids "
                                           "whose on-call people are approved at once")
    max_level: int | None = Field(default=None, ge=1, description="only escalation levels up to this "
                                  "(1: the first responder); default: any level")

    @model_validator(mode="after")
    def _names_something(self) -> OnCallRuleConfig:
        if not self.schedules and not self.escalation_policies:
            raise ValueError("name at least one of schedules or escalation_policies")
        if self.source == "opsgenie" and self.escalation_policies:
            raise ValueError("opsgenie is asked by schedule: use `schedules`")
        return self


def lookups_named(policy) -> Iterator[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    """(where, source, schedules, escalation policies) of every on-call lookup the policy makes:
    its auto-approvals' and its approver entries' `on_call:<source>/<schedule>`."""
    for rule in (policy, *policy.rules):
        where = f"rule {rule.name!r}" if rule is not policy else "policy"
        if rule.auto_approve and (check := rule.auto_approve.on_call):
            yield where, check.source, tuple(check.schedules), tuple(check.escalation_policies)
        entries = [*(rule.approvers or ()), *(rule.fallback or ()),
                   *(e for step in rule.steps or () for e in step.approvers or ())]
        yield from _entries(where, entries)
    for conflict in policy.conflicts:
        yield from _entries(f"conflict {conflict.name!r}", conflict.approvers or ())


def _entries(where: str, entries) -> Iterator[tuple[str, str, tuple[str, ...], tuple[str, ...]]]:
    for entry in entries:
        if (on_call := OnCallEntry.parse(entry)) is not None:
            yield where, on_call.source, (on_call.schedule,), ()

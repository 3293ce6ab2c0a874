"""The value types that several parts of the YAML file share (durations, approvers), its strict
model base, and the walk that finds every secret in a model."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from bot.domain.policy import parse_duration


class Strict(BaseModel):
    """A part of the YAML file: an unknown key is an error (a typo must not be ignored), and the
    loaded value never changes."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]

PERSON = re.compile(r"[UW][A-Z0-9]{2,}|[^@\s]+@[^@\s]+\.[^@\s]+")
GROUP = re.compile(r"@[a-z0-9][a-z0-9._-]*|S[A-Z0-9]{2,}")
ON_CALL = re.compile(r"on_call:(pagerduty|opsgenie)/[^/\s]+")  # whoever a schedule has on call now


def approver_entries(entries: list[str] | None) -> list[str] | None:
    """`entries` if each names a person (Slack user id or email), a Slack user group or an
    on-call schedule."""
    for entry in entries or ():
        if not (PERSON.fullmatch(entry) or GROUP.fullmatch(entry) or ON_CALL.fullmatch(entry)):
            raise ValueError(f"{entry!r} is neither a Slack user id (U…), an email address, a "
                             "Slack user group (@handle or S…) or an on-call schedule "
                             "(on_call:pagerduty/<schedule id>, on_call:opsgenie/<schedule>)")
    return entries


Approvers = Annotated[list[str], Field(min_length=1), AfterValidator(approver_entries)]


def secrets_in(value: object) -> Iterator[str]:
    """Every SecretStr value inside `value` (a model, dict or list), e.g. each connector's token."""
    if isinstance(value, SecretStr):
        yield value.get_secret_value()
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secrets_in(getattr(value, name))
    elif isinstance(value, dict):
        for item in value.values():
            yield from secrets_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from secrets_in(item)

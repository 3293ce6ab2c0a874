"""The YAML entry of a connector: its type's own keys (from connectors/registry.py) plus what
every entry says about how Latchkey uses it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Union

from pydantic import BaseModel, Field, create_model, field_validator, model_validator

from bot.config.fields import Duration, Strict, approver_entries
from connectors.registry import CONNECTOR_TYPES
from connectors.settings import ConnectorSettings

FULL_SYNC_EVERY = timedelta(minutes=15)
# A connector that follows its target's change feed is kept current by it: the full sync is only
# the safety net.
FULL_SYNC_WITH_FEED = timedelta(days=1)


class _ConnectorUse(Strict):
    """What every connector entry says about how Latchkey uses it, whatever its type; the type's
    own keys (token, URL, …) come from its settings model in connectors/registry.py."""

    owners: list[str] = Field(min_length=1, description="the approvers unless a rule says otherwise: Slack user ids (U…), emails or Slack user groups (@handle or S…)")
    provisioning: bool = Field(default=True, description="false: approved requests become tasks "
                               "for the owners instead of API calls")
    sync_interval: Duration = Field(default=FULL_SYNC_EVERY, description="how often the catalog is synced")

    @field_validator("owners")
    @classmethod
    def _owners_look_right(cls, owners: list[str]) -> list[str] | None:
        return approver_entries(owners)


class _FollowingUse(_ConnectorUse):
    """`_ConnectorUse` of a type whose target has a change feed (Okta's System Log)."""

    sync_interval: Duration = Field(default=FULL_SYNC_WITH_FEED, description=(
        "how often the whole catalog is synced; the change feed (for Okta the System Log, "
        "`log_poll_interval`) keeps it current in between, so this is the safety net; 15m when "
        "the feed is turned off"))

    @model_validator(mode="after")
    def _often_without_the_feed(self) -> _FollowingUse:
        if "sync_interval" not in self.model_fields_set and not self.change_feed_interval():  # type: ignore[attr-defined]
            object.__setattr__(self, "sync_interval", FULL_SYNC_EVERY)  # the model is frozen
        return self


def _entry(settings: type[ConnectorSettings]) -> type[BaseModel]:
    """The YAML entry of one connector type: the type's own settings plus `_ConnectorUse`."""
    has_feed = settings.change_feed_interval is not ConnectorSettings.change_feed_interval
    return create_model(f"{settings.__name__.removesuffix('Settings')}ConnectorConfig",
                        __base__=(_FollowingUse if has_feed else _ConnectorUse, settings),
                        __module__=__name__)


# Union[...] rather than `|`: the members come from the registry, as a tuple, at run time.
ConnectorConfig = Annotated[Union[tuple(_entry(s) for s in CONNECTOR_TYPES.values())],  # noqa: UP007
                            Field(discriminator="type")]

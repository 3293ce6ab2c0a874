"""The YAML entry of a connector: its type's own keys (from connectors/registry.py) plus what
every entry says about how Latchkey uses it."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Union

from pydantic import BaseModel, Field, create_model, field_validator

from bot.config.fields import Duration, Strict, approver_entries
from connectors.registry import CONNECTOR_TYPES
from connectors.settings import ConnectorSettings


class _ConnectorUse(Strict):
    """What every connector entry says about how Latchkey uses it, whatever its type; the type's
    own keys (token, URL, …) come from its settings model in connectors/registry.py."""

    owners: list[str] = Field(min_length=1, description="the approvers unless a rule says otherwise: Slack user ids (U…), emails or Slack user groups (@handle or S…)")
    provisioning: bool = Field(default=True, description="false: approved requests become tasks "
                               "for the owners instead of API calls")
    sync_interval: Duration = Field(default=timedelta(minutes=15), description="how often the catalog is synced")

    @field_validator("owners")
    @classmethod
    def _owners_look_right(cls, owners: list[str]) -> list[str] | None:
        return approver_entries(owners)


def _entry(settings: type[ConnectorSettings]) -> type[BaseModel]:
    """The YAML entry of one connector type: the type's own settings plus `_ConnectorUse`."""
    return create_model(f"{settings.__name__.removesuffix('Settings')}ConnectorConfig",
                        __base__=(_ConnectorUse, settings), __module__=__name__)


# Union[...] rather than `|`: the members come from the registry, as a tuple, at run time.
ConnectorConfig = Annotated[Union[tuple(_entry(s) for s in CONNECTOR_TYPES.values())],  # noqa: UP007
                            Field(discriminator="type")]

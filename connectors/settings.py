"""What a connector needs to be built, as read from its entry in the YAML config file.

Each connector type declares its own keys in a subclass of `ConnectorSettings` (in its own
folder, next to its client) with `type: Literal["<name>"]` and `build()`, and is listed once in
connectors/registry.py.  What Latchkey itself does with a connector (owners, provisioning, sync
interval) is not the connector's business: bot/config/connector_entries.py adds those keys to
every type.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.base import Connector


class ConnectorSettings(BaseModel):
    """What every connector type takes, whatever its target."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: SecretStr = Field(min_length=1, description="the API token (use ${ENV_VAR})")
    max_attempts: int = Field(default=5, ge=1, le=20,
                              description="tries per API call (429 / 5xx / network) before giving up")

    def build(self) -> Connector:
        """A connector talking to the target these settings describe."""
        raise NotImplementedError

    def change_feed_interval(self) -> float:
        """Seconds between reads of the target's change feed (connectors/changes.py); 0 when the
        type has none or it is turned off.  A type with a feed overrides this."""
        return 0.0

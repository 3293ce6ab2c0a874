"""Every connector type Latchkey knows, by the `type:` of its entry in the YAML config file.

A type is its settings model (its keys, and `build()` for the connector; connectors/settings.py).
Adding a connector is its folder (client, connector, settings), its sandbox, its tests, and one
line here; bot/config/ and the README's configuration reference follow from this list.
"""

from __future__ import annotations

from typing import get_args

from connectors.celigo.settings import CeligoSettings
from connectors.okta.settings import OktaSettings
from connectors.percipio.settings import PercipioSettings
from connectors.segment.settings import SegmentSettings
from connectors.settings import ConnectorSettings

REGISTERED: tuple[type[ConnectorSettings], ...] = (
    OktaSettings,
    CeligoSettings,
    SegmentSettings,
    PercipioSettings,
)


def type_name(settings: type[ConnectorSettings]) -> str:
    """The `type:` a settings model answers to: the one value of its `type` Literal."""
    [name] = get_args(settings.model_fields["type"].annotation)
    return name


CONNECTOR_TYPES: dict[str, type[ConnectorSettings]] = {type_name(s): s for s in REGISTERED}

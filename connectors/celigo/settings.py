"""The keys of a connector entry with `type: celigo`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.celigo.client import CeligoClient, celigo_base_url
from connectors.celigo.connector import CeligoConnector
from connectors.settings import ConnectorSettings


class CeligoSettings(ConnectorSettings):
    type: Literal["celigo"]
    region: Literal["us", "eu", "au", "ca"] = Field(default="us", description="the Celigo region of "
                                                    "the account (its API host)")
    base_url: str | None = Field(default=None, description="override the API URL (e.g. a sandbox)")

    def build(self) -> CeligoConnector:
        return CeligoConnector(CeligoClient(celigo_base_url(self.region, self.base_url),
                                            self.token.get_secret_value(), max_attempts=self.max_attempts))

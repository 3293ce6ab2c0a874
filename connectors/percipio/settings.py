"""The keys of a connector entry with `type: percipio`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.percipio.client import PercipioClient
from connectors.percipio.connector import PercipioConnector
from connectors.settings import ConnectorSettings


class PercipioSettings(ConnectorSettings):
    type: Literal["percipio"]
    organization_id: str = Field(min_length=1, description="the Percipio organization UUID")
    course_ids: list[str] | None = Field(default=None, description="sync only these courses")
    base_url: str = Field(default="https://api.percipio.com", description="the API URL")

    def build(self) -> PercipioConnector:
        client = PercipioClient(self.base_url, self.token.get_secret_value(), self.organization_id,
                                max_attempts=self.max_attempts)
        return PercipioConnector(client, course_ids=self.course_ids)

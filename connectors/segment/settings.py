"""The keys of a connector entry with `type: segment`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from connectors.segment.client import SegmentClient
from connectors.segment.connector import SegmentConnector
from connectors.settings import ConnectorSettings


class SegmentSettings(ConnectorSettings):
    type: Literal["segment"]
    base_url: str = Field(default="https://api.segmentapis.com", description="the Public API URL "
                          "(https://eu1.api.segmentapis.com for EU workspaces)")
    page_size: int = Field(default=200, ge=1, le=1000, description="items per page when listing "
                           "(Segment's default 200; up to 1000 means fewer calls)")

    def build(self) -> SegmentConnector:
        return SegmentConnector(SegmentClient(self.base_url, self.token.get_secret_value(),
                                              page_size=self.page_size, max_attempts=self.max_attempts))

"""The keys of a connector entry with `type: okta`."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from connectors.okta.auth import SswsToken
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.transport import okta_base_url
from connectors.settings import ConnectorSettings


class OktaSettings(ConnectorSettings):
    type: Literal["okta"]
    domain: str = Field(min_length=1, description="acme.okta.com, or a full URL such as "
                        "http://127.0.0.1:9000")
    page_size: int = Field(default=200, ge=1, le=1000, description="items per page when listing")
    sync_inactive_apps: bool = Field(default=True, description="also sync apps that are not ACTIVE")
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds to wait for each answer "
                           "from Okta; a call that takes longer is retried like a 5xx")

    @field_validator("domain")
    @classmethod
    def _domain_is_usable(cls, domain: str) -> str:
        okta_base_url(domain)  # raises ValueError saying what is wrong
        return domain

    def build(self) -> OktaConnector:
        client = OktaClient(okta_base_url(self.domain), SswsToken(self.token.get_secret_value()),
                            page_size=self.page_size, max_attempts=self.max_attempts,
                            timeout=self.timeout)
        return OktaConnector(client, sync_inactive_apps=self.sync_inactive_apps)

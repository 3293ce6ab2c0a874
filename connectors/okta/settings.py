"""The keys of a connector entry with `type: okta`: an API token (`token`, sent as SSWS) or
OAuth 2.0 for a service app (`auth`, oauth_settings.py), exactly one of the two."""

from __future__ import annotations

from typing import Literal

import httpx
from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.http import FORM_ATTEMPTS, FORM_MAX_WAIT, FORM_TIMEOUT
from connectors.okta.auth import SswsToken
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.oauth import OktaOAuth
from connectors.okta.oauth_settings import OktaOAuthSettings
from connectors.okta.transport import okta_base_url
from connectors.settings import ConnectorSettings


class OktaSettings(ConnectorSettings):
    type: Literal["okta"]
    token: SecretStr | None = Field(default=None, min_length=1, description="an API token, sent "
                                    "as SSWS (use ${ENV_VAR}); or `auth` instead (preferred)")
    auth: OktaOAuthSettings | None = Field(default=None, description="OAuth 2.0 for an API "
                                           "Services app, instead of `token`")
    domain: str = Field(min_length=1, description="acme.okta.com, or a full URL such as "
                        "http://127.0.0.1:9000")
    page_size: int = Field(default=200, ge=1, le=1000, description="items per page when listing")
    sync_inactive_apps: bool = Field(default=True, description="also sync apps that are not ACTIVE")
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds to wait for each answer "
                           "from Okta; a call that takes longer is retried like a 5xx")
    log_poll_interval: float = Field(default=20.0, ge=0, le=3600, description="seconds between "
                                     "reads of the System Log, which keeps the catalog current "
                                     "between full syncs (needs okta.logs.read); 0 turns it off")

    @field_validator("domain")
    @classmethod
    def _domain_is_usable(cls, domain: str) -> str:
        okta_base_url(domain)  # raises ValueError saying what is wrong
        return domain

    @model_validator(mode="after")
    def _one_credential(self) -> OktaSettings:
        if self.token is None and self.auth is None:
            raise ValueError("give `token` (an Okta API token) or `auth` (OAuth for a service app)")
        if self.token is not None and self.auth is not None:
            raise ValueError("give `token` or `auth`, not both: Latchkey would not know which "
                             "one Okta is meant to see")
        return self

    def change_feed_interval(self) -> float:
        return self.log_poll_interval

    def build(self) -> OktaConnector:
        client = OktaClient(okta_base_url(self.domain), self._credentials(),
                            page_size=self.page_size, max_attempts=self.max_attempts,
                            timeout=self.timeout)
        return OktaConnector(client, sync_inactive_apps=self.sync_inactive_apps)

    def build_for_forms(self) -> OktaConnector:
        """The connector for reads someone waits on in Slack (who manages whom, checked while a
        form is open): within a form's 3 seconds, an outage is told as one, not as a timeout."""
        client = OktaClient(okta_base_url(self.domain), self._credentials(), page_size=self.page_size,
                            max_attempts=FORM_ATTEMPTS, timeout=FORM_TIMEOUT, max_wait=FORM_MAX_WAIT)
        return OktaConnector(client, sync_inactive_apps=self.sync_inactive_apps)

    def _credentials(self) -> httpx.Auth:
        if self.auth is None:
            assert self.token is not None  # _one_credential saw to it
            return SswsToken(self.token.get_secret_value())
        return OktaOAuth(okta_base_url(self.domain), self.auth.client_id, self.auth.app_keys(),
                         self.auth.scopes, dpop=self.auth.dpop, timeout=self.timeout)

"""Settings from the environment and the YAML config file, each validated once at start-up.

Secrets come from the environment (directly, or through `${VAR}` in the YAML file) and are held
as SecretStr so they never end up in a log line or a repr.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationError,
                      field_validator, model_validator)
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.domain.policy import Policy, parse_duration
from connectors.okta.client import okta_base_url


class ConfigError(Exception):
    """The configuration cannot be used; the message names the key and what is wrong."""


def _duration(value) -> timedelta:
    return value if isinstance(value, timedelta) else parse_duration(value)


Duration = Annotated[timedelta, BeforeValidator(_duration)]


class Settings(BaseSettings):
    """Process settings, read from environment variables of the same name."""

    model_config = SettingsConfigDict(extra="ignore")

    slack_bot_token: SecretStr = Field(min_length=1, description="the Bot User OAuth Token, `xoxb-…`")
    slack_signing_secret: SecretStr = Field(
        min_length=1, description="the app's Signing Secret: verifies that HTTP requests come from Slack")
    slack_app_token: SecretStr | None = Field(
        default=None, description="an app-level token (`xapp-…`, scope `connections:write`): when set, "
        "Latchkey connects out to Slack over Socket Mode instead of receiving requests over HTTP")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL "
                               "(the demo and the tests point it at the sandbox)")
    database_url: str = Field(default="sqlite:///latchkey.db", description="SQLite for one replica; "
                              "`postgresql+psycopg://user:password@host/db` for several")
    latchkey_config: Path = Field(default=Path("latchkey.yaml"), description="path of the YAML file")
    latchkey_sweep_seconds: float = Field(default=15.0, gt=0,
                                          description="how often the safety-net sweep runs")
    latchkey_log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    latchkey_log_format: Literal["text", "json"] = Field(
        default="text", description="`json`: one JSON object per line, with the Slack request id")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        return url if url.endswith("/") else url + "/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ConnectorConfig(_Strict):
    """What every connector entry has, whatever its type."""

    token: SecretStr = Field(min_length=1, description="the API token (use ${ENV_VAR})")
    owners: list[str] = Field(min_length=1, description="Slack user ids (U…) or emails of the approvers")
    provisioning: bool = Field(default=True, description="false: approved requests become tasks "
                               "for the owners instead of API calls")
    sync_interval: Duration = Field(default=timedelta(minutes=15), description="how often the catalog is synced")
    max_attempts: int = Field(default=5, ge=1, le=20,
                              description="tries per API call (429 / 5xx / network) before giving up")

    @field_validator("owners")
    @classmethod
    def _owners_look_right(cls, owners: list[str]) -> list[str]:
        for owner in owners:
            if not (re.fullmatch(r"[UW][A-Z0-9]{2,}", owner) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner)):
                raise ValueError(f"{owner!r} is neither a Slack user id (U…) nor an email address")
        return owners


class OktaConnectorConfig(_ConnectorConfig):
    type: Literal["okta"]
    domain: str = Field(min_length=1, description="acme.okta.com, or a full URL such as http://127.0.0.1:9000")
    page_size: int = Field(default=200, ge=1, le=1000, description="items per page when listing")
    sync_inactive_apps: bool = Field(default=True, description="also sync apps that are not ACTIVE")
    timeout: float = Field(default=10.0, gt=0, le=300, description="seconds to wait for each answer "
                           "from Okta; a call that takes longer is retried like a 5xx")

    @field_validator("domain")
    @classmethod
    def _domain_is_usable(cls, domain: str) -> str:
        okta_base_url(domain)  # raises ValueError saying what is wrong
        return domain

    def build(self):
        from connectors.okta.client import OktaClient
        from connectors.okta.connector import OktaConnector

        client = OktaClient(okta_base_url(self.domain), self.token.get_secret_value(),
                            page_size=self.page_size, max_attempts=self.max_attempts,
                            timeout=self.timeout)
        return OktaConnector(client, sync_inactive_apps=self.sync_inactive_apps)


class CeligoConnectorConfig(_ConnectorConfig):
    type: Literal["celigo"]
    region: Literal["us", "eu"] = Field(default="us", description="the Celigo region of the account")
    base_url: str | None = Field(default=None, description="override the API URL (e.g. a sandbox)")

    def build(self):
        from connectors.celigo.client import CeligoClient, celigo_base_url
        from connectors.celigo.connector import CeligoConnector

        return CeligoConnector(CeligoClient(celigo_base_url(self.region, self.base_url),
                                            self.token.get_secret_value(), max_attempts=self.max_attempts))


class SegmentConnectorConfig(_ConnectorConfig):
    type: Literal["segment"]
    base_url: str = Field(default="https://api.segmentapis.com", description="the Public API URL "
                          "(https://eu1.api.segmentapis.com for EU workspaces)")
    page_size: int = Field(default=200, ge=1, le=200, description="items per page when listing")

    def build(self):
        from connectors.segment.client import SegmentClient
        from connectors.segment.connector import SegmentConnector

        return SegmentConnector(SegmentClient(self.base_url, self.token.get_secret_value(),
                                              page_size=self.page_size, max_attempts=self.max_attempts))


class PercipioConnectorConfig(_ConnectorConfig):
    type: Literal["percipio"]
    organization_id: str = Field(min_length=1, description="the Percipio organization UUID")
    course_ids: list[str] | None = Field(default=None, description="sync only these courses")
    base_url: str = Field(default="https://api.percipio.com", description="the API URL")

    def build(self):
        from connectors.percipio.client import PercipioClient
        from connectors.percipio.connector import PercipioConnector

        client = PercipioClient(self.base_url, self.token.get_secret_value(), self.organization_id,
                                max_attempts=self.max_attempts)
        return PercipioConnector(client, course_ids=self.course_ids)


ConnectorConfig = Annotated[
    OktaConnectorConfig | CeligoConnectorConfig | SegmentConnectorConfig | PercipioConnectorConfig,
    Field(discriminator="type")]
CONNECTOR_TYPES = ("okta", "celigo", "segment", "percipio")


class PolicyConfig(_Strict):
    durations: list[Duration] = Field(min_length=1, description="the durations a requester may pick")
    max_duration: Duration = Field(description="the longest access anyone may get; longer choices are not offered")
    approvals: int = Field(default=1, ge=1, le=10, description="distinct owners who must approve")
    max_requests_per_hour: int = Field(default=20, ge=1, description="requests one person may make per hour")
    remind_after: Duration | None = Field(default=timedelta(hours=4), description="first reminder to "
                                          "approvers of a pending request; later ones back off; null: none")
    pending_timeout: Duration = Field(default=timedelta(days=3), description="a request nobody "
                                      "decided by then times out")
    warn_before: Duration | None = Field(default=timedelta(minutes=15), description="warn the "
                                         "requester this long before the access ends; null: never")

    @model_validator(mode="after")
    def _something_offered(self) -> "PolicyConfig":
        if not any(d <= self.max_duration for d in self.durations):
            raise ValueError("no duration in `durations` is within `max_duration`")
        return self

    def to_policy(self) -> Policy:
        return Policy(tuple(self.durations), self.max_duration, self.approvals, self.max_requests_per_hour,
                      self.remind_after, self.pending_timeout, self.warn_before)


class Config(_Strict):
    connectors: dict[str, ConnectorConfig] = Field(
        min_length=1, description="the systems Latchkey grants access in, by id (shown to users)")
    policy: PolicyConfig = Field(description="what may be requested, and how it is approved")

    @field_validator("connectors")
    @classmethod
    def _ids_are_slugs(cls, connectors: dict) -> dict:
        for key in connectors:
            if not re.fullmatch(r"[a-z][a-z0-9_-]{0,31}", key):
                raise ValueError(f"connector id {key!r} must be lower-case letters, digits, - or _")
        return connectors


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _expand(node, path: str, env):
    """Replace ${VAR} in every string, naming the key when a variable is not set."""
    if isinstance(node, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
    if isinstance(node, str):
        def value_of(match: re.Match) -> str:
            if match.group(1) not in env:
                raise ConfigError(f"{path}: environment variable {match.group(1)} is not set")
            return env[match.group(1)]
        return _ENV_REF.sub(value_of, node)
    return node


def parse_config(text: str, source: str = "config", env=None) -> Config:
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with `connectors` and `policy`")
    try:
        return Config.model_validate(_expand(raw, "", os.environ if env is None else env))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{source}: " + "; ".join(_describe(e) for e in exc.errors())) from None


def load_config(path: Path, env=None) -> Config:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text, str(path), env)


def _describe(error: dict) -> str:
    loc = list(error["loc"])
    if len(loc) > 2 and loc[0] == "connectors" and loc[2] in CONNECTOR_TYPES:
        del loc[2]  # pydantic names the union member; the operator knows it as `type`
    key = ".".join(str(part) for part in loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{key}: {message}"


def load_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(f"{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"environment: {problems}") from None

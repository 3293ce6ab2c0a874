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

    slack_bot_token: SecretStr = Field(min_length=1)
    slack_signing_secret: SecretStr = Field(min_length=1)
    slack_api_url: str = "https://slack.com/api/"
    database_url: str = "sqlite:///latchkey.db"
    latchkey_config: Path = Path("latchkey.yaml")
    latchkey_sweep_seconds: float = Field(default=15.0, gt=0,
                                          description="how often the safety-net sweep runs")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        return url if url.endswith("/") else url + "/"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OktaConnectorConfig(_Strict):
    type: Literal["okta"]
    domain: str = Field(min_length=1, description="acme.okta.com, or a full URL such as http://127.0.0.1:9000")
    token: SecretStr = Field(min_length=1, description="an Okta API token (SSWS)")
    owners: list[str] = Field(min_length=1, description="Slack user ids (U…) or emails of the approvers")
    provisioning: bool = True
    sync_interval: Duration = Field(default=timedelta(minutes=15))
    page_size: int = Field(default=200, ge=1, le=1000)
    max_attempts: int = Field(default=5, ge=1, le=20,
                              description="tries per API call (429 / 5xx / network) before giving up")

    @field_validator("domain")
    @classmethod
    def _domain_is_usable(cls, domain: str) -> str:
        okta_base_url(domain)  # raises ValueError saying what is wrong
        return domain

    @field_validator("owners")
    @classmethod
    def _owners_look_right(cls, owners: list[str]) -> list[str]:
        for owner in owners:
            if not (re.fullmatch(r"[UW][A-Z0-9]{2,}", owner) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner)):
                raise ValueError(f"{owner!r} is neither a Slack user id (U…) nor an email address")
        return owners


ConnectorConfig = OktaConnectorConfig  # one type today; a discriminated union as more arrive


class PolicyConfig(_Strict):
    durations: list[Duration] = Field(min_length=1)
    max_duration: Duration
    approvals: int = Field(default=1, ge=1, le=10)

    @model_validator(mode="after")
    def _something_offered(self) -> "PolicyConfig":
        if not any(d <= self.max_duration for d in self.durations):
            raise ValueError("no duration in `durations` is within `max_duration`")
        return self

    def to_policy(self) -> Policy:
        return Policy(tuple(self.durations), self.max_duration, self.approvals)


class Config(_Strict):
    connectors: dict[str, ConnectorConfig] = Field(min_length=1)
    policy: PolicyConfig

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
    key = ".".join(str(part) for part in error["loc"]) or "(top level)"
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

"""Process settings, read from the environment and validated once at start-up.

Secrets are held as SecretStr so they never end up in a log line or a repr, and every Settings
made hands them to `masking.remember`, so that no text Latchkey stores, shows, exports or logs
can quote one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TypeVar
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.config.errors import ConfigError
from bot.config.fields import secrets_in
from bot.logs import LogFormat, LogLevel
from connectors.masking import remember


class CommonSettings(BaseSettings):
    """What every command reads from the environment: the database, and how to log."""

    model_config = SettingsConfigDict(extra="ignore")

    database_url: str = Field(default="sqlite:///latchkey.db", description="SQLite for one replica; "
                              "`postgresql+psycopg://user:password@host/db` for several")
    latchkey_log_level: Annotated[LogLevel, BeforeValidator(str.upper)] = Field(
        default="INFO", description="how much to log")
    latchkey_log_format: LogFormat = Field(
        default="text", description="`json`: one JSON object per line, with the Slack request id")

    @model_validator(mode="after")
    def _remember_secrets(self) -> CommonSettings:
        # Every command's settings, the Slack secrets of serve's included (secrets_in reads
        # every field of the subclass), and the database password.
        remember([*secrets_in(self), urlsplit(self.database_url).password])
        return self


class Settings(CommonSettings):
    """Process settings of `serve`, `check` and `sync`, read from environment variables of the
    same name."""

    slack_bot_token: SecretStr = Field(min_length=1, description="the Bot User OAuth Token, `xoxb-…`")
    slack_signing_secret: SecretStr = Field(
        min_length=1, description="the app's Signing Secret: verifies that HTTP requests come from Slack")
    slack_app_token: SecretStr | None = Field(
        default=None, description="an app-level token (`xapp-…`, scope `connections:write`): when set, "
        "Latchkey connects out to Slack over Socket Mode instead of receiving requests over HTTP")
    slack_api_url: str = Field(default="https://slack.com/api/", description="Slack Web API base URL "
                               "(the demo and the tests point it at the sandbox)")
    latchkey_config: Path = Field(default=Path("latchkey.yaml"), description="path of the YAML file")
    latchkey_sweep_seconds: float = Field(default=15.0, gt=0,
                                          description="how often the safety-net sweep runs")
    latchkey_reload_seconds: float = Field(default=10.0, gt=0,
                                           description="how often the config file is checked for changes")
    latchkey_step_up_poll_seconds: float = Field(default=3.0, gt=0, description="how often "
                                                 "pending step-up pushes (Okta Verify) are checked")

    @field_validator("slack_api_url")
    @classmethod
    def _trailing_slash(cls, url: str) -> str:
        return url if url.endswith("/") else url + "/"


_Settings = TypeVar("_Settings", bound=CommonSettings)


def load_settings(kind: type[_Settings] = Settings) -> _Settings:  # type: ignore[assignment]
    """The settings of `kind` from the environment; a ConfigError names each bad variable."""
    try:
        return kind()
    except ValidationError as exc:
        problems = "; ".join(f"{str(e['loc'][0]).upper()}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"environment: {problems}") from None

"""Settings from the environment and the YAML config file, each validated once at start-up.

    errors.py             ConfigError, the one error a bad environment or file raises
    settings.py           the environment: CommonSettings, Settings, load_settings
    loading.py            the file: ${VAR} expansion, validation, messages that name the key
    file.py               Config, the file as a whole
    connector_entries.py  a connector's entry: its type's keys (connectors/registry.py) and owners
    policy.py             the `policy:` section, each setting of a rule declared once
    rulebook.py           the policy translated into the domain's RuleBook
    fields.py             value types shared by the sections, and the walk that finds secrets

Callers import from `bot.config`; the modules are how the concerns are kept apart.
"""

from bot.config.errors import ConfigError
from bot.config.fields import secrets_in
from bot.config.file import Config
from bot.config.loading import load_config, parse_config
from bot.config.settings import CommonSettings, Settings, load_settings

__all__ = ["CommonSettings", "Config", "ConfigError", "Settings", "load_config", "load_settings",
           "parse_config", "secrets_in"]

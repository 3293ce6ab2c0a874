"""Reading the YAML file: `${VAR}` replaced from the environment, then validated, with every
problem named by its key and no secret from the environment quoted in the message."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.config.errors import ConfigError
from bot.config.file import Config
from connectors.masking import mask
from connectors.registry import CONNECTOR_TYPES

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    return parse_config(text, str(path), env)


def parse_config(text: str, source: str = "config", env: Mapping[str, str] | None = None) -> Config:
    env = os.environ if env is None else env
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: expected a mapping with `connectors` and `policy`")
    try:
        return Config.model_validate(_expand(raw, "", env))
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValidationError as exc:
        problems = "; ".join(_describe(e) for e in exc.errors())
        raise ConfigError(f"{source}: " + mask_env_values(problems, text, env)) from None


def mask_env_values(message: str, text: str, env: Mapping[str, str]) -> str:
    """`message` with the value of every ${VAR} that `text` uses written back as `${VAR}`.

    Validation messages may quote a value (`'…' is neither a Slack user id …`), and the value
    may have come from a secret in the environment: the message goes to logs and the audit log.
    """
    return mask(message, also={env[name]: f"${{{name}}}" for name in set(_ENV_REF.findall(text))
                               if env.get(name)})


def _expand(node: Any, path: str, env: Mapping[str, str]) -> Any:
    """Replace ${VAR} in every string, naming the key when a variable is not set."""
    if isinstance(node, dict):
        return {k: _expand(v, f"{path}.{k}" if path else str(k), env) for k, v in node.items()}
    if isinstance(node, list):
        return [_expand(v, f"{path}[{i}]", env) for i, v in enumerate(node)]
    if isinstance(node, str):
        def value_of(match: re.Match[str]) -> str:
            if match.group(1) not in env:
                raise ConfigError(f"{path}: environment variable {match.group(1)} is not set")
            return env[match.group(1)]
        return _ENV_REF.sub(value_of, node)
    return node


def _describe(error: ErrorDetails) -> str:
    loc = list(error["loc"])
    if len(loc) > 2 and loc[0] == "connectors" and loc[2] in CONNECTOR_TYPES:
        del loc[2]  # pydantic names the union member; the operator knows it as `type`
    key = ".".join(str(part) for part in loc) or "(top level)"
    message = error["msg"].removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown key"
    return f"{key}: {message}"

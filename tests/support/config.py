"""The YAML config of a test bot, built as Python data and written with `yaml.safe_dump`, so a
test says what it changes (`approvals=2`, `rules=[...]`) and never has to get indentation right."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

from tests.support.harness import BOB

# Reminders after an hour, a timeout after eight, and a warning 15 minutes before access ends.
CHASING = {"remind_after": "1h", "pending_timeout": "8h", "warn_before": "15m"}


def config_data(okta_url: str, owners: Sequence[str] = ("alice@acme.com", BOB), approvals: Any = 1,
                durations: Sequence[str] = ("1h", "4h", "8h", "1d"), max_duration: str = "8h",
                max_attempts: int = 5, provisioning: bool = True, max_requests_per_hour: int = 20,
                connectors: dict[str, dict] | None = None, policy: dict[str, Any] | None = None,
                rules: Sequence[dict] = (), conflicts: Sequence[dict] = (), bundles: Sequence[dict] = (),
                audit_channel: str | None = None, okta_auth: dict | None = None,
                on_call: dict | None = None, reviews: Sequence[dict] = ()) -> dict[str, Any]:
    """The test config: the Okta sandbox at `okta_url` as connector `okta`, then `connectors`
    (more of them, by id); `policy` adds keys under `policy:` (e.g. `CHASING`), as do `rules`,
    `conflicts` and `bundles` when given. `approvals` may be any value, to test refusals.
    `okta_auth` is the `auth:` of the Okta connector (OAuth), instead of its API token;
    `on_call` the `on_call:` section; `reviews` the `reviews:` section."""
    credentials = {"auth": okta_auth} if okta_auth else {"token": "${OKTA_API_TOKEN}"}
    okta = {"type": "okta", "domain": okta_url, **credentials, "owners": list(owners),
            "provisioning": provisioning, "page_size": 3, "max_attempts": max_attempts}
    lists = {"rules": rules, "conflicts": conflicts, "bundles": bundles}
    data: dict[str, Any] = {
        "connectors": {"okta": okta, **(connectors or {})},
        "policy": {"durations": list(durations), "max_duration": max_duration, "approvals": approvals,
                   "max_requests_per_hour": max_requests_per_hour, **(policy or {}),
                   **{key: list(items) for key, items in lists.items() if items}},
    }
    if audit_channel:
        data["audit_channel"] = audit_channel
    if on_call:
        data["on_call"] = on_call
    if reviews:
        data["reviews"] = list(reviews)
    return data


def as_yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False)


def config_text(okta_url: str, **options) -> str:
    """`config_data(okta_url, **options)` as the YAML file Latchkey reads."""
    return as_yaml(config_data(okta_url, **options))


def edit_config(bot, okta, **options) -> None:
    """Rewrite the running bot's YAML file as `config_text(okta.url, **options)`."""
    bot.settings.latchkey_config.write_text(config_text(okta.url, **options))


def offline_config_text(owners: Sequence[str], on_call: dict | None = None, **policy) -> str:
    """A config that `parse_config` reads with no environment and no server behind it: one Okta
    connector owned by `owners` (its token written in), `policy` as the `policy:` section, and
    `on_call` as the `on_call:` section if given."""
    okta = {"type": "okta", "domain": "acme.okta.com", "token": "t0ken", "owners": list(owners)}
    return as_yaml({"connectors": {"okta": okta}, "policy": policy, **({"on_call": on_call} if on_call else {})})

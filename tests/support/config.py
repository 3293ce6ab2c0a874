"""The YAML config of a test bot."""

from __future__ import annotations

from tests.harness import BOB


def config_text(okta_url: str, owners=("alice@acme.com", BOB), approvals: int = 1,
                durations="[1h, 4h, 8h, 1d]", max_duration="8h", max_attempts: int = 5,
                provisioning: bool = True, max_requests_per_hour: int = 20, more_connectors: str = "",
                chasing: str = "", rules: str = "", top: str = "") -> str:
    """The test config; `chasing` and `rules` are YAML lines under `policy:`, `top` at the top."""
    return f"""
connectors:
  okta:
    type: okta
    domain: {okta_url}
    token: ${{OKTA_API_TOKEN}}
    owners: [{", ".join(owners)}]
    provisioning: {str(provisioning).lower()}
    page_size: 3
    max_attempts: {max_attempts}
{more_connectors}
policy:
  durations: {durations}
  max_duration: {max_duration}
  approvals: {approvals}
  max_requests_per_hour: {max_requests_per_hour}
{chasing}{rules}
{top}"""


def rule(text: str) -> str:
    """`text`, YAML list items of rules, as the `rules:` lines under `policy:`."""
    return "  rules:\n" + "\n".join("    " + line for line in text.strip("\n").splitlines()) + "\n"


CHASING = """  remind_after: 1h
  pending_timeout: 8h
  warn_before: 15m
"""


def edit_config(bot, okta, **config) -> None:
    """Rewrite the bot's YAML file as `config_text(**config)` would."""
    bot.settings.latchkey_config.write_text(config_text(okta.url, **config))

"""`latchkey check`: is this deployment able to work?  Says what is wrong before a user finds out.

It validates the environment and the YAML file, reaches the database, asks Slack who the token
belongs to (`auth.test`), asks every connector what its credentials allow (`capabilities()`),
and asks the on-call services who is on call for each schedule and policy the rules name.
The exit status is 0 only when nothing is wrong, so it can gate a rollout as an init container.
It changes nothing: no migration, no sync, no message.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from slack_sdk.errors import SlackApiError

from bot.config import Config, ConfigError, Settings, load_config, load_settings
from bot.exits import ExitStatus
from connectors.masking import mask

OK, INFO, PROBLEM = "ok", "info", "problem"


@dataclass(frozen=True)
class Finding:
    subject: str  # "config", "database", "slack", or a connector id
    what: str  # e.g. "auth.test", "sync users and groups"
    status: str  # OK, INFO or PROBLEM
    detail: str = ""


def run_checks(settings: Settings | None = None, config: Config | None = None) -> list[Finding]:
    findings: list[Finding] = []
    try:
        settings = settings or load_settings()
        config = config or load_config(settings.latchkey_config)
    except ConfigError as exc:
        return [Finding("config", "environment and YAML file", PROBLEM, str(exc))]
    connectors = ", ".join(f"{cid} ({c.type})" for cid, c in config.connectors.items())
    findings.append(Finding("config", str(settings.latchkey_config), OK, f"connectors: {connectors}"))
    findings += _guard("database", "connect", lambda: _database(settings))
    findings += _guard("slack", "auth.test", lambda: _slack(settings))
    for channel in _approval_channels(config):
        findings += _guard("slack", f"approval channel {channel}",
                           lambda c=channel: _approval_channel(settings, c))
    for connector_id, connector_config in config.connectors.items():
        findings += _guard(connector_id, "capabilities", lambda c=connector_config: _connector(c))
    if config.on_call:
        findings += _guard("on_call", "who is on call", lambda: _on_call(config))
    return findings


def _guard(subject: str, what: str, check: Callable[[], list[tuple[str, str, str]]]) -> list[Finding]:
    """Run one check; anything it raises is a problem reported in its row, not a crash."""
    try:
        return [Finding(subject, *row) for row in check()]
    except Exception as exc:  # every failure is a finding to show
        return [Finding(subject, what, PROBLEM, _reason(exc))]


def _database(settings: Settings) -> list[tuple[str, str, str]]:
    from alembic.script import ScriptDirectory

    from storage.engine import alembic_config, current_revision, make_engine

    engine = make_engine(settings.database_url)
    try:
        revision = current_revision(engine)
        head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    finally:
        engine.dispose()
    rows = [("connect", OK, engine.url.render_as_string(hide_password=True))]
    if revision == head:
        rows.append(("schema", OK, f"at revision {head}"))
    else:
        rows.append(("schema", INFO, f"at revision {revision or 'none'}; `latchkey serve` or "
                     f"`latchkey db upgrade` will bring it to {head}"))
    return rows


def _slack(settings: Settings) -> list[tuple[str, str, str]]:
    from bot.slack.app import web_client

    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    answer = client.auth_test()
    rows = [("auth.test", OK, f"workspace {answer.get('team')} ({answer.get('team_id')}), "
             f"bot @{answer.get('user')} ({answer.get('user_id')})")]
    app_token = settings.slack_app_token and settings.slack_app_token.get_secret_value()
    if not app_token:
        rows.append(("mode", INFO, "HTTP: Slack must reach POST /slack/events"))
    elif not app_token.startswith("xapp-"):
        rows.append(("mode", PROBLEM, "SLACK_APP_TOKEN is not an app-level token (xapp-…)"))
    else:
        # Issues a one-time WebSocket URL without connecting: proves the token and its scope.
        client.apps_connections_open(app_token=app_token)
        rows.append(("mode", OK, "Socket Mode: the app-level token may open connections"))
    return rows


def _approval_channels(config: Config) -> list[str]:
    rules = config.policy.to_rulebook()
    return sorted({rule.notify.channel for rule in (rules.default, *rules.rules)
                   if rule.notify.in_channel and rule.notify.channel})


def _approval_channel(settings: Settings, channel: str) -> list[tuple[str, str, str]]:
    """Whether requests can be posted in the channel: it exists and the app is in it."""
    from bot.slack.app import web_client

    client = web_client(settings.slack_bot_token.get_secret_value(), settings.slack_api_url)
    info = client.conversations_info(channel=channel)["channel"]
    what, name = f"approval channel {channel}", f"#{info.get('name', channel)}"
    if not info.get("is_member"):
        return [(what, PROBLEM, f"the app is not in {name}: invite it there (/invite @Latchkey); "
                 "until then its requests are asked by DM")]
    return [(what, OK, f"{name}: the app can post requests there")]


def _connector(connector_config) -> list[tuple[str, str, str]]:
    connector = connector_config.build()
    try:
        capabilities = connector.capabilities()
    finally:
        connector.close()
    provisioning = getattr(connector_config, "provisioning", False)
    rows = []
    for capability in capabilities:
        what = f"{capability.action} {capability.subject}"
        if capability.available:
            rows.append((what, OK, capability.reason))  # a note, e.g. the scopes granted
        elif capability.action == "provision" and not provisioning:
            rows.append((what, INFO, f"{capability.reason} (provisioning is off: owners get a task)"
                         if capability.reason else "provisioning is off: owners get a task"))
        else:
            rows.append((what, PROBLEM, capability.reason or "not available"))
    if not capabilities:
        rows.append(("capabilities", PROBLEM, "the connector reported nothing it can do"))
    return rows


def _on_call(config: Config) -> list[tuple[str, str, str]]:
    """Who is on call now for each lookup the rules make: a failure is a problem (on-call
    auto-approval would never approve, and on-call approvers could not be asked)."""
    from bot.config.on_call import lookups_named
    from bot.domain.errors import OnCallUnknownError
    from bot.on_call import OnCallServices

    services = OnCallServices(config.on_call, sleep=lambda seconds: None)
    rows = []
    try:
        for source, schedules, policies in sorted({found[1:] for found in lookups_named(config.policy)}):
            what = f"{source} {', '.join((*schedules, *policies))}"
            try:
                emails = sorted({shift.email for shift in services.on_call(source, schedules, policies)})
            except OnCallUnknownError as exc:
                rows.append((what, PROBLEM, str(exc)))
                continue
            rows.append((what, OK, "on call now: " + ", ".join(emails)) if emails else
                        (what, INFO, "nobody is on call now"))
    finally:
        services.close()
    return rows


def _reason(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        error = exc.response.get("error") if exc.response is not None else None
        hint = {"invalid_auth": "SLACK_BOT_TOKEN is not valid for this workspace",
                "not_authed": "SLACK_BOT_TOKEN is empty",
                "token_revoked": "SLACK_BOT_TOKEN was revoked: reinstall the app",
                "channel_not_found": "no such channel, or a private one the app is not in",
                "missing_scope": "the app lacks a scope of manifests/slack-app.yaml: reinstall it"}.get(error, "")
        return f"Slack answered {error}" + (f": {hint}" if hint else "")
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def render(findings: list[Finding], console: Console) -> None:
    table = Table(title="latchkey check", title_justify="left", show_lines=False)
    for column in ("subject", "check", "status", "detail"):
        table.add_column(column, overflow="fold")
    style = {OK: "green", INFO: "yellow", PROBLEM: "bold red"}
    for f in findings:
        table.add_row(escape(f.subject), escape(f.what), f"[{style[f.status]}]{f.status}[/]",
                      escape(mask(f.detail)))
    console.print(table)
    problems = [f for f in findings if f.status == PROBLEM]
    if problems:
        console.print(f"[bold red]{len(problems)} problem(s):[/] "
                      + escape(mask("; ".join(f"{f.subject} {f.what}: {f.detail}" for f in problems))))
    else:
        console.print("[green]all checks passed[/]")


def main(console: Console | None = None) -> ExitStatus:
    """Run every check, print the table, and return the exit status: OK only if all is well,
    USAGE when the environment or the YAML file cannot be used, else FAILED."""
    findings = run_checks()
    render(findings, console or Console(width=140))
    problems = {f.subject for f in findings if f.status == PROBLEM}
    if "config" in problems:
        return ExitStatus.USAGE
    return ExitStatus.FAILED if problems else ExitStatus.OK

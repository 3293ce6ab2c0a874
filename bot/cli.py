"""The `latchkey` command: serve · check · demo · sync · db upgrade."""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
from datetime import UTC

import typer

from bot.config import ConfigError, load_config, load_settings
from storage.engine import upgrade as upgrade_schema

cli = typer.Typer(help="Latchkey: just-in-time access, approved in Slack.", no_args_is_help=True,
                  add_completion=False)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db, name="db")
audit = typer.Typer(help="The audit log.", no_args_is_help=True)
cli.add_typer(audit, name="audit")


def _setup_logging(level: str = "INFO") -> None:
    from bot.logs import configure  # text or JSON lines; noisy libraries stay at WARNING

    try:
        configure(level, os.environ.get("LATCHKEY_LOG_FORMAT", "text"))
    except ValueError as exc:
        _fail(str(exc))


def _fail(message: str) -> None:
    typer.secho(f"latchkey: {message}", fg="red", err=True)
    raise typer.Exit(2)


@cli.command()
def serve(host: str = typer.Option("0.0.0.0", help="address to listen on"),
          port: int = typer.Option(3000, help="port to listen on"),
          log_level: str = typer.Option("INFO", envvar="LATCHKEY_LOG_LEVEL")) -> None:
    """Serve Slack (POST /slack/events, or Socket Mode when SLACK_APP_TOKEN is set) with
    /healthz, /readyz and /metrics."""
    from bot.server import make_server
    from bot.service import Service
    from bot.transport import describe, socket_mode_handler

    _setup_logging(log_level)
    settings, config = _load()
    service = Service(settings, config)
    service.start()
    socket = socket_mode_handler(service)  # None: Slack posts to us over HTTP
    server = make_server(service, host, port, slack_http=socket is None)
    try:
        if socket is not None:
            socket.connect()  # returns at once; the client reconnects by itself from then on
    except Exception as exc:  # e.g. an app-level token Slack refuses
        service.stop()
        _fail(f"cannot connect to Slack over Socket Mode: {exc}")
    logging.getLogger("latchkey").info(describe(socket, host, server.effective_port))

    def stop(*_):
        threading.Thread(target=_shut_down, args=(server,), daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except OSError:  # the listening socket closed under us on shutdown
        pass
    finally:
        if socket is not None:
            socket.close()
        service.stop()


def _shut_down(server, grace: float = 5.0) -> None:
    """Stop accepting, let requests in progress finish (for up to `grace` seconds), then close
    every connection: waitress serves on while any client keeps one open (Slack, a load
    balancer and pooled clients keep them alive), so SIGTERM alone would not end the process."""
    import time

    from waitress import wasyncore

    server.close()
    deadline = time.monotonic() + grace
    while server.task_dispatcher.active_count and time.monotonic() < deadline:
        time.sleep(0.05)
    wasyncore.close_all(server._map, ignore_all=True)


@cli.command()
def check() -> None:
    """Validate the config, reach the database, Slack and every connector, and show what each
    connector can sync and provision.  Exit status 1 on any problem (usable as an init container)."""
    from bot.check import main as run_checks

    _setup_logging("WARNING")
    raise typer.Exit(run_checks())


@cli.command()
def demo(minutes: int = typer.Option(1, min=1, help="how long the demo access lasts"),
         fast: bool = typer.Option(False, help="jump the bot's clock to the expiry instead of waiting")) -> None:
    """Play one whole story against local stand-ins for Slack and Okta: no workspace needed."""
    from bot.demo import run_demo

    _setup_logging("WARNING")
    sys.exit(run_demo(minutes, fast))


@cli.command()
def sync(connector: str = typer.Argument(None, help="connector id; all connectors when omitted")) -> None:
    """Sync connector catalogs into the database now, with progress, and report drift."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from bot.service import Service

    _setup_logging("WARNING")
    settings, config = _load()
    chosen = [connector] if connector else list(config.connectors)
    if unknown := [c for c in chosen if c not in config.connectors]:
        _fail(f"no connector {unknown[0]!r} in {settings.latchkey_config} (have: {', '.join(config.connectors)})")
    service = Service(settings, config)
    upgrade_schema(service.engine)
    failed = False
    try:
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TextColumn("{task.completed:>8} items")) as bar:
            for connector_id in chosen:
                task = bar.add_task(f"{connector_id}: starting", total=None)

                def progress(what: str, count: int, task=task, connector_id=connector_id) -> None:
                    bar.update(task, advance=count, description=f"{connector_id}: {what}")
                try:
                    summary = service.sync(connector_id, progress, raise_errors=True)
                except Exception as exc:  # one broken connector must not hide the others' results
                    failed = True
                    bar.update(task, description=f"[red]{connector_id}: failed: {exc}")
                    continue
                bar.update(task, description=f"[green]{connector_id}: {summary.entitlements} "
                           f"entitlements, {summary.accounts} accounts, {summary.holdings} grants")
    finally:
        service.stop()
    raise typer.Exit(1 if failed else 0)


def _load():
    try:
        settings = load_settings()
        return settings, load_config(settings.latchkey_config)
    except ConfigError as exc:
        _fail(str(exc))


@audit.command("export")
def audit_export(since: str = typer.Option(..., help="2026-11-01, 2026-11-01T09:00, or a span back: 7d"),
                 until: str = typer.Option(None, help="end (exclusive), same forms as --since"),
                 fmt: str = typer.Option("json", "--format", help="json (one object per line) or csv"),
                 output: typer.FileTextWrite = typer.Option("-", help="file to write; - for stdout")) -> None:
    """Export the audit log for a SIEM or an auditor."""
    import os
    from datetime import datetime

    from bot import audit_export as export
    from storage.engine import make_engine
    from storage.repositories import AuditLog

    if fmt not in ("json", "csv"):
        _fail(f"--format must be json or csv, not {fmt!r}")
    now = datetime.now(UTC)
    try:
        start = export.parse_since(since, now)
        end = export.parse_since(until, now) if until else None
    except ValueError as exc:
        _fail(str(exc))
    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///latchkey.db"))
    count = export.write(AuditLog(engine).stream(start, end), output, fmt)
    typer.echo(f"{count} events", err=True)


@db.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the schema migrations to DATABASE_URL."""
    import os

    from storage.engine import current_revision, make_engine, upgrade

    engine = make_engine(os.environ.get("DATABASE_URL", "sqlite:///latchkey.db"))
    upgrade(engine, revision)
    typer.echo(f"database at revision {current_revision(engine)}")


def main() -> None:
    cli()

if __name__ == "__main__":
    main()

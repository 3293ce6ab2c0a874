"""The `latchkey` command: serve · check · demo · sync · review start/report · audit export · db upgrade.

Every command exits 0 when it did its work, 1 when the run failed, and 2 for bad usage or
configuration (bot/exits.py).  All of them read their settings from the environment through
bot/config/settings.py, the same way.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version
from typing import TYPE_CHECKING, NoReturn

import typer

from bot.audit_export import ExportFormat
from bot.config import CommonSettings, Config, ConfigError, Settings, load_config, load_settings
from bot.exits import ExitStatus
from bot.logs import LogLevel, configure
from bot.review_report import ReportFormat
from storage.engine import upgrade as upgrade_schema

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

cli = typer.Typer(help="Latchkey: just-in-time access, approved in Slack.", no_args_is_help=True,
                  add_completion=False)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db, name="db")
audit = typer.Typer(help="The audit log.", no_args_is_help=True)
cli.add_typer(audit, name="audit")
review = typer.Typer(help="Access reviews (the config's `reviews:`).", no_args_is_help=True)
cli.add_typer(review, name="review")


def _show_version(asked: bool) -> None:
    if asked:
        typer.echo(f"latchkey {version('latchkey')}")
        raise typer.Exit(ExitStatus.OK)


@cli.callback()
def _options(_version: bool = typer.Option(False, "--version", callback=_show_version, is_eager=True,
                                           help="print the version and exit")) -> None:
    pass  # the options of `latchkey` itself, before any command


def _setup_logging(settings: CommonSettings, level: LogLevel | None = None) -> None:
    """Log in the format of LATCHKEY_LOG_FORMAT, at `level` or else LATCHKEY_LOG_LEVEL (both
    already validated); noisy libraries stay at WARNING."""
    configure(level or settings.latchkey_log_level, settings.latchkey_log_format)


def _fail(message: str, status: ExitStatus = ExitStatus.USAGE) -> NoReturn:
    typer.secho(f"latchkey: {message}", fg="red", err=True)
    raise typer.Exit(status)


def _environment(kind: type[CommonSettings] = Settings):
    """The settings of `kind` from the environment, or exit 2 naming each bad variable."""
    try:
        return load_settings(kind)
    except ConfigError as exc:
        _fail(str(exc))


def _load() -> tuple[Settings, Config]:
    """The settings and the YAML config of `serve`, or exit 2 saying what is wrong."""
    settings = _environment()
    try:
        return settings, load_config(settings.latchkey_config)
    except ConfigError as exc:
        _fail(str(exc))


@cli.command()
def serve(host: str = typer.Option("0.0.0.0", help="address to listen on"),
          port: int = typer.Option(3000, help="port to listen on"),
          log_level: LogLevel | None = typer.Option(None, case_sensitive=False,
                                                    help="default: LATCHKEY_LOG_LEVEL, else INFO")) -> None:
    """Serve Slack (POST /slack/events, or Socket Mode when SLACK_APP_TOKEN is set) with
    /healthz, /readyz and /metrics."""
    from bot.server import make_server
    from bot.service import Service
    from bot.transport import describe, socket_mode_handler

    settings, config = _load()
    _setup_logging(settings, log_level)
    service = Service(settings, config)
    service.start()
    socket = socket_mode_handler(service)  # None: Slack posts to us over HTTP
    server = make_server(service, host, port, slack_http=socket is None)
    try:
        if socket is not None:
            socket.connect()  # returns at once; the client reconnects by itself from then on
    except Exception as exc:  # an app-level token Slack refuses: a configuration error
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
    connector can sync and provision.  Exit status 1 on any problem, 2 when the config itself is
    unusable (usable as an init container)."""
    from bot.check import main as run_checks

    _setup_logging(_environment(CommonSettings), "WARNING")
    raise typer.Exit(run_checks())


@cli.command()
def demo(minutes: int = typer.Option(1, min=1, help="how long the demo access lasts"),
         fast: bool = typer.Option(False, help="jump the bot's clock to the expiry instead of waiting"),
         step_up: bool = typer.Option(False, "--step-up", help="then a second story: an approval "
                                      "confirmed with an Okta Verify push")) -> None:
    """Play one whole story against local stand-ins for Slack and Okta: no workspace needed."""
    try:
        from bot.demo import run_demo
    except ImportError as exc:
        if exc.name is None or exc.name.partition(".")[0] != "sandbox":
            raise
        _fail("the demo needs the local stand-ins of sandbox/, which this install (e.g. the image) "
              "does not ship: run `make demo` in a clone of the repository")

    _setup_logging(_environment(CommonSettings), "WARNING")
    sys.exit(run_demo(minutes, fast, step_up))


@cli.command()
def sync(connector: str = typer.Argument(None, help="connector id; all connectors when omitted")) -> None:
    """Sync connector catalogs into the database now, with progress, and report drift."""
    from rich.progress import Progress, SpinnerColumn, TextColumn

    from bot.service import Service

    settings, config = _load()
    _setup_logging(settings, "WARNING")
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
    raise typer.Exit(ExitStatus.FAILED if failed else ExitStatus.OK)


@review.command("start")
def review_start(name: str = typer.Argument(..., help="the name of a `reviews:` entry")) -> None:
    """Start an access review now: sync its scope, snapshot every holding in it and tell each
    reviewer.  A review of that name already open is shown, not started again."""
    from collections import Counter

    from bot.domain.errors import LatchkeyError, ReviewNotFoundError
    from bot.service import Service

    settings, config = _load()
    _setup_logging(settings, "WARNING")
    service = Service(settings, config)
    upgrade_schema(service.engine)
    try:
        reviews = service.lifecycle.reviews
        campaign = reviews.start(name)
        items = reviews.report(campaign.id).items
    except ReviewNotFoundError as exc:  # no review of that name is configured: bad usage, as in `report`
        _fail(str(exc))
    except LatchkeyError as exc:
        _fail(str(exc), ExitStatus.FAILED)
    finally:
        service.stop()
    reviewed = [item for item in items if not item.just_in_time]
    by_reviewer = Counter(item.reviewer or "(nobody: no reviewer could be found)" for item in reviewed)
    typer.echo(f"access review {campaign.name} ({campaign.id}), started "
               f"{campaign.started_at:%Y-%m-%d %H:%M} UTC, due {campaign.due_at:%Y-%m-%d %H:%M} UTC")
    typer.echo(f"{len(reviewed)} holdings of {len({i.holder_email for i in reviewed})} holders to review; "
               f"{len(items) - len(reviewed)} granted just in time, listed apart")
    for reviewer, count in sorted(by_reviewer.items(), key=lambda pair: (-pair[1], pair[0])):
        typer.echo(f"  {reviewer}: {count}")


@review.command("report")
def review_report(name: str = typer.Argument(..., help="the review's name (its latest campaign) or a campaign id"),
                  fmt: ReportFormat = typer.Option(ReportFormat.CSV, "--format", case_sensitive=False,
                                                   help="csv (one row per holding), json, or html (one "
                                                   "self-contained page)"),
                  output: typer.FileTextWrite = typer.Option("-", help="file to write; - for stdout")) -> None:
    """Write an access review's evidence: every holding, who decided what, when and why, when
    each revocation was verified, and the summary."""
    from bot import review_report as report_formats
    from bot.domain.errors import ReviewNotFoundError
    from bot.service import Service

    settings, config = _load()
    _setup_logging(settings, "WARNING")
    service = Service(settings, config)
    try:
        with _database_errors():
            report = service.lifecycle.reviews.report(name)
    except ReviewNotFoundError as exc:  # a name or id that was never started: bad usage
        _fail(str(exc))
    finally:
        service.stop()
    report_formats.write(report, output, fmt, service.clock.now())
    summary = report.summary
    typer.echo(f"{summary.items} items: {summary.decided} decided ({summary.kept} kept, {summary.revoked} "
               f"revoked), {summary.overdue} overdue; {summary.just_in_time} just in time, not reviewed",
               err=True)


@audit.command("export")
def audit_export(since: str = typer.Option(..., help="2026-11-01, 2026-11-01T09:00, or a span back: 7d"),
                 until: str = typer.Option(None, help="end (exclusive), same forms as --since"),
                 fmt: ExportFormat = typer.Option(ExportFormat.JSON, "--format", case_sensitive=False,
                                                  help="json (one object per line) or csv"),
                 output: typer.FileTextWrite = typer.Option("-", help="file to write; - for stdout")) -> None:
    """Export the audit log for a SIEM or an auditor."""
    from datetime import UTC, datetime

    from bot import audit_export as export
    from storage.audit_log import AuditLog

    now = datetime.now(UTC)
    try:
        start = export.parse_since(since, now)
        end = export.parse_since(until, now) if until else None
    except ValueError as exc:
        _fail(str(exc))
    try:  # loading them remembers the configured secrets, to mask them too, not only patterns
        load_config(load_settings().latchkey_config)
    except ConfigError:
        pass  # not serve's environment: the events were masked as they were written
    with _database() as engine:
        count = export.write(AuditLog(engine).stream(start, end), output, fmt)
    typer.echo(f"{count} events", err=True)


@db.command("upgrade")
def db_upgrade(revision: str = typer.Argument("head")) -> None:
    """Apply the schema migrations to DATABASE_URL."""
    from alembic.util import CommandError

    from storage.engine import current_revision

    with _database() as engine:
        try:
            upgrade_schema(engine, revision)
        except CommandError as exc:  # e.g. a revision that does not exist
            _fail(str(exc))
        typer.echo(f"database at revision {current_revision(engine)}")


@contextmanager
def _database() -> Iterator[Engine]:
    """The engine for DATABASE_URL, as `serve` reads it; a database error exits 1, saying why."""
    from storage.engine import make_engine

    engine = make_engine(_environment(CommonSettings).database_url)
    try:
        with _database_errors():
            yield engine
    finally:
        engine.dispose()


@contextmanager
def _database_errors() -> Iterator[None]:
    """A database error exits 1, saying why (without the password of DATABASE_URL)."""
    from sqlalchemy.exc import SQLAlchemyError

    from connectors.masking import mask

    try:
        yield
    except SQLAlchemyError as exc:
        _fail(mask(f"database: {exc}"), ExitStatus.FAILED)


def main() -> None:
    cli()


if __name__ == "__main__":
    main()

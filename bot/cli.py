"""The `latchkey` command: serve · demo · db upgrade."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import typer

from bot.config import ConfigError, load_config, load_settings

cli = typer.Typer(help="Latchkey: just-in-time access, approved in Slack.", no_args_is_help=True,
                  add_completion=False)
db = typer.Typer(help="Database schema.", no_args_is_help=True)
cli.add_typer(db, name="db")


def _setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # These libraries log request details at DEBUG; keep them out of ours whatever the level.
    for noisy in ("slack_sdk", "slack_bolt", "httpx", "httpcore", "apscheduler", "waitress.queue"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _fail(message: str) -> None:
    typer.secho(f"latchkey: {message}", fg="red", err=True)
    raise typer.Exit(2)


@cli.command()
def serve(host: str = typer.Option("0.0.0.0", help="address to listen on"),
          port: int = typer.Option(3000, help="port to listen on"),
          log_level: str = typer.Option("INFO", envvar="LATCHKEY_LOG_LEVEL")) -> None:
    """Serve Slack's HTTP endpoint (POST /slack/events) with /healthz and /readyz."""
    from bot.server import make_server
    from bot.service import Service

    _setup_logging(log_level)
    try:
        settings = load_settings()
        config = load_config(settings.latchkey_config)
    except ConfigError as exc:
        _fail(str(exc))
    service = Service(settings, config)
    service.start()
    server = make_server(service, host, port)
    logging.getLogger("latchkey").info("listening on http://%s:%s/slack/events", host, server.effective_port)

    def stop(*_):
        threading.Thread(target=server.close, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        server.run()
    except OSError:  # the listening socket closed under us on shutdown
        pass
    finally:
        service.stop()


@cli.command()
def demo(minutes: int = typer.Option(1, min=1, help="how long the demo access lasts"),
         fast: bool = typer.Option(False, help="jump the bot's clock to the expiry instead of waiting")) -> None:
    """Play one whole story against local stand-ins for Slack and Okta: no workspace needed."""
    from bot.demo import run_demo

    _setup_logging("WARNING")
    sys.exit(run_demo(minutes, fast))


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

"""Assembles Latchkey: database, connectors, lifecycle, scheduler and the Slack app.

`Service` is what `latchkey serve`, the demo and the tests run; nothing here makes decisions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from slack_bolt import App
from sqlalchemy import Engine, text

from bot.approvers import ApproverRouting
from bot.config import Config, Settings
from bot.lifecycle import Lifecycle
from bot.ports import Clock, SystemClock
from bot.scheduler import Scheduler
from bot.slack.app import build_app, web_client
from bot.slack.context import Deps
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from bot.sync import sync_catalog
from connectors.base import Connector
from connectors.okta.client import OktaClient, okta_base_url
from connectors.okta.connector import OktaConnector
from storage.engine import make_engine, upgrade
from storage.repositories import AuditLog, Catalog, Messages, People, Requests

log = logging.getLogger(__name__)


def build_connector(connector_config) -> Connector:
    if connector_config.type == "okta":
        client = OktaClient(okta_base_url(connector_config.domain),
                            connector_config.token.get_secret_value(),
                            page_size=connector_config.page_size,
                            max_attempts=connector_config.max_attempts)
        return OktaConnector(client)
    raise ValueError(f"unknown connector type {connector_config.type!r}")


@dataclass
class Service:
    settings: Settings
    config: Config
    clock: Clock = field(default_factory=SystemClock)
    engine: Engine = field(init=False)
    lifecycle: Lifecycle = field(init=False)
    scheduler: Scheduler = field(init=False)
    slack_app: App = field(init=False)

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.catalog = Catalog(self.engine)
        self.connectors = {cid: build_connector(c) for cid, c in self.config.connectors.items()}
        client = web_client(self.settings.slack_bot_token.get_secret_value(), self.settings.slack_api_url)
        self.directory = SlackDirectory(client, People(self.engine), self.clock)
        self.notifier = SlackNotifier(client, Messages(self.engine))
        self.lifecycle = Lifecycle(
            requests=Requests(self.engine), catalog=self.catalog, audit=AuditLog(self.engine),
            connectors=self.connectors,
            provisioning={cid: c.provisioning for cid, c in self.config.connectors.items()},
            policy=self.config.policy.to_policy(),
            approvers=ApproverRouting({cid: c.owners for cid, c in self.config.connectors.items()},
                                      self.directory),
            notifier=self.notifier, clock=self.clock)
        self.scheduler = Scheduler(self.lifecycle.run_due, self.clock,
                                   timedelta(seconds=self.settings.latchkey_sweep_seconds))
        self.lifecycle.wake = self.scheduler.wake_at
        self.slack_app = build_app(client, self.settings.slack_signing_secret.get_secret_value(),
                                   Deps(self.lifecycle, self.catalog, self.directory,
                                        self.lifecycle.policy))

    def start(self, migrate: bool = True) -> None:
        if migrate:
            upgrade(self.engine)
        self.scheduler.start()
        for connector_id, connector_config in self.config.connectors.items():
            self.scheduler.every(f"sync:{connector_id}", connector_config.sync_interval,
                                 lambda cid=connector_id: self.sync(cid))

    def sync(self, connector_id: str):
        try:
            return sync_catalog(connector_id, self.connectors[connector_id], self.catalog, self.clock)
        except Exception:
            log.exception("catalog sync of %s failed; the previous catalog stays in use", connector_id)
            return None

    def ready(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return self.scheduler.running

    def stop(self) -> None:
        self.scheduler.shutdown()
        self.notifier.close()
        for connector in self.connectors.values():
            connector.close()
        self.engine.dispose()

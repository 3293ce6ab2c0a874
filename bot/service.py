"""Assembles Latchkey: database, connectors, lifecycle, scheduler and the Slack app.

`Service` is what `latchkey serve`, the demo and the tests run; nothing here makes decisions.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from slack_bolt import App
from sqlalchemy import Engine, text

from bot.approvers import ApproverRouting
from bot.config import Config, Settings
from bot.domain.events import AuditAction, ConfigLoaded, ConfigRejected
from bot.drift import report_drift
from bot.feed_poller import FeedPoller
from bot.lifecycle import Lifecycle
from bot.managers import OktaManagers
from bot.metrics import (
    CATALOG_SYNC_FAILURES,
    CATALOG_SYNCING,
    OKTA_LOG_LAG,
    InstrumentedConnector,
    Metrics,
)
from bot.okta_verify import push_verifier
from bot.on_call import OnCallServices
from bot.ports import Clock, ManagerLookup, NoManagers, SystemClock
from bot.refusals import RefusedAttempts
from bot.reload import ConfigWatcher
from bot.scheduler import Scheduler
from bot.slack.app import build_app, learn_identity, web_client
from bot.slack.audit_channel import AuditChannelRelay
from bot.slack.context import Deps
from bot.slack.directory import SlackDirectory
from bot.slack.notifier import SlackNotifier
from bot.sync import Progress, sync_catalog
from bot.tickets import JiraTickets, jira_sites
from connectors.changes import change_feed
from connectors.okta.settings import OktaSettings
from storage.audit_log import AuditLog
from storage.catalog import Catalog
from storage.chat import Messages, People, SeenEvents
from storage.engine import make_engine, upgrade
from storage.feed_cursors import FeedCursors
from storage.outbox import Outbox
from storage.request_queries import RequestQueries
from storage.requests import Requests

log = logging.getLogger(__name__)


def record_config(audit: AuditLog, config: Config, now) -> None:
    """Audit the configuration a process starts with whenever it differs from the last one seen.

    Secrets are kept out: the fingerprint is taken of the config with every token masked, and
    the event names what changed by key, not by value.
    """
    shape = config.model_dump(mode="json")  # SecretStr fields dump as '**********'
    fingerprint = hashlib.sha256(json.dumps(shape, sort_keys=True).encode()).hexdigest()
    last = audit.last(AuditAction.CONFIG_LOADED)
    before = json.loads(last.detail) if last else {}
    if before.get("fingerprint") == fingerprint:
        return
    audit.append(ConfigLoaded(fingerprint=fingerprint, shape=shape,
                              changed=tuple(_changed_keys(before.get("shape"), shape))), now)


def _changed_keys(old: dict | None, new: dict) -> list[str]:
    """`connectors.<id>` and `policy` entries that differ (all of them on a first start)."""
    old = old or {}
    old_connectors, new_connectors = old.get("connectors", {}), new["connectors"]
    changed = [f"connectors.{cid}" for cid in sorted(set(old_connectors) | set(new_connectors))
               if old_connectors.get(cid) != new_connectors.get(cid)]
    return changed + (["policy"] if old.get("policy") != new["policy"] else [])


def _needs_restart(old: Config, new: Config) -> dict[str, str]:
    """Connector id → what about it changed that only a restart applies (never a value)."""
    found = {}
    for cid in sorted(set(old.connectors) | set(new.connectors)):
        before, after = old.connectors.get(cid), new.connectors.get(cid)
        if before is None or after is None:
            found[cid] = "added" if before is None else "removed"
        elif before.type != after.type:
            found[cid] = "type"
        elif keys := [k for k in type(before).model_fields
                      if k != "owners" and getattr(before, k) != getattr(after, k)]:
            found[cid] = ", ".join(keys)
    return found


WORKERS = 8  # grants and revocations in flight at once (each mostly waits on the target's API)

VERIFY_EVERY = timedelta(minutes=15)  # how often recent revocations are read back from the targets
TICKETS_EVERY = timedelta(minutes=5)
REVIEWS_EVERY = timedelta(minutes=1)  # access reviews: scheduled starts, reminders, due dates  # how often the tickets of access that ends with them are read


@dataclass
class Service:
    settings: Settings
    config: Config
    clock: Clock = field(default_factory=SystemClock)
    engine: Engine = field(init=False)
    lifecycle: Lifecycle = field(init=False)
    scheduler: Scheduler = field(init=False)
    slack_app: App = field(init=False)
    _manager_reads: InstrumentedConnector | None = field(init=False, default=None)  # Okta, for forms

    def __post_init__(self) -> None:
        self.engine = make_engine(self.settings.database_url)
        self.catalog = Catalog(self.engine)
        self.connectors = {cid: InstrumentedConnector(cid, c.build())  # counts calls and errors
                           for cid, c in self.config.connectors.items()}
        client = web_client(self.settings.slack_bot_token.get_secret_value(), self.settings.slack_api_url)
        self.directory = SlackDirectory(client, People(self.engine), self.clock)
        queries = RequestQueries(self.engine)
        self.notifier = SlackNotifier(client, Messages(self.engine), Outbox(self.engine), queries,
                                      self.clock, progress=lambda r: self.lifecycle.progress(r),
                                      name_of=self.directory.name,
                                      notify_of=lambda r: self.lifecycle.rules.named(r.rule).notify,
                                      audit=lambda event: self.lifecycle.audit.append(event, self.clock.now()))
        # Always built: with no channel configured it does nothing, and a reload may set one.
        self.audit_relay = AuditChannelRelay(self.engine, client, self.config.audit_channel, self.clock)
        self.tickets = JiraTickets(jira_sites(self.config.policy))
        self.on_call = OnCallServices(self.config.on_call)
        self.lifecycle = Lifecycle(
            requests=Requests(self.engine), queries=queries, catalog=self.catalog, audit=AuditLog(self.engine),
            connectors=self.connectors,
            provisioning={cid: c.provisioning for cid, c in self.config.connectors.items()},
            rules=self.config.policy.to_rulebook(),
            approvers=ApproverRouting({cid: c.owners for cid, c in self.config.connectors.items()},
                                      self.directory, self.on_call),
            notifier=self.notifier, clock=self.clock,
            workers=ThreadPoolExecutor(WORKERS, thread_name_prefix="worker"),
            connector_types={cid: c.type for cid, c in self.config.connectors.items()},
            tickets=self.tickets, managers=self._managers(), on_call=self.on_call,
            push=push_verifier(self.connectors),
            email_of=lambda person: self.directory.person(person).email,
            campaigns=self.config.campaigns(), sync=lambda cid: self.sync(cid, raise_errors=True),
            people_by_email=People(self.engine).ids_by_email)
        self.scheduler = Scheduler(self.lifecycle.run_due, self.clock,
                                   timedelta(seconds=self.settings.latchkey_sweep_seconds))
        self.lifecycle.wake = self.scheduler.wake_at
        self.pollers = self._feed_pollers()
        # Connector id → when this process last finished syncing it, drift checked too.
        self.synced: dict[str, datetime] = {}
        self.metrics = Metrics(self.lifecycle.queries, self.clock, self.catalog,
                               {cid: c.sync_interval for cid, c in self.config.connectors.items()})
        self.slack_app = build_app(client, self.settings.slack_signing_secret.get_secret_value(),
                                   Deps(self.lifecycle, self.catalog, self.directory,
                                        SeenEvents(self.engine),
                                        RefusedAttempts(self.lifecycle.audit, self.clock)))
        self._config_lock = threading.Lock()
        # The baseline is the file as it is now, i.e. (give or take a moment) what `config` was
        # loaded from: only a later change is applied.
        self.watcher = ConfigWatcher(self.settings.latchkey_config, self.apply_config,
                                     self._config_rejected)

    def start(self, migrate: bool = True) -> None:
        if migrate:
            upgrade(self.engine)
        record_config(self.lifecycle.audit, self.config, self.clock.now())
        threading.Thread(target=learn_identity, args=(self.slack_app,), daemon=True,
                         name="slack-identity").start()
        self.scheduler.start()
        self.notifier.start()
        self.audit_relay.start()
        for connector_id, poller in self.pollers.items():
            if self.config.connectors[connector_id].type == "okta":
                OKTA_LOG_LAG.labels(connector_id).set_function(poller.lag_seconds)
            poller.start()
        for connector_id, connector_config in self.config.connectors.items():
            self.scheduler.every(f"sync:{connector_id}", connector_config.sync_interval,
                                 lambda cid=connector_id: self.sync(cid))
        self.scheduler.every("verify-revocations", VERIFY_EVERY, self.lifecycle.verify_revocations)
        self.scheduler.every("watch-tickets", TICKETS_EVERY, self.lifecycle.watch_tickets)
        self.scheduler.every("access-reviews", REVIEWS_EVERY, self.lifecycle.reviews.run_due)
        self.scheduler.every("step-ups", timedelta(seconds=self.settings.latchkey_step_up_poll_seconds),
                             self.lifecycle.settle_step_ups)
        seen = SeenEvents(self.engine)  # Slack stops retrying an event after minutes; keep a day
        self.scheduler.every("forget-events", timedelta(hours=1),
                             lambda: seen.forget_before(self.clock.now() - timedelta(days=1)))
        self.scheduler.every("reload-config", timedelta(seconds=self.settings.latchkey_reload_seconds),
                             self.check_config)

    def _managers(self) -> ManagerLookup:
        """Who manages whom, as the first Okta connector's user profiles say; with no Okta
        connector, nobody is anyone's manager."""
        okta = next((cid for cid, c in self.config.connectors.items() if isinstance(c, OktaSettings)), None)
        if okta is None:
            return NoManagers()
        settings = self.config.connectors[okta]
        assert isinstance(settings, OktaSettings)
        # Its own client, with a form's short limits: a filer waits on the answer.
        self._manager_reads = InstrumentedConnector(okta, settings.build_for_forms())
        return OktaManagers(self._manager_reads)  # type: ignore[arg-type]  # an OktaConnector, counted

    def _feed_pollers(self) -> dict[str, FeedPoller]:
        """A poller for each connector whose target has a change feed that is turned on."""
        pollers, cursors = {}, FeedCursors(self.engine)
        for connector_id, connector_config in self.config.connectors.items():
            feed, every = change_feed(self.connectors[connector_id]), connector_config.change_feed_interval()
            if feed is not None and every > 0:
                pollers[connector_id] = FeedPoller(connector_id, feed, self.catalog, cursors,
                                                   self.lifecycle, self.clock, every, self.sync)
        return pollers

    # -- configuration reload ----------------------------------------------------------------

    def check_config(self) -> bool:
        """Apply the config file now if it changed (the scheduler does this every
        LATCHKEY_RELOAD_SECONDS); True when a new config was applied."""
        return self.watcher.check()

    def apply_config(self, new: Config) -> None:
        """Switch to a new, validated config without a restart, as far as that is possible.

        The policy (the Jira sites its rules check tickets in included), the on-call services, each connector's
        owners and `audit_channel` change at once.  A connector
        added, removed, or changed in anything but its owners (type, domain, token, provisioning,
        intervals …) needs a restart: a warning says so and the running connector keeps its old
        settings until then.  What is in force afterwards is audited by `record_config`.
        """
        with self._config_lock:
            old = self.config
            needs_restart = _needs_restart(old, new)
            if needs_restart:
                log.warning("config file %s: restart Latchkey to apply changes to connector(s) %s; "
                            "until then they keep their current settings (policy and owners are "
                            "applied now)", self.settings.latchkey_config,
                            ", ".join(f"{cid} ({what})" for cid, what in needs_restart.items()))
            connectors = {cid: c.model_copy(update={"owners": new.connectors[cid].owners})
                          if cid in new.connectors else c for cid, c in old.connectors.items()}
            effective = new.model_copy(update={"connectors": connectors})
            rules = effective.policy.to_rulebook()
            # Audited before it takes effect: if the audit log cannot be written, nothing changes
            # and the watcher tries the same file again at its next check.
            record_config(self.lifecycle.audit, effective, self.clock.now())
            self.tickets.configure(jira_sites(effective.policy))
            self.on_call.configure(effective.on_call)
            self.lifecycle.rules = rules  # requests keep their rule by name (RuleBook.named)
            self.lifecycle.campaigns = effective.campaigns()  # open campaigns keep their items
            self.lifecycle.approvers.owners = {cid: list(c.owners) for cid, c in connectors.items()}
            self.audit_relay.channel = effective.audit_channel
            self.config = effective
        log.info("applied the changed config file %s", self.settings.latchkey_config)

    def _config_rejected(self, message: str) -> None:
        """The changed file does not validate: keep the running config and say why."""
        log.error("config file rejected, the running configuration stays in force: %s", message)
        self.lifecycle.audit.append(ConfigRejected(error=message), self.clock.now())

    def sync(self, connector_id: str, progress: Progress | None = None, raise_errors: bool = False):
        """Refresh one connector's catalog, then report drift against the fresh snapshot.  A
        change feed that is followed reads on from the moment the sync began."""
        started = self.clock.now()
        try:
            with CATALOG_SYNCING.labels(connector_id).track_inprogress():
                summary = sync_catalog(connector_id, self.connectors[connector_id], self.catalog,
                                       self.clock, *([progress] if progress else []),
                                       feed_from=started if connector_id in self.pollers else None)
        except Exception as exc:
            CATALOG_SYNC_FAILURES.labels(connector_id, type(exc).__name__).inc()
            if raise_errors:
                raise
            log.exception("catalog sync of %s failed; the previous catalog stays in use", connector_id)
            return None
        report_drift(self.lifecycle, connector_id, started)
        self.synced[connector_id] = self.clock.now()
        return summary

    def ready(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return self.scheduler.running

    def stop(self) -> None:
        # Work not started yet stays in the database (approved, or expired and active) and is
        # picked up by the next start; work under way finishes.  Workers first, so that a long
        # run of the scheduler ends with them instead of working off its whole backlog.
        self.lifecycle.workers.shutdown(wait=True, cancel_futures=True)
        self.scheduler.shutdown()
        for connector_id, poller in self.pollers.items():
            poller.stop()
            if self.config.connectors[connector_id].type == "okta":
                try:
                    OKTA_LOG_LAG.remove(connector_id)  # a stopped poller's lag means nothing
                except KeyError:
                    pass  # another service of this process (a test's) removed it first
        self.notifier.close()
        self.audit_relay.stop()
        for connector in self.connectors.values():
            connector.close()
        self.tickets.close()
        if self._manager_reads is not None:
            self._manager_reads.close()
        self.on_call.close()
        self.engine.dispose()

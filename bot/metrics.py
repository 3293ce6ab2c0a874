"""Prometheus metrics for `GET /metrics`: what an operator watches to know Latchkey is keeping up.

Two kinds of numbers:

- Events this process saw (latencies, connector calls) are process-wide counters and
  histograms, prometheus_client's usual shape; sum them over replicas.
- Facts that live in the database (requests by state, work due now) are read at scrape time by
  `DatabaseCollector`, so every replica reports the same truth; take `max` over replicas, not `sum`.

Latency is measured from the request's own timestamps, which come from the injected clock, so a
histogram agrees with the audit log.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import datetime, timedelta

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily

from bot.domain.request import AccessRequest, State
from bot.ports import Clock
from connectors.base import Connector
from connectors.http import on_rate_limit_wait
from storage.catalog import Catalog
from storage.request_queries import RequestQueries

log = logging.getLogger(__name__)

_MINUTE, _HOUR = 60, 3600
APPROVAL_LATENCY = Histogram(
    "latchkey_approval_latency_seconds", "Time from a request's submission to its approval.",
    buckets=(60, 5 * _MINUTE, 15 * _MINUTE, 30 * _MINUTE, _HOUR, 2 * _HOUR, 4 * _HOUR,
             8 * _HOUR, 24 * _HOUR), registry=None)
PROVISIONING_LATENCY = Histogram(
    "latchkey_provisioning_latency_seconds", "Time from approval until the access was granted.",
    buckets=(0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 5 * _MINUTE, 15 * _MINUTE), registry=None)
REVOCATION_LAG = Histogram(
    "latchkey_revocation_lag_seconds", "Time from expiry until the access was taken back.",
    buckets=(1, 5, 15, 30, 60, 2 * _MINUTE, 5 * _MINUTE, 15 * _MINUTE, _HOUR, 4 * _HOUR),
    registry=None)
CONNECTOR_CALLS = Counter(
    "latchkey_connector_calls", "Calls to a connector, by connector id and method.",
    ["connector", "method"], registry=None)
CONNECTOR_ERRORS = Counter(
    "latchkey_connector_errors", "Connector calls that raised, by connector id, method and error.",
    ["connector", "method", "error"], registry=None)
CONNECTOR_SECONDS = Histogram(
    "latchkey_connector_call_seconds", "Duration of connector calls, retries included.",
    ["connector", "method"], buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60), registry=None)
REFUSED_ATTEMPTS = Counter(
    "latchkey_refused_attempts", "Clicks and submissions refused as probes (bot/refusals.py), by "
    "what was attempted and why it was refused; every one, also those not written to the audit log.",
    ["attempted", "refusal"], registry=None)
CATALOG_SYNCING = Gauge(
    "latchkey_catalog_sync_in_progress", "1 while this process syncs the connector's catalog.",
    ["connector"], registry=None)
CATALOG_SYNC_FAILURES = Counter(
    "latchkey_catalog_sync_failures", "Catalog syncs that failed as a whole (the previous "
    "catalog stays in use), by connector id and error.", ["connector", "error"], registry=None)
CATALOG_TYPES_SKIPPED = Counter(
    "latchkey_catalog_types_skipped", "Resource types a catalog sync skipped because listing "
    "them failed (the other types were synced), by connector id, type and error.",
    ["connector", "resource_type", "error"], registry=None)
REVOCATION_FAILURES = Counter(
    "latchkey_revocation_failures", "Revocation attempts that failed (each is tried again after "
    "a backoff), by connector id and error.", ["connector", "error"], registry=None)
RATE_LIMIT_WAITS = Histogram(
    "latchkey_connector_rate_limit_wait_seconds", "Waits after a target answered 429 (rate "
    "limited), before the call was tried again, by connector id and method.",
    ["connector", "method"], buckets=(0.5, 1, 2.5, 5, 10, 30, 60), registry=None)
OKTA_LOG_LAG = Gauge(
    "latchkey_okta_log_lag_seconds", "How far the Okta System Log poller is behind: now minus "
    "the time of the newest event it has read, by connector id.", ["connector"], registry=None)
"""Set by the Okta System Log poller, which keeps it current at every scrape (e.g. with
`OKTA_LOG_LAG.labels(connector_id).set_function(...)` reading its cursor): a poller that hangs
must show a growing lag, not the last one it wrote, or the alert on it never fires."""
_PROCESS_WIDE = (APPROVAL_LATENCY, PROVISIONING_LATENCY, REVOCATION_LAG, CONNECTOR_CALLS,
                 CONNECTOR_ERRORS, CONNECTOR_SECONDS, REFUSED_ATTEMPTS, CATALOG_SYNCING,
                 CATALOG_SYNC_FAILURES, CATALOG_TYPES_SKIPPED, REVOCATION_FAILURES,
                 RATE_LIMIT_WAITS, OKTA_LOG_LAG)

QUEUE_DEPTH_CAP = 10_000  # the gauge reads at most this many due requests per scrape


# -- the moments the use cases (bot/usecases/) report -----------------------------------------
def request_approved(request: AccessRequest) -> None:
    _observe(APPROVAL_LATENCY, request.created_at, request.decided_at)


def access_granted(request: AccessRequest) -> None:
    _observe(PROVISIONING_LATENCY, request.decided_at, request.granted_at)


def access_revoked(request: AccessRequest) -> None:
    # Ending access early ("revoke now") revokes before the expiry: no lag, not a negative one.
    _observe(REVOCATION_LAG, request.expires_at, request.revoked_at)


def revocation_failed(request: AccessRequest, error: Exception) -> None:
    REVOCATION_FAILURES.labels(request.connector_id, type(error).__name__).inc()


def _observe(histogram: Histogram, start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None:
        histogram.observe(max((end - start).total_seconds(), 0.0))


# -- connectors ------------------------------------------------------------------------------
# The connector id and method of the call in progress, for what happens deep inside it (a wait
# after a 429 in connectors/http.py knows neither).
_CALLING: ContextVar[tuple[str, str] | None] = ContextVar("latchkey_connector_call", default=None)


def _rate_limit_wait(seconds: float) -> None:
    labels = _CALLING.get()
    if labels is not None:  # outside InstrumentedConnector (`latchkey check`) nobody scrapes
        RATE_LIMIT_WAITS.labels(*labels).observe(seconds)


on_rate_limit_wait(_rate_limit_wait)


class InstrumentedConnector:
    """A connector that counts and times every public method call, then delegates.

    Wrapping here keeps connectors/ free of metrics: bot/service.py wraps each connector once.
    """

    def __init__(self, connector_id: str, inner: Connector) -> None:
        self._connector_id = connector_id
        self._inner = inner

    @property
    def inner(self) -> Connector:
        return self._inner

    def __getattr__(self, name: str):
        attribute = getattr(self._inner, name)
        if name.startswith("_") or name == "close" or not callable(attribute):
            return attribute

        def call(*args, **kwargs):
            labels = (self._connector_id, name)
            CONNECTOR_CALLS.labels(*labels).inc()
            started, calling = time.perf_counter(), _CALLING.set(labels)
            try:
                return attribute(*args, **kwargs)
            except Exception as exc:
                CONNECTOR_ERRORS.labels(*labels, type(exc).__name__).inc()
                raise
            finally:
                _CALLING.reset(calling)
                CONNECTOR_SECONDS.labels(*labels).observe(time.perf_counter() - started)

        call.__name__ = name
        return call

    def __repr__(self) -> str:
        return f"InstrumentedConnector({self._connector_id!r}, {self._inner!r})"


# -- scrape-time facts from the database --------------------------------------------------------
class DatabaseCollector:
    """Requests by state and the scheduler's queue depth, read from the database per scrape."""

    def __init__(self, requests: RequestQueries, clock: Clock) -> None:
        self._requests = requests
        self._clock = clock

    def describe(self):  # names only: registration must not touch the database
        return self._families()

    def collect(self):
        requests, due, up = self._families()
        try:
            counts = self._requests.count_by_state()
            depth = len(self._requests.due(self._clock.now(), limit=QUEUE_DEPTH_CAP))
        except Exception as exc:  # a scrape must answer even while the database is away
            log.warning("metrics: cannot read the database: %s", exc)
            up.add_metric([], 0)
            return [up]
        for state in State:
            requests.add_metric([state.value], counts.get(state.value, 0))
        due.add_metric([], depth)
        up.add_metric([], 1)
        return [requests, due, up]

    @staticmethod
    def _families():
        return (GaugeMetricFamily("latchkey_requests", "Access requests by state (database).",
                                  labels=["state"]),
                GaugeMetricFamily("latchkey_scheduler_queue_depth",
                                  "Requests due for a worker now: grants to make, access to revoke."),
                GaugeMetricFamily("latchkey_database_up",
                                  "1 if the last scrape could read the database, else 0."))


class CatalogCollector:
    """When each connector's catalog last finished syncing (database; 0: never yet), and how
    often it should (config): together they tell an alert when the catalog has gone stale."""

    def __init__(self, catalog: Catalog, sync_intervals: Mapping[str, timedelta]) -> None:
        self._catalog, self._sync_intervals = catalog, sync_intervals

    def describe(self):
        return list(self._families())

    def collect(self):
        synced_at, interval = self._families()
        for connector_id, every in self._sync_intervals.items():
            interval.add_metric([connector_id], every.total_seconds())
        try:
            synced = {cid: self._catalog.last_sync(cid) for cid in self._sync_intervals}
        except Exception as exc:  # DatabaseCollector reports the database as down
            log.warning("metrics: cannot read the catalog syncs: %s", exc)
            return [interval]
        for connector_id, sync in synced.items():
            synced_at.add_metric([connector_id], sync.finished_at.timestamp() if sync else 0)
        return [synced_at, interval]

    @staticmethod
    def _families():
        return (GaugeMetricFamily(
                    "latchkey_catalog_last_sync_timestamp_seconds", "When the connector's catalog "
                    "last finished syncing (Unix time, database); 0 while the first sync is still "
                    "running.", labels=["connector"]),
                GaugeMetricFamily(
                    "latchkey_catalog_sync_interval_seconds", "How often the connector's catalog "
                    "is synced (its `sync_interval`).", labels=["connector"]))


class Metrics:
    """One registry per service: the process-wide metrics plus this service's database."""

    def __init__(self, requests: RequestQueries, clock: Clock, catalog: Catalog | None = None,
                 sync_intervals: Mapping[str, timedelta] | None = None) -> None:
        self.registry = CollectorRegistry()
        for metric in _PROCESS_WIDE:
            self.registry.register(metric)
        self.registry.register(DatabaseCollector(requests, clock))
        if catalog is not None:
            self.registry.register(CatalogCollector(catalog, sync_intervals or {}))
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)

    def render(self) -> tuple[bytes, str]:
        """The body and content type of a `GET /metrics` answer."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST

    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """One sample's current value (for tests and `latchkey check`)."""
        return self.registry.get_sample_value(name, labels or {})

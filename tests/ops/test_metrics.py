"""`GET /metrics`: what an operator's Prometheus sees while Latchkey works."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.metrics import DatabaseCollector, InstrumentedConnector, Metrics
from bot.ports import ShiftedClock
from connectors.base import TransientError
from tests.support.harness import ALICE, MEMBERSHIP, soon
from tests.support.metrics import scrape, value
from tests.support.requests import active_request, approved
from tests.support.slack import request_access


def test_metrics_follow_a_request_from_submission_to_revocation(bot, slack, okta, clock):
    """Given a running bot, when a request is submitted, approved, granted and expires, then
    /metrics shows it by state at each step, one observation in each latency histogram, and the
    Okta calls counted under the connector's id."""
    before = scrape(bot)
    request_access(slack)
    pending = soon(lambda: (s := scrape(bot)) and value(s, "latchkey_requests", state="pending") == 1 and s)
    assert value(pending, "latchkey_requests", state="active") == 0
    assert value(pending, "latchkey_database_up") == 1

    def observed(samples, histogram: str) -> float:  # observations since the test began
        return value(samples, histogram + "_count") - value(before, histogram + "_count")

    soon(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])
    slack.click(ALICE, "approve")
    # The histogram is observed just after the state changes: wait for both.
    active = soon(lambda: (s := scrape(bot)) and value(s, "latchkey_requests", state="active") == 1
                        and observed(s, "latchkey_provisioning_latency_seconds") and s)
    for histogram in ("latchkey_approval_latency_seconds", "latchkey_provisioning_latency_seconds"):
        assert observed(active, histogram) == 1
    grants = value(active, "latchkey_connector_calls_total", connector="okta", method="grant")
    assert grants == value(before, "latchkey_connector_calls_total", connector="okta", method="grant") + 1

    clock.advance(timedelta(hours=4, seconds=1))
    lag = "latchkey_revocation_lag_seconds"
    done = soon(lambda: (s := scrape(bot)) and value(s, "latchkey_requests", state="revoked") == 1
                      and observed(s, lag) and s)
    assert observed(done, lag) == 1
    assert 0 <= value(done, lag + "_sum") - value(before, lag + "_sum") < 60
    assert value(done, "latchkey_scheduler_queue_depth") == 0
    assert value(done, "latchkey_requests", state="pending") == 0


def test_a_failed_revocation_attempt_is_counted_by_connector_and_error(bot, slack, okta, clock):
    """Given Okta refuses a removal once, when the access expires, then the failed attempt is
    counted under the connector and the error, and the retry that succeeds adds nothing."""
    labels = {"connector": "okta", "error": "PermissionDeniedError"}
    before = value(scrape(bot), "latchkey_revocation_failures_total", **labels)
    request = active_request(bot, slack)
    okta.fail(status=403, times=1, path=MEMBERSHIP, method="DELETE")
    clock.advance(timedelta(hours=5))
    soon(lambda: bot.request(request.id).attempts == 1)
    assert value(scrape(bot), "latchkey_revocation_failures_total", **labels) == before + 1
    clock.advance(timedelta(minutes=15))
    bot.service.scheduler.wake_at(clock.now())
    soon(lambda: bot.request(request.id).state == "revoked")
    assert value(scrape(bot), "latchkey_revocation_failures_total", **labels) == before + 1


def test_a_wait_after_a_429_is_observed_under_the_connector_and_method_that_waited(bot, slack, okta):
    """Given Okta answers the membership write with 429 once, when the request is granted, then
    the wait for X-Rate-Limit-Reset is one observation under okta's grant."""
    wait = "latchkey_connector_rate_limit_wait_seconds"
    labels = {"connector": "okta", "method": "grant"}
    before = scrape(bot)
    okta.rate_limit(times=1, path=MEMBERSHIP, reset_in=1)
    request = approved(bot, slack)
    soon(lambda: bot.request(request.id).state == "active")
    after = scrape(bot)
    assert value(after, wait + "_count", **labels) == value(before, wait + "_count", **labels) + 1
    assert 0 < value(after, wait + "_sum", **labels) - value(before, wait + "_sum", **labels) <= 60


def test_each_connectors_sync_interval_is_exported_beside_its_last_sync(bot):
    """Given the okta connector synced in full daily (the default while its System Log is
    followed), then /metrics says so, so that an alert can tell a stale catalog from one that
    is merely between syncs."""
    samples = scrape(bot)
    assert value(samples, "latchkey_catalog_sync_interval_seconds", connector="okta") == 24 * 3600
    assert ("latchkey_catalog_last_sync_timestamp_seconds", (("connector", "okta"),)) in samples


class _Flaky:
    def grant(self, entitlement_id, account_id):
        raise TransientError("Okta answered 503")

    def resource_types(self):
        return []

    def close(self):
        self.closed = True


def test_connector_errors_are_counted_by_connector_method_and_error(tmp_path):
    """Given a connector whose grant fails, when the wrapper is called, then the call and the
    error are counted under that connector id and the error still reaches the caller."""
    metrics = Metrics(_requests(tmp_path), ShiftedClock())
    connector = InstrumentedConnector("flaky", _Flaky())
    labels = {"connector": "flaky", "method": "grant"}
    calls = metrics.value("latchkey_connector_calls_total", labels) or 0
    errors = metrics.value("latchkey_connector_errors_total", {**labels, "error": "TransientError"}) or 0

    with pytest.raises(TransientError):
        connector.grant("group:1:member", "u1")
    assert connector.resource_types() == []
    connector.close()  # passed through, not counted

    assert metrics.value("latchkey_connector_calls_total", labels) == calls + 1
    assert metrics.value("latchkey_connector_errors_total", {**labels, "error": "TransientError"}) == errors + 1
    assert metrics.value("latchkey_connector_calls_total", {"connector": "flaky", "method": "close"}) is None


class _RequestQueries:
    def __init__(self, counts=None, due=(), broken=False):
        self.counts, self._due, self.broken = counts or {}, list(due), broken

    def count_by_state(self):
        if self.broken:
            raise ConnectionError("database is away")
        return self.counts

    def due(self, now, limit=500):
        return self._due[:limit]


def test_queue_depth_and_states_are_read_at_scrape_time():
    """Given work due in the database, when Prometheus scrapes, then the gauges show it; every
    state is present (zero included) so alerts on absent series are not needed."""
    requests = _RequestQueries({"active": 2, "pending": 1}, due=[("a", "approved"), ("b", "active")])
    collector = DatabaseCollector(requests, ShiftedClock())
    samples = {(s.name, tuple(s.labels.values())): s.value
               for family in collector.collect() for s in family.samples}
    assert samples[("latchkey_requests", ("active",))] == 2
    assert samples[("latchkey_requests", ("revoked",))] == 0
    assert samples[("latchkey_scheduler_queue_depth", ())] == 2
    assert samples[("latchkey_database_up", ())] == 1


def test_a_scrape_answers_while_the_database_is_away():
    """Given the database is unreachable, when Prometheus scrapes, then it gets
    latchkey_database_up 0 rather than an error page."""
    collector = DatabaseCollector(_RequestQueries(broken=True), ShiftedClock())
    [up] = collector.collect()
    assert up.name == "latchkey_database_up" and up.samples[0].value == 0


def _requests(tmp_path):
    from storage.engine import make_engine, upgrade
    from storage.request_queries import RequestQueries

    engine = make_engine(f"sqlite:///{tmp_path}/m.db")
    upgrade(engine)
    return RequestQueries(engine)

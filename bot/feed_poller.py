"""Follows a connector's change feed (Okta's System Log) between full syncs.

Every `every` seconds one replica (the holder of the cursor's lease, storage/feed_cursors.py)
reads the feed on from its cursor, applies the changes to the catalog in the transaction that
moves the cursor (`Catalog.apply`), then checks drift for just the requests on the memberships
that changed (bot/drift.py).  While the feed has more (a page came back full) it reads on at
once; when it is caught up it waits for the next interval.

- Rate limit: the feed's reads share a bucket with everyone who reads the log (a SIEM, say), so
  in steady state they take at most `RATE_SHARE` of the limit the target reports: on an Okta
  org allowing 120 log reads a minute, every 27.5 s even if `every` is shorter.  A 429 is waited
  out by the connector, as every call is.
- Outage: a read that fails is tried again with doubling waits (up to `MAX_BACKOFF`); the cursor
  stays, so nothing is skipped, and the lag (`lag_seconds`, now minus the time the feed has been
  applied up to) grows for an alert to see.
- Gaps: a cursor older than the feed's retention, or one the target refuses (`FeedGapError`),
  cannot be read on from; a full sync takes its place, logged and audited ("System Log gap: full
  sync"), and restarts the feed from the moment it began.  Its lease is held meanwhile, so other
  replicas do not sync too.

The first full sync writes the cursor: until then there is nothing to poll.
"""

from __future__ import annotations

import logging
import math
import secrets
import threading
from collections.abc import Callable
from datetime import timedelta

from bot.background import BackgroundLoop
from bot.domain.events import ChangeFeedGap
from bot.drift import report_changed
from bot.lifecycle import Lifecycle
from bot.ports import Clock
from connectors.base import ConnectorError, FeedGapError
from connectors.changes import ChangeFeed, pairs_of
from storage.catalog import Catalog, FeedStep
from storage.feed_cursors import FeedCursors

log = logging.getLogger(__name__)

RETENTION = timedelta(days=90)  # how long Okta keeps System Log events
OVERLAP = timedelta(minutes=1)  # a first read starts this much before the sync did (clock skew)
RATE_SHARE = 0.02  # of the feed's rate limit, at most, when caught up …
HEADROOM = 1.1  # … with room for a retry or a catch-up read
MAX_BACKOFF = 300.0  # seconds between reads while they keep failing
LEASE_FLOOR = timedelta(minutes=1)
SYNC_LEASE = timedelta(hours=1)  # held while a full sync after a gap runs


class FeedPoller(BackgroundLoop):
    """Polls one connector's change feed (see the module docstring); `poll_once()` runs one
    read on the caller's thread."""

    def __init__(self, connector_id: str, feed: ChangeFeed, catalog: Catalog,
                 cursors: FeedCursors, lifecycle: Lifecycle, clock: Clock, every: float,
                 resync: Callable[[str], object]) -> None:
        super().__init__(f"feed-{connector_id}", every)
        self.connector_id, self._feed, self._every = connector_id, feed, every
        self._catalog, self._cursors, self._lifecycle, self._clock = catalog, cursors, lifecycle, clock
        self._resync = resync  # a full sync of the connector; None when it failed
        self._holder = secrets.token_hex(8)  # this poller, in the cursor's lease
        self._pass = threading.Lock()
        self._failures = 0
        self._limit: int | None = None  # the feed's rate limit a minute, as the target last said

    def run_once(self) -> int:
        return self.poll_once()

    def poll_once(self) -> int:
        """Read and apply one page; how many changes (0 when caught up, or another replica polls,
        or the read failed), so that the loop reads on at once while the feed has more."""
        with self._pass:
            now = self._clock.now()
            cursor = self._cursors.take(self.connector_id, self._holder, now, now + self._lease())
            if cursor is None:
                return 0  # no full sync yet, or another replica polls
            if now - cursor.read_through > RETENTION:
                return self._gap(f"it was read up to {cursor.read_through:%Y-%m-%d %H:%M} UTC, "
                                 f"longer ago than the {RETENTION.days} days the log keeps")
            try:
                page = self._feed.read_changes(cursor.position, cursor.read_through - OVERLAP)
            except FeedGapError as gap:
                return self._gap(str(gap))
            except ConnectorError as exc:
                self._failed(exc)
                return 0
            self._failures, self._limit = 0, page.limit_per_minute or self._limit
            newest = min(max(page.newest or cursor.read_through, cursor.read_through), now)
            step = FeedStep(self._holder, cursor.version, page.position,
                            now if page.caught_up else newest, now + self._lease())
            if not self._catalog.apply(self.connector_id, page.changes, step):
                return 0  # a full sync restarted the feed meanwhile: read again from there
            report_changed(self._lifecycle, self.connector_id, pairs_of(page.changes), now)
            if page.changes:
                log.info("%s: applied %d change(s) from the %s", self.connector_id,
                         len(page.changes), self._feed.feed_name)
            return 0 if page.caught_up else max(len(page.changes), 1)

    def lag_seconds(self) -> float:
        """Now minus the time the feed has been applied up to (0 before the first full sync);
        read from the database, so a poller that hangs shows a growing lag."""
        try:
            cursor = self._cursors.get(self.connector_id)
        except Exception:  # a scrape must answer even while the database is away
            return math.nan
        if cursor is None:
            return 0.0
        return max((self._clock.now() - cursor.read_through).total_seconds(), 0.0)

    def stop(self, drain_for: float = 5.0) -> None:
        super().stop(drain_for)
        try:
            self._cursors.release(self.connector_id, self._holder)  # another replica polls at once
        except Exception:
            log.warning("%s: could not give up the %s lease; it runs out by itself",
                        self.connector_id, self._feed.feed_name, exc_info=True)

    # -- waiting ---------------------------------------------------------------------------
    def next_read_in(self) -> float:
        """Seconds from the end of this read to the next (unless poked): the interval, or longer
        to keep within the rate-limit share, or doubling while reads fail."""
        if self._failures:
            return min(self._every * 2 ** self._failures, MAX_BACKOFF)
        return max(self._every, self._budget())

    def _next_wait(self) -> float:
        return self.next_read_in()

    def _budget(self) -> float:
        """Seconds between reads that keep them within RATE_SHARE of the feed's rate limit."""
        return 60.0 / (RATE_SHARE * self._limit) * HEADROOM if self._limit else 0.0

    def _lease(self) -> timedelta:
        """Long enough to outlast the wait before this poller's next read."""
        return max(LEASE_FLOOR, timedelta(seconds=3 * self.next_read_in()))

    def _failed(self, exc: ConnectorError) -> None:
        self._failures += 1
        log.error("%s: cannot read the %s (%s); trying again in %.0f s, the catalog is kept "
                  "current by full syncs meanwhile", self.connector_id, self._feed.feed_name,
                  exc, self.next_read_in())

    # -- gaps ------------------------------------------------------------------------------
    def _gap(self, reason: str) -> int:
        """Replace what the feed cannot tell by a full sync, holding the lease while it runs."""
        feed, now = self._feed.feed_name, self._clock.now()
        log.warning("%s: %s gap: full sync (%s)", self.connector_id, feed, reason)
        self._cursors.take(self.connector_id, self._holder, now, now + SYNC_LEASE)
        self._lifecycle.audit.append(ChangeFeedGap(connector=self.connector_id, feed=feed,
                                                   reason=reason), now)
        if self._resync(self.connector_id) is None:  # the sync logged why; try again later
            self._failures += 1
            self._cursors.release(self.connector_id, self._holder)
        return 0

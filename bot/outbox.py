"""Delivers what the notifier stored in the outbox, in the background, until it gets through.

Rows are claimed under a lease (several replicas may each run a dispatcher), delivered in
parallel across requests and in order within one, and retried with capped backoff when the chat
service fails.  A crash between delivering and recording it means one message may be sent twice;
never that one is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from bot.background import BackgroundLoop
from bot.ports import Clock
from storage.outbox import Outbox
from storage.tables import OutboxRow

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=1)
MAX_BACKOFF = timedelta(minutes=5)


def backoff(attempt: int) -> timedelta:
    return min(timedelta(seconds=2 ** attempt), MAX_BACKOFF)


class OutboxDispatcher(BackgroundLoop):
    def __init__(self, outbox: Outbox, deliver: Callable[[OutboxRow], None], clock: Clock,
                 workers: int = 4) -> None:
        super().__init__("outbox-dispatcher", poll_every=1.0)
        self._outbox, self._deliver, self._clock = outbox, deliver, clock
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="outbox")
        # Held while a batch is claimed and handed to the pool: once stop() has closed the pool
        # under it, nothing more is claimed (a claim the pool then refused would sit under
        # its lease, a minute, after the restart).
        self._claiming, self._closed = threading.Lock(), False

    def stop(self, drain_for: float = 5.0) -> None:
        """Deliver what is due (for up to `drain_for` seconds), then stop."""
        super().stop(drain_for)
        with self._claiming:
            self._closed = True
        self._pool.shutdown(wait=True)

    def run_once(self) -> int:
        """Deliver one batch of due rows; return how many were claimed."""
        with self._claiming:
            if self._closed:
                return 0
            now = self._clock.now()
            rows = self._outbox.claim(now, now + LEASE)
            sending = [self._pool.submit(self._send, row) for row in rows]
        sent = [row.id for row, future in zip(rows, sending) if future.result()]
        # One write for the whole batch.  The next message of a request waits for it (order
        # within a request), and a crash before it means these may be sent again, never lost.
        self._outbox.delivered_all(sent, self._clock.now())
        return len(rows)

    def _send(self, row: OutboxRow) -> bool:
        """Deliver one row; True if it got through, else schedule its retry."""
        try:
            self._deliver(row)
        except Exception as exc:
            attempts = row.attempts + 1
            retry_at = self._clock.now() + backoff(attempts)
            log.warning("request %s: could not deliver %s (attempt %d, next at %s): %s",
                        row.request_id, row.kind, attempts, retry_at.isoformat(), exc)
            self._outbox.retry_later(row.id, attempts, retry_at, str(exc)[:2000])
            return False
        return True

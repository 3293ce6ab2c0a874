"""A worker thread that does one kind of background work, again and again, until stopped.

`run_once()` does one pass and returns how much it did; passes repeat while they find work,
then the thread waits for `poke()` or the next poll.  `stop()` lets the pass under way finish
(for up to `drain_for` seconds): what was not done stays in the database for the next start.
"""

from __future__ import annotations

import logging
import threading

log = logging.getLogger(__name__)


class BackgroundLoop:
    def __init__(self, name: str, poll_every: float) -> None:
        self._poll_every = poll_every
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name=name)

    def run_once(self) -> int:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()

    def poke(self) -> None:
        """Something new is waiting: do it now rather than at the next poll."""
        self._wake.set()

    def stop(self, drain_for: float = 5.0) -> None:
        if self._thread.is_alive():
            self._stopping.set()
            self._wake.set()
            self._thread.join(timeout=drain_for)

    def _next_wait(self) -> float:
        """Seconds to wait for a poke before the next pass."""
        return self._poll_every

    def _loop(self) -> None:
        while True:
            try:
                while self.run_once():
                    pass
            except Exception:  # the database or the chat service may be briefly away
                log.exception("%s failed; trying again shortly", self._thread.name)
            if self._stopping.is_set():
                return
            self._wake.wait(timeout=self._next_wait())
            self._wake.clear()

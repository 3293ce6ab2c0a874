"""APScheduler wiring only: wake the worker at the earliest deadline, sweep as a safety net.

Deadlines live in the database; this module never decides anything.  The "wake" job is moved
earlier whenever a sooner deadline appears; after every run it is set to the next deadline the
database reports.  The periodic sweep catches whatever another replica created or a restart
missed, and runs once immediately at start-up.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.background import BackgroundScheduler

from bot.ports import Clock

log = logging.getLogger(__name__)

_IDLE_RETRY = timedelta(seconds=1)  # floor between runs when a deadline is already past


class Scheduler:
    def __init__(self, run_due: Callable[[], datetime | None], clock: Clock,
                 sweep_every: timedelta) -> None:
        self._run_due = run_due
        self._clock = clock
        self._sweep_every = sweep_every
        self._run_lock = threading.Lock()
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs, so a
        # job that reschedules itself then would deadlock it: wake_at and shutdown take turns here.
        self._jobs_lock = threading.Lock()
        self._stopping = False
        self._aps = BackgroundScheduler(timezone=UTC, job_defaults={
            "coalesce": True, "max_instances": 1, "misfire_grace_time": None})

    @property
    def running(self) -> bool:
        return self._aps.running

    def start(self) -> None:
        self._aps.start()
        self._aps.add_job(self._run, "interval", seconds=self._sweep_every.total_seconds(),
                          id="sweep", next_run_time=datetime.now(UTC))

    def shutdown(self) -> None:
        with self._jobs_lock:
            self._stopping = True
        if self._aps.running:
            self._aps.shutdown(wait=True)

    def every(self, job_id: str, interval: timedelta, func: Callable[[], object]) -> None:
        """Run `func` now and then every `interval` (e.g. a connector's catalog sync)."""
        self._aps.add_job(func, "interval", seconds=interval.total_seconds(), id=job_id,
                          next_run_time=datetime.now(UTC), replace_existing=True)

    def wake_at(self, deadline: datetime, floor: timedelta = timedelta()) -> None:
        """Make sure the worker runs no later than `deadline` (given in the injected clock's time)."""
        delay = max(deadline - self._clock.now(), floor)
        run_at = datetime.now(UTC) + delay
        with self._jobs_lock:
            if self._stopping or not self._aps.running:
                return
            job = self._aps.get_job("wake")
            if job and job.next_run_time and job.next_run_time <= run_at:
                return
            self._aps.add_job(self._run, "date", run_date=run_at, id="wake", replace_existing=True)

    def _run(self) -> None:
        with self._run_lock:
            try:
                deadline = self._run_due()
            except Exception:
                log.exception("scheduled run failed; the sweep will try again")
                return
        if deadline is not None:
            self.wake_at(deadline, floor=_IDLE_RETRY if deadline <= self._clock.now() else timedelta())

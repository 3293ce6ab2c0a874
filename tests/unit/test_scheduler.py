"""The scheduler stops cleanly even while a run is rescheduling itself."""

import threading
from datetime import timedelta

from bot.ports import ShiftedClock
from bot.scheduler import Scheduler


class StallingClock(ShiftedClock):
    """Stalls the run thread when it reads the time to reschedule, until shutdown has begun."""

    def __init__(self) -> None:
        super().__init__()
        self.reads_after_run = None  # counts reads once run_due has returned
        self.stalled, self.release = threading.Event(), threading.Event()

    def now(self):
        if self.reads_after_run is not None and threading.current_thread().name != "MainThread":
            self.reads_after_run += 1
            if self.reads_after_run == 2:  # the read inside wake_at, before it touches the jobs
                self.stalled.set()
                self.release.wait(5)
        return super().now()


def test_shutdown_while_a_run_reschedules_itself_does_not_hang():
    clock = StallingClock()

    def run_due():
        deadline = clock.now() + timedelta(minutes=5)
        clock.reads_after_run = 0
        return deadline  # the run then asks to be woken again

    scheduler = Scheduler(run_due, clock, sweep_every=timedelta(hours=1))
    scheduler.start()
    assert clock.stalled.wait(5)

    stopper = threading.Thread(target=scheduler.shutdown)
    stopper.start()
    stopper.join(0.2)  # let shutdown take APScheduler's locks while the run is stalled
    clock.release.set()
    stopper.join(10)

    assert not stopper.is_alive(), "shutdown deadlocked with a run that rescheduled itself"
    assert not scheduler.running

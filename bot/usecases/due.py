"""The due-work loop: find what is due now (grants, revocations, reminders, warnings), act on it
on the workers, and tell the scheduler when to run next."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Executor, Future, wait
from datetime import datetime, timedelta
from typing import Any, TypeVar

from bot.domain.events import Expired
from bot.domain.request import AccessRequest, State, Step, advance
from bot.ports import DueScan
from bot.usecases.bundles import Bundles
from bot.usecases.chase import Chase
from bot.usecases.core import LEASE, Core
from bot.usecases.provision import Provision
from bot.usecases.revoke import Revoke
from connectors.base import ConnectorError

log = logging.getLogger(__name__)

DUE_BATCH = 32  # requests read per round of run_due(); rounds repeat until nothing new is due
GATHER = timedelta(seconds=0.25)  # least time between runs that revoke (see run_due)

T = TypeVar("T")


class Inline(Executor):
    """Runs each task at once on the caller's thread (the default: one request at a time)."""

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


class Due:
    def __init__(self, core: Core, scan: DueScan, provision: Provision, revoke: Revoke, chase: Chase,
                 bundles: Bundles) -> None:
        self.core, self.scan = core, scan
        self.provision, self.revoke, self.chase, self.bundles = provision, revoke, chase, bundles

    def run_due(self) -> datetime | None:
        """Act on everything due now, on the workers; return the next deadline for the scheduler.

        Each round claims a batch of due revocations in one transaction (replicas take disjoint
        batches), and looks up the rest of what is due.  Rounds repeat while they find other
        work or a full batch of revocations (a backlog is worked off at once); a round that
        revoked less asks to run again `GATHER` later at the earliest, so a stream of expiries
        is taken a few at a time.  A round that finds only what the last one could not move
        (say, a request whose step keeps failing), twice in a row, ends the run.
        """
        core = self.core
        last: list[tuple[str, str]] = []
        looked_again = False
        while True:
            lease_until = core.clock.now() + LEASE
            claimed = self.claim_revocations(lease_until)
            batch = self.scan.due(core.clock.now(), limit=DUE_BATCH, revocations=False)
            fresh = batch if batch != last else []
            if claimed or fresh:
                self._on_workers(claimed, lease_until, fresh)
                last, looked_again = batch, False
                if fresh or len(claimed) == DUE_BATCH:
                    continue
                # Revocations are keeping up: let the next ones gather for a moment rather than
                # pay a run's fixed cost (claim, look-ups, next deadline) for each expiry.
                deadline = self.scan.next_deadline()
                return deadline and max(deadline, core.clock.now() + GATHER)
            deadline = self.scan.next_deadline()
            # A deadline already past is most often an expiry that fell due since the claim
            # (dozens a second at peak): look once more rather than leave it to the scheduler,
            # which waits a second before it runs for a deadline in the past.
            if looked_again or deadline is None or deadline > core.clock.now():
                return deadline
            looked_again = True

    def claim_revocations(self, lease_until: datetime) -> list[AccessRequest]:
        """Claim a batch of expired (or abandoned) connector revocations under one lease, each
        expiry with its audit event (manual ones are claimed one by one, with their task)."""
        core = self.core
        now = core.clock.now()
        return core.requests.claim_revocations(
            now, lease_until, DUE_BATCH, revoking=advance(State.ACTIVE, Step.EXPIRE).value,
            also=lambda request: core.recorded(Expired(request_id=request.id)))

    def _on_workers(self, claimed: list[AccessRequest], lease_until: datetime,
                    due: list[tuple[str, str]]) -> None:
        """Work on a round and wait for it; the round's revocations are recorded together.
        Claims no worker started (the pool shut down) are released, so the next start takes
        them at once instead of after the lease."""
        workers: Executor = self.core.workers
        started: dict[str, Future[tuple[AccessRequest, datetime] | None]] = {}
        try:
            for request in claimed:
                started[request.id] = workers.submit(self._work_on_claimed, request)
            others = [workers.submit(self.work_on, one) for one in due]
            wait(started.values())
            self.revoke.record_revoked([result for future in started.values()
                                        if not future.cancelled() and (result := future.result())])
            for future in others:
                future.result()
        finally:
            for request in claimed:
                if request.id not in started or started[request.id].cancelled():
                    self.core.requests.release(request.id, State.REVOKING.value, lease_until)

    def _work_on_claimed(self, request: AccessRequest) -> tuple[AccessRequest, datetime] | None:
        """The connector's part of a claimed revocation, on a worker: (request, when) once the
        access is gone, None if it must be tried again later."""
        try:
            try:
                if request.is_bundle:  # nothing to take back itself: it ends with its items
                    self.bundles.settle(request.id)
                    return None
                return request, self.revoke.take_back_claimed(request)
            except ConnectorError as exc:
                self.revoke.failed(request, exc)  # tried again when the lease it sets runs out
        except Exception:  # one broken request must not starve the others
            log.exception("request %s: worker step failed", request.id)
        return None

    def work_on(self, due: tuple[str, str]) -> None:
        """Act on one request that is due, by the state it was found in."""
        request_id, state = due
        try:
            if state in (State.APPROVED, State.PROVISIONING):
                self.provision.provision(request_id)
            elif state == State.PENDING:
                self.chase.chase(request_id)
            elif not self.revoke.revoke(request_id) and state == State.ACTIVE:
                self.chase.warn_of_expiry(request_id)  # not expired yet: it was due for its warning
        except Exception:  # one broken request must not starve the others
            log.exception("request %s: worker step failed", request_id)

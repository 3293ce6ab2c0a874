"""What every use case shares: reading a request, the compare-and-set step with the event it
reports, leases, and handing a request to the workers.

Every state change goes through `step()`, which checks it against the transition table and
applies it as a compare-and-set in the database; whoever loses a race simply stops.  Slow calls
to the target system happen outside any transaction, under a lease, so a crash mid-way leaves a
request that the next worker (after a restart, or on another replica) picks up again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.domain.errors import AlreadyDecidedError, NotActiveError, NotRequesterError, RequestNotFoundError
from bot.domain.events import Claimed, Event, Expired, TaskAssigned
from bot.domain.policy import Policy
from bot.domain.request import AccessRequest, IllegalTransition, State, advance
from bot.domain.rules import RuleBook
from bot.ports import AuditStore, Clock, Move, Notifier, RequestLookup, RequestTransitions, Row

LEASE = timedelta(minutes=2)  # how long a worker may hold a request before others take over


def backoff(attempt: int) -> timedelta:
    """How long to wait before trying a grant or revocation again."""
    return timedelta(seconds=min(15 * 2 ** (attempt - 1), 600))


def _not_wired(due: tuple[str, str]) -> None:
    raise RuntimeError("Core.work_on is set by whoever builds the due-work loop (bot/lifecycle.py)")


@dataclass
class Core:
    """The ports every use case needs, and the few steps they all take through them."""

    requests: RequestTransitions
    lookup: RequestLookup
    audit: AuditStore
    notifier: Notifier
    clock: Clock
    rules: Callable[[], RuleBook]  # a reload replaces the rule book as a whole
    wake: Callable[[datetime], None]  # tell the scheduler of a new deadline
    # Where grants and revocations run: a thread pool lets connector calls overlap, and keeps
    # them off the thread that took an approval click (it must be free for the next click).
    workers: Executor
    # What a worker does with a request: the due-work loop (bot/usecases/due.py) sets it once it
    # exists, since it calls the use cases that call this.
    work_on: Callable[[tuple[str, str]], None] = field(default=_not_wired)

    def hand_over(self, request_id: str, state: State) -> None:
        """Have the workers act on a request now, as if it had fallen due."""
        self.workers.submit(self.work_on, (request_id, state))

    def get(self, request_id: str) -> AccessRequest:
        request = self.lookup.get(request_id) if isinstance(request_id, str) else None
        if request is None:
            # The id may come from a tampered click: never echo it unchecked (it could be
            # kilobytes long, or mrkdwn such as <!channel>).
            shown = request_id if re.fullmatch(r"[0-9a-f]{1,32}", str(request_id)) else "with that id"
            raise RequestNotFoundError(f"There is no request {shown}.")
        return request

    def recorded(self, event: Event, tell: bool = True) -> list[Row]:
        """What is written with `event`, in the transaction of the change it reports (so a crash
        can never keep the change and lose its record): its audit entry and, unless `tell` is
        False, the message that tells of it."""
        rows = [self.audit.entry(event, self.clock.now())] if event.action else []
        if tell and event.kind:
            rows.append(self.notifier.message(event))
        return rows

    def report(self, event: Event) -> None:
        """Write `event` on its own, with no change of state (what a read-back found)."""
        self.audit.append(event, self.clock.now(), also=[self.notifier.message(event)] if event.kind else [])
        if event.kind:
            self.notifier.wake()

    def policy(self, request: AccessRequest) -> Policy:
        return self.rules().named(request.rule).policy

    def move(self, event: Event, tell: bool = True, seen: AccessRequest | None = None,
             **changes: Any) -> AccessRequest:
        """Apply the transition `event` reports as a compare-and-set, with what is written with
        the event, all in one transaction.  `seen`: the request as the caller last read it, if
        it did (saves reading it again; the compare-and-set checks it)."""
        request = seen or self.get(event.request_id or "")
        moved, = self.requests.move_each([self.step(request, event, tell, **changes)])
        if moved is None:
            raise AlreadyDecidedError(self.get(request.id))
        if tell and event.kind:
            self.notifier.wake()
        return moved

    def step(self, request: AccessRequest, event: Event, tell: bool = True, **changes: Any) -> Move:
        """The transition `event` reports, applied to `request` as read: a compare-and-set for
        `RequestTransitions.move_each`, its target state taken from the transition table."""
        assert event.transition is not None and event.request_id == request.id, event
        try:
            target = advance(request.state, event.transition)
        except IllegalTransition:
            raise AlreadyDecidedError(request) from None  # someone or something acted first
        return request.id, request.state.value, {"state": target.value, **changes}, self.recorded(event, tell)

    def claim(self, event: Claimed | Expired, ready: State, working: State,
              task_for: Callable[[AccessRequest], list[str]]) -> bool:
        """Take a request into `working` under a lease, or take over one whose lease ran out.

        A manual request's task goes to `task_for(request)` in the claim's own transaction."""
        now, request_id = self.clock.now(), event.request_id or ""
        request = self.get(request_id)
        assert event.transition is not None
        task = self.recorded(TaskAssigned(request_id=request_id, approvers=tuple(task_for(request)),
                                          revoke=working is State.REVOKING)) if request.manual else []
        if self.requests.move(request_id, ready, state=advance(ready, event.transition).value,
                              lease_until=now + LEASE, also=[*self.recorded(event), *task]):
            self.notifier.wake()
            return True
        return self.requests.renew_lease(request_id, working.value, now, now + LEASE)

    def holder_of_active(self, request_id: str, person: str, doing: str) -> AccessRequest:
        """The request, if `person` holds it as active access (what extend and end-early need)."""
        request = self.get(request_id)
        if person != request.requester or request.extends:
            raise NotRequesterError(f"Only the person who holds the access can {doing}.")
        if request.state is not State.ACTIVE:
            raise inactive(request)
        return request


def inactive(request: AccessRequest) -> NotActiveError:
    return NotActiveError(f"Request {request.id} is not active access (it is "
                          f"{request.state.value.replace('_', ' ')}).")

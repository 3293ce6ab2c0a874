"""What every use case shares: reading a request, the compare-and-set step with its audit event
and message, leases, and handing a request to the workers.

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
from bot.domain.policy import Policy
from bot.domain.request import AccessRequest, IllegalTransition, State, Step, advance
from bot.domain.rules import RuleBook
from bot.ports import AuditStore, Clock, MessageKind, Move, Notifier, RequestStore
from bot.records import to_domain

LEASE = timedelta(minutes=2)  # how long a worker may hold a request before others take over


def backoff(attempt: int) -> timedelta:
    """How long to wait before trying a grant or revocation again."""
    return timedelta(seconds=min(15 * 2 ** (attempt - 1), 600))


def _not_wired(due: tuple[str, str]) -> None:
    raise RuntimeError("Core.work_on is set by whoever builds the due-work loop (bot/lifecycle.py)")


@dataclass
class Core:
    """The ports every use case needs, and the few steps they all take through them."""

    requests: RequestStore
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
        row = self.requests.get(request_id) if isinstance(request_id, str) else None
        if row is None:
            # The id may come from a tampered click: never echo it unchecked (it could be
            # kilobytes long, or mrkdwn such as <!channel>).
            shown = request_id if re.fullmatch(r"[0-9a-f]{1,32}", str(request_id)) else "with that id"
            raise RequestNotFoundError(f"There is no request {shown}.")
        return to_domain(row)

    def message(self, request_id: str, kind: MessageKind, **args: Any) -> object:
        return self.notifier.message(request_id, kind, **args)

    def policy(self, request: AccessRequest) -> Policy:
        return self.rules().named(request.rule).policy

    def move(self, request_id: str, step: Step, actor: str, audit: dict[str, Any] | None = None,
             tell: MessageKind | None = None, seen: AccessRequest | None = None, **changes: Any) -> AccessRequest:
        """Apply `step` as a compare-and-set, with its audit event and, if `tell` names one, the
        message that reports it, all in one transaction.  `seen`: the request as the caller
        last read it, if it did (saves reading it again; the compare-and-set checks it)."""
        request = seen or self.get(request_id)
        row, = self.requests.move_each([self.step(request, step, actor, audit, tell, **changes)])
        if row is None:
            raise AlreadyDecidedError(self.get(request_id))
        if tell:
            self.notifier.wake()
        return to_domain(row)

    def step(self, request: AccessRequest, step: Step, actor: str, audit: dict[str, Any] | None = None,
             tell: MessageKind | None = None, **changes: Any) -> Move:
        """`step` applied to `request` as read: a compare-and-set for `RequestStore.move_each`."""
        try:
            target = advance(request.state, step)
        except IllegalTransition:
            raise AlreadyDecidedError(request) from None  # someone or something acted first
        # The audit event is written in the compare-and-set's own transaction: a crash can
        # never leave a state change unrecorded.
        event = self.audit.event(self.clock.now(), actor, step.value, request.id, **(audit or {}),
                                 **({"reason": changes.get("decision_reason")} if step is Step.DENY else {}))
        also = [event] + ([self.message(request.id, tell)] if tell else [])
        return request.id, request.state.value, {"state": target.value, **changes}, also

    def claim(self, request_id: str, ready: State, step: Step, working: State,
              task_for: Callable[[AccessRequest], list[str]]) -> bool:
        """Take a request into `working` under a lease, or take over one whose lease ran out.

        A manual request's task goes to `task_for(request)` in the claim's own transaction."""
        now = self.clock.now()
        request = self.get(request_id)
        task = [self.message(request_id, MessageKind.TASK_ASSIGNED, approvers=task_for(request),
                             revoke=working is State.REVOKING)] if request.manual else []
        if self.requests.move(request_id, ready, state=advance(ready, step).value,
                              lease_until=now + LEASE,
                              also=[self.audit.event(now, "latchkey", step.value, request_id), *task]):
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

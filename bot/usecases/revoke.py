"""Expire and revoke: take back access whose time is up (or that its holder ends early), read
the target back so that revoked means gone, and later verify that it stays gone.

A revocation never gives up: a failure is retried with backoff, and the owners are alerted
after a few.  Access the requester held before the request is left in place.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import cast

from bot import metrics
from bot.domain.errors import AlreadyDecidedError
from bot.domain.events import (
    AccessReturned,
    AccessRevoked,
    EndedEarly,
    Expired,
    RevocationFailing,
    RevokeRetrying,
    TicketResolved,
)
from bot.domain.kinds import EndSessions
from bot.domain.request import AccessRequest, State
from bot.domain.rules import RuleBook
from bot.routing import Routing
from bot.slots import Slots, slot_of
from bot.usecases.bundles import Bundles
from bot.usecases.core import Core, backoff, inactive
from bot.usecases.extend import Extend
from connectors.base import Connector, ConnectorError, NotFoundError, Prior, SessionEnder

log = logging.getLogger(__name__)

ALERT_AFTER_FAILED_REVOKES = 3


class TakeBack:
    """The connector's part of a revocation, shared with a grant given up half-way."""

    def __init__(self, connectors: Mapping[str, Connector], slots: Slots,
                 rules: Callable[[], RuleBook]) -> None:
        self.connectors, self.slots, self.rules = connectors, slots, rules

    def __call__(self, request: AccessRequest) -> None:
        """Revoke through the connector, then read the target back: revoked must mean gone."""
        connector = self.connectors[request.connector_id]
        try:
            if slot := slot_of(connector, request.entitlement_id):
                # Back to what Latchkey still grants, else the baseline; settle reads it back.
                return self.slots.settle(request, connector, slot, leaving=True)  # type: ignore[arg-type]
            connector.revoke(request.entitlement_id, request.account_id,
                             Prior(held=False, detail=request.prior_detail))
            still_there = connector.has_grant(request.entitlement_id, request.account_id)
        except NotFoundError as exc:
            log.info("request %s: target object gone, nothing to revoke (%s)", request.id, exc)
            return None
        if still_there:
            raise ConnectorError("the target still shows the access after it was revoked")
        return None

    def signs_out(self, request: AccessRequest) -> bool:
        """Whether taking `request` back signs its holder out: the rule asks (`end_sessions`) and
        the target can (for a bundle: one of its items' targets; each item signs out on its own)."""
        if request.preexisting or not self.rules().named(request.rule).kind(EndSessions).enabled:
            return False
        targets = [item.connector_id for item in request.items if not item.manual] if request.is_bundle \
            else [] if request.manual else [request.connector_id]
        # A connector that can end sessions is a SessionEnder (connectors/base.py).
        return any(getattr(self.connectors.get(target), "end_sessions", None) for target in targets)

    def sign_out(self, request: AccessRequest) -> None:
        """End the holder's sessions on the target, so that one opened before keeps nothing of
        what was taken back."""
        ends = self.rules().named(request.rule).kind(EndSessions)
        cast(SessionEnder, self.connectors[request.connector_id]).end_sessions(request.account_id, ends.oauth_tokens)

    def still_held(self, request: AccessRequest) -> bool:
        """Whether the target shows the access now (never, for a connector no longer configured)."""
        connector = self.connectors.get(request.connector_id)
        return connector is not None and connector.has_grant(request.entitlement_id, request.account_id)


class Revoke:
    def __init__(self, core: Core, take_back: TakeBack, bundles: Bundles, extend: Extend,
                 routing: Routing) -> None:
        self.core, self.take_back, self.bundles = core, take_back, bundles
        self.extend, self.routing = extend, routing

    def revoke(self, request_id: str) -> AccessRequest | None:
        """Take back expired access.  None when it has not expired or another worker has it."""
        now = self.core.clock.now()
        request = self.core.get(request_id)
        if request.state == State.ACTIVE and (request.expires_at is None or request.expires_at > now):
            return None
        if not self.core.claim(Expired(request_id=request_id), State.ACTIVE, State.REVOKING,
                               task_for=self.routing.approvers_of):
            return None
        return self._revoke_claimed(self.core.get(request_id))

    def end_early(self, request_id: str, person: str) -> AccessRequest | None:
        """The requester gives the access back before its time is up."""
        core = self.core
        request = core.holder_of_active(request_id, person, "end it early")
        assert request.expires_at is not None  # active access always has an expiry
        if not core.requests.move(
                request_id, State.ACTIVE.value, expires_at=min(request.expires_at, core.clock.now()),
                also=core.recorded(EndedEarly(request_id=request_id, actor=person))):
            raise inactive(core.get(request_id))
        self.extend.close_extensions(request_id)
        return self.revoke(request_id)

    def end_with_ticket(self, request_id: str, status: str) -> AccessRequest | None:
        """The ticket the access was for is resolved: end it now, as its rule asks.  None when
        it is no longer active (ended or extended meanwhile: nothing to do)."""
        core = self.core
        request = core.get(request_id)
        if request.state is not State.ACTIVE or request.expires_at is None:
            return None
        if not core.requests.move(
                request_id, State.ACTIVE.value, expires_at=min(request.expires_at, core.clock.now()),
                also=core.recorded(TicketResolved(request_id=request_id, ticket=request.ticket, status=status))):
            return None
        self.extend.close_extensions(request_id)
        return self.revoke(request_id)

    def _revoke_claimed(self, request: AccessRequest) -> AccessRequest:
        """Finish a revocation this worker holds the lease on (`request` as claimed)."""
        if request.is_bundle:
            return self.bundles.settle(request.id)  # its items are taken back on their own
        if request.manual:
            return request  # the owners were given the take-back task with the claim
        try:
            revoked_at = self.take_back_claimed(request)
        except ConnectorError as exc:
            return self.failed(request, exc)
        finished = self.record_revoked([(request, revoked_at)])
        if not finished:
            raise AlreadyDecidedError(self.core.get(request.id))
        return finished[0]

    def take_back_claimed(self, request: AccessRequest) -> datetime:
        """The connector's part of a claimed revocation, ending the holder's sessions after it
        where the rule asks (a failure there is retried like the revocation: taking back again
        finds nothing to remove); returns when it was done."""
        if not request.preexisting:  # access the requester held before stays in place
            self.take_back(request)
            if self.take_back.signs_out(request):
                self.take_back.sign_out(request)
        return self.core.clock.now()

    def record_revoked(self, taken_back: list[tuple[AccessRequest, datetime]]) -> list[AccessRequest]:
        """Move requests whose access was taken back (at the time given) to revoked, in one
        transaction, each its own compare-and-set with its audit event and message.  Returns
        those that moved; one that another worker finished first is left as it is."""
        if not taken_back:
            return []
        core = self.core
        moved = core.requests.move_each([core.step(
            request, AccessRevoked(request_id=request.id, left_in_place=bool(request.preexisting),
                                   signed_out=self.take_back.signs_out(request)),
            tell=not request.bundle, revoked_at=revoked_at, lease_until=None, last_error=None)
            for request, revoked_at in taken_back])
        core.notifier.wake()
        finished = []
        for (request, _), after in zip(taken_back, moved, strict=True):
            if after is None:
                log.warning("request %s: its revocation was already recorded", request.id)
                continue
            finished.append(after)
            metrics.access_revoked(finished[-1])
            self.bundles.after_item_moved(finished[-1])
        return finished

    def failed(self, request: AccessRequest, exc: ConnectorError) -> AccessRequest:
        """A revocation that failed is tried again after a backoff; the owners hear of it once
        it has failed a few times."""
        core = self.core
        metrics.revocation_failed(request, exc)
        attempts = request.attempts + 1
        retry_at = core.clock.now() + backoff(attempts)
        alert = core.recorded(RevocationFailing(request_id=request.id, approvers=tuple(
            self.routing.approvers_of(request)))) if attempts == ALERT_AFTER_FAILED_REVOKES else []
        core.requests.move(request.id, State.REVOKING, attempts=attempts, lease_until=retry_at,
                           last_error=str(exc), also=[*core.recorded(RevokeRetrying(
                               request_id=request.id, attempt=attempts, error=str(exc))), *alert])
        core.notifier.wake()
        core.wake(retry_at)
        return core.get(request.id)

    def verify(self, within: timedelta = timedelta(hours=24)) -> list[str]:
        """Read back what Latchkey revoked lately, and grants it gave up (a write that timed out
        may land later); take back and report any access found.

        Returns the ids of requests whose access had come back.
        """
        core = self.core
        since, returned = core.clock.now() - within, []
        for request in core.lookup.revoked_since(since) + core.lookup.failed_since(since):
            if request.preexisting is not False or request.manual or core.lookup.open_for(
                    request.requester, request.connector_id, request.entitlement_id):
                continue  # not ours to check (or never written), or legitimately granted since
            try:
                if not self.take_back.still_held(request):
                    continue
                returned.append(request.id)
                self.take_back(request)
                outcome = "it was removed again"
            except ConnectorError as exc:
                outcome = f"removing it again failed: {exc}"
            finding = (f"The access came back after Latchkey revoked it; {outcome}."
                       if request.state is State.REVOKED else
                       f"The access appeared after Latchkey gave up granting it; {outcome}.")
            core.report(AccessReturned(request_id=request.id, outcome=outcome, finding=finding,
                                       approvers=tuple(self.routing.approvers_of(request))))
        return returned

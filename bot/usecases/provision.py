"""Provision: grant approved access through its connector, under a lease.

A manual request's owners get a task instead (tasks.py), a bundle's items are granted as
requests of their own (bundles.py), and an approved extension moves its access's expiry
(extend.py).  Transient failures are retried with backoff; a grant given up takes back whatever
may have landed meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from bot import metrics
from bot.domain.events import AccessGranted, Claimed, GrantRetrying, ProvisioningFailed, TaskAssigned
from bot.domain.request import AccessRequest, State
from bot.invariants import Invariants, conflict_text
from bot.ports import Ledger, Move
from bot.routing import Routing
from bot.slots import Slots, slot_of
from bot.usecases.bundles import Bundles
from bot.usecases.core import LEASE, Core, backoff
from bot.usecases.extend import Extend
from bot.usecases.revoke import TakeBack
from connectors.base import Connector, ConnectorError, GrantOutcome, Slot, TransientError

log = logging.getLogger(__name__)

GRANT_ATTEMPTS = 3  # rounds of (already retried) connector calls before a grant is given up


class Provision:
    def __init__(self, core: Core, connectors: Mapping[str, Connector], slots: Slots,
                 take_back: TakeBack, extend: Extend, bundles: Bundles, invariants: Invariants,
                 routing: Routing) -> None:
        self.core, self.connectors, self.slots, self.take_back = core, connectors, slots, take_back
        self.extend, self.bundles, self.invariants, self.routing = extend, bundles, invariants, routing

    def provision(self, request_id: str) -> AccessRequest | None:
        """Grant approved access.  Returns None when another worker holds the request."""
        if (extension := self.core.get(request_id)).extends:
            return self.extend.apply(extension) if extension.state is State.APPROVED else None
        request = self._claim(request_id)
        if request is None:
            return None
        if request.state is State.FAILED:  # refused at the claim: nothing was granted
            return self.bundles.after_item_moved(request)
        if request.is_bundle:  # its items are granted as requests of their own, starting now
            for item in self.core.lookup.children(request_id):
                self.core.hand_over(item.id, State.APPROVED)
            return self.bundles.settle(request_id)
        if request.manual:
            return request  # the owners were given the task with the claim
        connector = self.connectors[request.connector_id]
        try:
            slot = slot_of(connector, request.entitlement_id)  # a level shared with other grants?
            if request.preexisting is None:
                request = self._record_prior(request, connector, slot)
            self._grant(request, connector, slot)
        except ConnectorError as exc:
            return self._failed(request, exc)
        request = self.core.move(AccessGranted(request_id=request_id, preexisting=request.preexisting),
                                 tell=not request.bundle, seen=request, **self.activation(request),
                                 lease_until=None, last_error=None)
        metrics.access_granted(request)
        return self.bundles.after_item_moved(request)

    def _record_prior(self, request: AccessRequest, connector: Connector, slot: Slot | None) -> AccessRequest:
        """Record whether the account held the access before, once, before our first write, so
        a retry after a crash cannot mistake our own grant for access the requester already had."""
        prior = (self.slots.prior(request, connector, slot) if slot else  # type: ignore[arg-type]
                 connector.prior(request.entitlement_id, request.account_id))
        self.core.requests.set_once(request.id, "preexisting", prior.held, prior_detail=prior.detail)
        return self.core.get(request.id)

    def _grant(self, request: AccessRequest, connector: Connector, slot: Slot | None) -> None:
        """The connector's part: grant, or settle a single-valued slot; nothing for access the
        account held before."""
        if slot and not request.preexisting:
            self.slots.settle(request, connector, slot)  # type: ignore[arg-type]
        elif not request.preexisting and connector.grant(request.entitlement_id,
                                                         request.account_id) is GrantOutcome.ALREADY_GRANTED:
            log.info("request %s: %s was already in place", request.id, request.entitlement_id)

    def _claim(self, request_id: str) -> AccessRequest | None:
        """Take an approved request into provisioning under a lease (or take over one whose
        worker's lease ran out); None if another worker has it.  Separation of duties is checked
        again under the requester's lock: a request that would now break it fails instead, and
        nothing is granted."""
        core = self.core
        request, now = core.get(request_id), core.clock.now()
        if request.state is State.PROVISIONING:
            renewed = core.requests.renew_lease(request_id, State.PROVISIONING.value, now, now + LEASE)
            return core.get(request_id) if renewed else None
        if request.state is not State.APPROVED:
            return None
        task = core.recorded(TaskAssigned(request_id=request_id, approvers=tuple(self.routing.approvers_of(request)))
                             ) if request.manual else []

        def decide(ledger: Ledger) -> tuple[list[Any], list[Move]]:  # see bot/invariants.py
            if broken := self.invariants.uncarried(request, ledger):
                error = conflict_text(broken[0])
                return [], [core.step(request, ProvisioningFailed(request_id=request_id, error=error),
                                      tell=not request.bundle, last_error=error, lease_until=None)]
            request_id_, state, changes, also = core.step(request, Claimed(request_id=request_id),
                                                          lease_until=now + LEASE)
            return [], [(request_id_, state, changes, [*also, *task])]

        claimed, = core.requests.guarded(request.requester, decide)
        if claimed is None:
            return None
        core.notifier.wake()
        return claimed

    def activation(self, request: AccessRequest) -> dict[str, Any]:
        """Granted now, until when.  An item of a bundle has no expiry of its own until the
        whole bundle is active: it then ends with the bundle."""
        now = self.core.clock.now()
        if request.bundle:
            return dict(granted_at=now, expires_at=None, attention_at=None)
        expires_at = now + request.duration
        return dict(granted_at=now, expires_at=expires_at,
                    attention_at=self.core.policy(request).warning_at(now, expires_at))

    def _failed(self, request: AccessRequest, exc: ConnectorError) -> AccessRequest:
        """Retry a transient failure after a backoff, a few times; then give the grant up."""
        core = self.core
        attempts = request.attempts + 1
        if isinstance(exc, TransientError) and attempts < GRANT_ATTEMPTS:
            retry_at = core.clock.now() + backoff(attempts)
            core.requests.move(request.id, State.PROVISIONING, attempts=attempts,
                               lease_until=retry_at, last_error=str(exc),
                               also=core.recorded(GrantRetrying(request_id=request.id, error=str(exc))))
            core.wake(retry_at)
            return core.get(request.id)
        if isinstance(exc, TransientError) and request.preexisting is False:
            # A write that timed out or got a 5xx may have been made all the same: take back
            # whatever landed before we give up (and `Revoke.verify` looks again later).
            try:
                self.take_back(request)
            except ConnectorError as cleanup:
                log.warning("request %s: could not make sure the failed grant left nothing "
                            "behind (%s); the read-back will look again", request.id, cleanup)
        return self.bundles.after_item_moved(core.move(
            ProvisioningFailed(request_id=request.id, error=str(exc)), tell=not request.bundle,
            attempts=attempts, lease_until=None, last_error=str(exc)))

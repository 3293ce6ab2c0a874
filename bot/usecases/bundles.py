"""Bundles: several entitlements asked for, approved, started and ended as one.

An approved bundle becomes one item request per entitlement (bot/domain/derived.py `bundle_items`),
granted and revoked as requests of their own.  The bundle itself only follows them: active once
all are, failed as soon as one failed, revoked once all are gone; and once it ends, every item
still live ends with it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from bot.domain.errors import AlreadyDecidedError
from bot.domain.events import AccessGranted, AccessRevoked, ProvisioningFailed
from bot.domain.request import AccessRequest, State, Step, advance
from bot.usecases.core import Core
from bot.usecases.extend import Extend


class Bundles:
    def __init__(self, core: Core, extend: Extend, signs_out: Callable[[AccessRequest], bool]) -> None:
        self.core, self.extend = core, extend
        self.signs_out = signs_out  # whether ending the bundle signed its holder out (bot/usecases/revoke.py)

    def after_item_moved(self, request: AccessRequest) -> AccessRequest:
        """Follow-ups of a grant or revocation: tell the scheduler of a new expiry, close pending
        extensions of access that ended, and let the request's bundle move on, if it has one."""
        if request.state is State.ACTIVE and request.expires_at:
            self.core.wake(request.expires_at)
        if request.state is State.REVOKED:
            self.extend.close_extensions(request.id)
        if request.bundle:
            self.settle(request.bundle)
        return request

    def settle(self, bundle_id: str) -> AccessRequest:
        """Move a bundle on as far as its items allow: active once all are, failed as soon as
        one failed, revoked once all are gone; and end any item still live after it ended."""
        core = self.core
        bundle, now = core.get(bundle_id), core.clock.now()
        items = core.lookup.children(bundle_id)
        states = {item.state for item in items}
        try:
            if bundle.state is State.PROVISIONING and State.FAILED in states:
                failed = next(item for item in items if item.state is State.FAILED)
                error = f"{failed.entitlement_name}: {failed.last_error}"
                bundle = core.move(ProvisioningFailed(request_id=bundle_id, error=error), seen=bundle,
                                   lease_until=None, last_error=error)
            elif bundle.state is State.PROVISIONING and states == {State.ACTIVE}:
                self._activate(bundle, now)
                return core.get(bundle_id)
            if bundle.state in (State.FAILED, State.REVOKING, State.REVOKED):
                self._end_items(bundle_id, now)
            if bundle.state is State.REVOKING and states <= {State.REVOKED, State.FAILED}:
                bundle = core.move(AccessRevoked(request_id=bundle_id, signed_out=self.signs_out(bundle)),
                                   seen=bundle, revoked_at=now,
                                   lease_until=None)
        except AlreadyDecidedError as raced:  # another worker settled it first
            return raced.request
        return bundle

    def _activate(self, bundle: AccessRequest, now: datetime) -> None:
        """All items are active: so is the bundle, from now, and every item ends when it ends."""
        core = self.core
        expires_at = now + bundle.duration
        if core.requests.activate_bundle(bundle.id, dict(
                granted_at=now, expires_at=expires_at, lease_until=None, last_error=None,
                attention_at=core.policy(bundle).warning_at(now, expires_at)),
                active=advance(State.PROVISIONING, Step.ACTIVATE).value, also=[
                *core.recorded(AccessGranted(request_id=bundle.id))]):
            core.notifier.wake()
            core.wake(expires_at)

    def _end_items(self, bundle_id: str, now: datetime) -> None:
        """The bundle has ended: so do its items, now."""
        core = self.core
        if core.requests.end_children(bundle_id, now):
            core.wake(now)
            for item in core.lookup.children(bundle_id):  # as they are after the change
                if item.state == State.ACTIVE:
                    core.hand_over(item.id, State.ACTIVE)

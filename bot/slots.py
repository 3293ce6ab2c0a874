"""Single-valued slots: one level per account, shared by several entitlements (Celigo's
account-wide access level).  The invariant: such a slot is set to the highest level Latchkey
still grants on it, else to the baseline found before Latchkey's first grant there.

Two grants on one account overlap on one value, so no grant or revocation writes "its own"
level or "restores" what it found: each one recomputes the level from the database (the
requests still granting on the slot) and the baseline, recorded once before the first write
and forgotten when no grant is left.  A crash between recording the baseline and writing the
target, or a retry, therefore lands on the same level.

Two replicas may settle one slot at the same moment (one grants Administrator while the other
takes Manage back), each writing what it computed.  Rather than hold a database lock across an
HTTP call, `settle` writes, then reads the database and then the target again, and stops only
when a target read made after the database read shows the level wanted.  So the last write to
land is always checked by its writer against a database read made after it landed, and any
later change to the database comes from a worker that settles the slot itself.
"""

from __future__ import annotations

import enum
import json
from typing import Literal

from bot.domain.request import AccessRequest
from bot.ports import LiveGrants, SlotBaselineStore
from connectors.base import Connector, Prior, Slot, SlotConnector, TransientError

SETTLE_ROUNDS = 4  # write-and-look rounds before a slot that keeps changing is retried later


def slot_of(connector: Connector, entitlement_id: str) -> Slot | None:
    """The slot an entitlement lives in, or None (most entitlements: a connector without
    single-valued slots need not define `slot`)."""
    find = getattr(connector, "slot", None)
    return find(entitlement_id) if find else None


def covered(connector: Connector, slot: Slot, held: list[str]) -> bool:
    """Whether an account holding the entitlements `held` has `slot`'s level or a wider one."""
    return any(other.key == slot.key and other.rank(other.level) >= slot.rank(slot.level)
               for other in filter(None, (slot_of(connector, entitlement) for entitlement in held)))


def level_to_set(slot: Slot, baseline: str | None, granted: list[str]) -> str | None:
    """The highest of the levels Latchkey still grants, or the baseline when none is.  The
    baseline counts too: a grant never lowers a level the account had before."""
    return max([baseline, *granted], key=slot.rank)


class Slots:
    def __init__(self, grants: LiveGrants, baselines: SlotBaselineStore) -> None:
        self._grants = grants
        self._baselines = baselines

    def prior(self, request: AccessRequest, connector: SlotConnector, slot: Slot) -> Prior:
        """Record the baseline (once, before any write) and say whether the request's level IS
        the baseline: the access was held before, and Latchkey neither grants nor revokes it."""
        where = (request.connector_id, slot.key, request.account_id)
        stored = self._baselines.get(*where)
        baseline = stored.level if stored else self._baselines.record_once(
            *where, connector.slot_level(slot, request.account_id))
        if baseline == slot.level:
            self._baselines.clear_unless_granted(*where, leaving=request.id)
        # Kept with the request too, as {slot key: baseline} (the shape Celigo's own prior
        # used before slots existed), for a revocation once the stored one is gone.
        return Prior(held=baseline == slot.level, detail=json.dumps({slot.key: baseline}))

    def settle(self, request: AccessRequest, connector: SlotConnector, slot: Slot,
               leaving: bool = False) -> None:
        """Set the request's slot to the level wanted now.  `leaving`: the request is being
        taken back, so its own grant no longer counts."""
        for _ in range(SETTLE_ROUNDS):
            wanted = self._wanted(request, connector, slot, leaving)
            if wanted is None:
                return  # no baseline known at all: nothing Latchkey could put back
            level, left = wanted
            if connector.slot_level(slot, request.account_id) == level:
                if not left:
                    self._baselines.clear_unless_granted(request.connector_id, slot.key,
                                                         request.account_id, leaving=request.id)
                return
            connector.set_slot_level(slot, request.account_id, level)
        raise TransientError(f"the {slot.key} level kept changing while Latchkey set it")

    def _wanted(self, request: AccessRequest, connector: Connector, slot: Slot,
                leaving: bool) -> tuple[str | None, bool] | None:
        """(the level to set, whether any grant is left), or None when no baseline is known.

        Without a stored baseline (no grant was left, or the request predates slots), the one
        recorded with the request is used: the same value, read before the same first grant."""
        stored = self._baselines.get(request.connector_id, slot.key, request.account_id)
        baseline = stored.level if stored else _recorded_baseline(request, slot)
        if baseline is _UNKNOWN:
            return None
        granted = [other.level for grant in self._grants.granting_on(
            request.connector_id, request.account_id) if not (leaving and grant.id == request.id)
            if (other := slot_of(connector, grant.entitlement_id)) and other.key == slot.key]
        return level_to_set(slot, baseline, granted), bool(granted)


class _Unknown(enum.Enum):
    """No baseline was recorded with the request (None would be one: the account had no level)."""

    BASELINE = enum.auto()


_UNKNOWN = _Unknown.BASELINE


def _recorded_baseline(request: AccessRequest, slot: Slot) -> str | None | Literal[_Unknown.BASELINE]:
    """The baseline in the request's prior detail, or _UNKNOWN."""
    try:
        level: str | None = json.loads(request.prior_detail or "")[slot.key]
    except (ValueError, TypeError, KeyError):
        return _UNKNOWN
    return level

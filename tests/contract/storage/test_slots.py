"""Single-valued slots: the level set is the highest Latchkey still grants, else the baseline
found before its first grant, whatever the order of grants, crashes, retries and races.

The slot logic runs here against the Celigo sandbox over real HTTP and a real database (SQLite
and PostgreSQL); the level computation on its own is tests/unit/test_slots.py."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from bot.slots import Slots, slot_of
from connectors.base import Slot, TransientError
from connectors.celigo.client import CeligoClient
from connectors.celigo.connector import CeligoConnector
from sandbox.celigo import CeligoSandbox
from storage.request_queries import RequestQueries
from storage.requests import Requests
from storage.slot_baselines import SlotBaselines
from tests.support.stored import stored_request

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TOKEN = "celigo-slot-token"
LEVELS = ("monitor", "manage", "administrator")
MANAGE, ADMIN = "role:manage:assigned", "role:administrator:assigned"


# -- against the sandbox and a database ---------------------------------------------------------
@pytest.fixture
def celigo() -> Iterator[CeligoSandbox]:
    with CeligoSandbox(tokens={TOKEN: "admin"}) as server:
        yield server


@pytest.fixture
def connector(celigo) -> Iterator[CeligoConnector]:
    connector = CeligoConnector(CeligoClient(celigo.url, TOKEN, max_attempts=1))
    yield connector
    connector.close()


@pytest.fixture
def carol(celigo) -> str:
    return celigo.add_share("carol@acme.com", "Carol", "monitor")


class World:
    """The database side: requests on Carol's share, in the states the lifecycle puts them."""

    def __init__(self, engine, account: str) -> None:
        self.requests, self.baselines = Requests(engine), SlotBaselines(engine)
        self.queries = RequestQueries(engine)
        self.slots = Slots(self.queries, self.baselines)
        self.account = account

    def request(self, request_id: str, entitlement: str, state: str = "provisioning"):
        self.requests.add(stored_request(
            NOW, id=request_id, requester="U0CAROL", requester_email="carol@acme.com",
            account_id=self.account, connector_id="celigo", entitlement_id=entitlement,
            entitlement_name=entitlement, justification="work", state=state))
        return self.get(request_id)

    def get(self, request_id: str):
        return self.queries.get(request_id)

    def grant(self, connector, request) -> None:
        """What provision does: the prior (recording the baseline), then the slot's level."""
        prior = self.slots.prior(request, connector, slot_of(connector, request.entitlement_id))
        self.requests.set_once(request.id, "preexisting", prior.held, prior_detail=prior.detail)
        self.slots.settle(self.get(request.id), connector, slot_of(connector, request.entitlement_id))
        self.requests.move(request.id, "provisioning", state="active")

    def take_back(self, connector, request) -> None:
        """What revoke does: the request is revoking, so its own grant no longer counts."""
        self.requests.move(request.id, "active", state="revoking")
        self.slots.settle(request, connector, slot_of(connector, request.entitlement_id), leaving=True)
        self.requests.move(request.id, "revoking", state="revoked")

    def baseline(self) -> str | None:
        stored = self.baselines.get("celigo", "accessLevel", self.account)
        return stored.level if stored else "(none stored)"


@pytest.fixture
def world(engine, carol) -> World:
    return World(engine, carol)


def test_only_role_entitlements_share_the_access_level_slot(connector):
    """Given Celigo, then its three roles share one slot and per-integration access has none."""
    assert slot_of(connector, MANAGE) == Slot("accessLevel", "manage", LEVELS)
    assert slot_of(connector, "integration:i1:manage") is None


def test_a_failed_write_after_the_baseline_is_stored_converges_on_retry(world, connector, celigo, carol):
    """Given the baseline is stored and the share PUT then fails (a crash between the two
    writes), when the grant is tried again, then the baseline is the one found first, not
    Latchkey's own level, and the share ends at Manage; when it ends, back to monitor."""
    manage = world.request("m", MANAGE)
    slot = slot_of(connector, MANAGE)
    world.slots.prior(manage, connector, slot)
    celigo.fail(status=500, times=1, method="PUT")
    with pytest.raises(TransientError):
        world.slots.settle(manage, connector, slot)
    assert celigo.share(carol)["accessLevel"] == "monitor" and world.baseline() == "monitor"

    world.slots.settle(manage, connector, slot)  # the write lands, then the process dies
    # ... before `preexisting` was recorded: the retry asks for the prior again.
    assert world.slots.prior(manage, connector, slot).held is False
    world.grant(connector, manage)
    assert celigo.share(carol)["accessLevel"] == "manage" and world.baseline() == "monitor"

    world.take_back(connector, world.get("m"))
    assert celigo.share(carol)["accessLevel"] == "monitor"
    assert world.baseline() == "(none stored)"  # no grant left: the next one reads afresh


def test_revoking_a_lower_level_while_a_higher_one_lives_writes_nothing(world, connector, celigo, carol):
    """Given Manage then Administrator granted, when Manage is taken back, then the share stays
    Administrator without a write, and the read-back calls Manage no longer granted."""
    manage, admin = world.request("m", MANAGE), world.request("a", ADMIN)
    world.grant(connector, manage)
    world.grant(connector, admin)
    writes = len(celigo.share_writes())
    world.take_back(connector, world.get("m"))
    assert celigo.share(carol)["accessLevel"] == "administrator"
    assert len(celigo.share_writes()) == writes
    assert not connector.has_grant(MANAGE, carol)


def test_a_level_held_before_is_not_granted_nor_taken(world, connector, celigo, carol):
    """Given Carol already holds Manage outside Latchkey, when she asks for Manage, then the
    prior says held and no baseline lingers."""
    celigo.add_share("dave@acme.com")  # another share: the sandbox is not just Carol
    world.request("x", MANAGE)
    connector.set_slot_level(slot_of(connector, MANAGE), carol, "manage")
    assert world.slots.prior(world.get("x"), connector, slot_of(connector, MANAGE)).held is True
    assert world.baseline() == "(none stored)"


def test_a_revocation_racing_a_new_grant_ends_at_the_new_grant(world, connector, celigo, carol):
    """Given Manage is being taken back and computed 'monitor' just before Administrator was
    claimed, when its stale write lands after Administrator's, then it looks again and the
    share ends at Administrator, not monitor."""
    manage = world.request("m", MANAGE)
    world.grant(connector, manage)
    slot = slot_of(connector, MANAGE)
    stale_write, admin_done = threading.Event(), threading.Event()

    class Late(CeligoConnector):
        """The revoking replica: its first write waits until the other replica is done."""

        first = True

        def set_slot_level(self, slot, account_id, level):
            if self.first:
                self.first = False
                stale_write.set()
                admin_done.wait(5)
            super().set_slot_level(slot, account_id, level)

    late = Late(CeligoClient(celigo.url, TOKEN, max_attempts=1))
    world.requests.move("m", "active", state="revoking")
    revoking = threading.Thread(target=world.slots.settle, args=(world.get("m"), late, slot, True))
    revoking.start()
    assert stale_write.wait(5)  # it computed 'monitor' (no other grant yet) and is about to write
    world.grant(connector, world.request("a", ADMIN))
    assert celigo.share(carol)["accessLevel"] == "administrator"
    admin_done.set()
    revoking.join(5)
    late.close()
    assert celigo.share(carol)["accessLevel"] == "administrator"
    assert world.baseline() == "monitor"  # Administrator still lives on it


def test_two_grants_at_once_agree_on_one_baseline_and_the_highest_level(world, connector, celigo, carol):
    """Given Manage and Administrator granted at the same moment by two replicas, then one
    baseline (monitor) is stored and the share ends at Administrator; after both end, monitor."""
    requests = [world.request("m", MANAGE), world.request("a", ADMIN)]
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def grant(request) -> None:
        own = CeligoConnector(CeligoClient(celigo.url, TOKEN, max_attempts=1))
        try:
            barrier.wait(5)
            world.grant(own, request)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)
        finally:
            own.close()

    threads = [threading.Thread(target=grant, args=(request,)) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert not failures
    assert celigo.share(carol)["accessLevel"] == "administrator" and world.baseline() == "monitor"
    world.take_back(connector, world.get("a"))
    assert celigo.share(carol)["accessLevel"] == "manage"
    world.take_back(connector, world.get("m"))
    assert celigo.share(carol)["accessLevel"] == "monitor"


def test_access_put_back_after_the_last_grant_ended_is_removed_to_the_recorded_baseline(
        world, connector, celigo, carol):
    """Given Manage granted and ended (no baseline stored any more), when someone sets Manage in
    Celigo again and the read-back takes it back, then the level returns to monitor."""
    world.grant(connector, world.request("m", MANAGE))
    world.take_back(connector, world.get("m"))
    connector.set_slot_level(slot_of(connector, MANAGE), carol, "manage")
    world.slots.settle(world.get("m"), connector, slot_of(connector, MANAGE), leaving=True)
    assert celigo.share(carol)["accessLevel"] == "monitor"


def test_a_grant_made_before_slots_existed_is_revoked_to_its_recorded_level(world, connector, celigo, carol):
    """Given an active Administrator grant recorded by the earlier Celigo prior ({"accessLevel":
    "monitor"}, no stored baseline), when it ends, then the level returns to monitor."""
    world.request("old", ADMIN, state="active")
    world.requests.set_once("old", "preexisting", False, prior_detail='{"accessLevel": "monitor"}')
    connector.set_slot_level(slot_of(connector, ADMIN), carol, "administrator")
    world.take_back(connector, world.get("old"))
    assert celigo.share(carol)["accessLevel"] == "monitor"

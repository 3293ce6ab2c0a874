"""Access review campaigns in the database, on SQLite and PostgreSQL alike: one open campaign
per name, items decided once however many clicks and replicas race (the due date included),
an item's revocation read from its revocation record, and a 50,000-holding start in bulk."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from bot.domain.errors import ItemDecidedError
from bot.domain.reviews import Campaign, OnNoDecision, ReviewDecision, ReviewItem
from storage.audit_log import AuditLog
from storage.catalog import Catalog
from storage.outbox import Outbox
from storage.requests import Requests
from storage.reviews import ReviewStore
from tests.support.reviews import Reviewing, spec
from tests.support.stored import stored_request

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def campaign(name: str = "q1", id: str = "c1") -> Campaign:
    return Campaign(id=id, name=name, started_at=NOW, due_at=NOW + timedelta(days=14),
                    on_no_decision=OnNoDecision.KEEP)


def item(id: str, holder: str = "carol@acme.com", reviewer: str = "UALICE", campaign_id: str = "c1",
         **more) -> ReviewItem:
    return ReviewItem(id=id, campaign_id=campaign_id, connector_id="okta", entitlement_id=f"group:{id}:member",
                      entitlement_name=f"group {id}", account_id="00u1", holder_email=holder, holder=None,
                      reviewer=reviewer, **more)


def keep_if_undecided(decided_by: str):
    def change(campaigns, items):
        if items[0].decision is not None:
            raise ItemDecidedError(items[0], "already decided")
        return [(items[0].id, {"decision": ReviewDecision.KEEP, "decided_by": decided_by, "decided_at": NOW})], []
    return change


def test_one_open_campaign_per_name_and_a_closed_one_makes_room(engine):
    store = ReviewStore(engine)
    assert store.open(campaign(), [item("i1"), item("i2", just_in_time=True, reviewer="")])
    assert not store.open(campaign(id="c2"), [item("i3", campaign_id="c2")])  # a second start
    assert store.item("i3") is None and store.campaign("c2") is None
    assert store.open(campaign("q2", "c3"), [])  # another name
    assert store.settle("c1", {"closed_at": None}, {"closed_at": NOW, "open_name": None}, lambda c, items: ([], []))
    assert not store.settle("c1", {"closed_at": None}, {"closed_at": NOW, "open_name": None},
                            lambda c, items: ([], []))  # settled once
    assert store.open(campaign(id="c4"), [])
    assert [c.id for c in store.campaigns(open_only=False, name="q1")] == ["c4", "c1"] or \
        {c.id for c in store.campaigns(open_only=False, name="q1")} == {"c4", "c1"}
    assert [(c.id, who, undecided, total) for c, who, undecided, total in store.counts(open_only=False)
            if c.id == "c1"] == [("c1", "UALICE", 1, 1)]  # just-in-time items are not counted


def test_racing_decisions_decide_an_item_once(engine):
    store = ReviewStore(engine)
    store.open(campaign(), [item("i1")])
    won, refused = [], []

    def click(who: str) -> None:
        try:
            won.append(store.change_items(["i1"], keep_if_undecided(who)))
        except ItemDecidedError:
            refused.append(who)
    threads = [threading.Thread(target=click, args=(f"U{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1 and len(refused) == 7
    assert store.item("i1").decided_by == won[0][0].decided_by


def test_the_due_date_and_a_click_at_the_same_moment_decide_each_item_once(engine):
    store = ReviewStore(engine)
    store.open(campaign(), [item(f"i{n}") for n in range(20)])
    closed_items: list[str] = []

    def close() -> None:
        def change(c, items):
            closed_items.extend(i.id for i in items)
            return [(i.id, {"decision": ReviewDecision.KEEP, "decided_by": "latchkey", "decided_at": NOW})
                    for i in items], []
        store.settle("c1", {"closed_at": None}, {"closed_at": NOW, "open_name": None}, change)

    clicked: list[str] = []

    def clicks() -> None:
        for n in range(20):
            try:
                clicked.extend(i.id for i in store.change_items([f"i{n}"], keep_if_undecided("UALICE")))
            except ItemDecidedError:
                pass
    threads = [threading.Thread(target=close), threading.Thread(target=clicks)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(closed_items + clicked) == sorted(f"i{n}" for n in range(20))  # each once
    assert all(store.item(f"i{n}").decided_by == ("UALICE" if f"i{n}" in clicked else "latchkey")
               for n in range(20))


def test_an_item_shows_when_its_revocation_was_verified_and_whether_it_is_failing(engine):
    store, requests = ReviewStore(engine), Requests(engine)
    store.open(campaign(), [item("i1"), item("i2")])
    for item_id, request_id in (("i1", "r1"), ("i2", "r2")):
        store.change_items([item_id], lambda c, items, request_id=request_id: (
            [(items[0].id, {"decision": ReviewDecision.REVOKE, "decided_by": "UALICE", "decided_at": NOW,
                            "request_id": request_id})],
            [stored_request(NOW, id=request_id, state="active", expires_at=NOW)]))
    assert store.item("i1").revoked_at is None and not store.item("i1").revoke_failing
    requests.move("r1", "active", state="revoked", revoked_at=NOW + timedelta(seconds=3))
    requests.move("r2", "active", state="revoking", last_error="Okta answered 500")
    assert store.item("i1").revoked_at == NOW + timedelta(seconds=3)
    assert store.item("i2").revoke_failing and store.item("i2").revoked_at is None


def test_items_are_listed_undecided_first_a_page_at_a_time(engine):
    store = ReviewStore(engine)
    store.open(campaign(), [item("i1", "a@acme.com"), item("i2", "b@acme.com"), item("i3", "c@acme.com"),
                            item("i4", "d@acme.com", reviewer="UBOB")])
    store.change_items(["i1"], keep_if_undecided("UALICE"))
    assert [i.id for i in store.items("c1", "UALICE")] == ["i2", "i3", "i1"]
    assert [i.id for i in store.items("c1", "UALICE", offset=1, limit=1)] == ["i3"]
    assert [i.id for i in store.items("c1")] == ["i2", "i3", "i4", "i1"]


@pytest.mark.timeout(120)
def test_fifty_thousand_holdings_and_two_hundred_reviewers_start_in_under_a_minute(engine):
    """Given 5,000 Okta accounts holding 10 of 500 groups each, and a review by a Slack user
    group of 200 people, then the campaign starts (snapshot, assignment, one message per
    reviewer) within a minute, every holding an item."""
    catalog = Catalog(engine)
    groups = [dict(connector_id="okta", id=f"group:g{n}:member", resource_type="group", resource_id=f"g{n}",
                   name=f"g{n}", resource_name=f"g{n}") for n in range(500)]
    accounts = [dict(id=f"00u{n}", email=f"user{n}@acme.com", display_name=f"User {n}", active=True)
                for n in range(5000)]
    holdings = [dict(entitlement_id=f"group:g{(n * 7 + k) % 500}:member", account_id=f"00u{n}", direct=True)
                for n in range(5000) for k in range(10)]
    catalog.replace("okta", groups, accounts, holdings, NOW)
    from tests.support.in_memory import Directory

    reviewers = [f"UREV{n:04d}" for n in range(200)]
    setup = Reviewing(specs=[spec(reviewers=("@auditors",))], audit=AuditLog(engine),
                      notifier=SimpleNamespace(message=lambda event: Outbox.message(event, NOW), wake=lambda: None))
    setup.store = ReviewStore(engine)  # type: ignore[assignment]
    setup.holdings = catalog  # type: ignore[assignment]
    reviews = setup.build()
    reviews.starts.approvers._directory = Directory(groups={"auditors": reviewers})  # type: ignore[attr-defined]
    began = time.monotonic()
    started = reviews.start("q1")
    took = time.monotonic() - began
    work = setup.store.counts(campaign_id=started.id)
    assert sum(total for *_, total in work) == 50_000 and {who for _, who, _, _ in work} <= set(reviewers)
    assert len(work) > 150  # the work is spread
    print(f"started in {took:.1f}s")
    assert took < 60, f"took {took:.1f}s"
    assert len(Outbox(engine).claim(NOW, NOW + timedelta(minutes=1), limit=500)) == len(work)  # one per reviewer


def test_a_revocation_a_review_made_is_no_request_of_the_holder(engine):
    """Given an access review took Carol's access away, then it neither counts toward the
    requests she filed this hour nor stands among her live requests, nor as a grant on her
    account (what a one-level slot is set from)."""
    from bot.domain.request import Route
    from storage.request_queries import RequestQueries

    requests = Requests(engine)
    requests.add(stored_request(NOW, id="r1", requester="U0CAROL", state="active", expires_at=NOW,
                                route=Route.REVIEW, preexisting=False))
    requests.add(stored_request(NOW, id="r2", requester="U0CAROL", state="pending", entitlement_id="group:g2:member"))
    queries = RequestQueries(engine)
    seen = queries.read_as("U0CAROL", lambda reads: (reads.asked_since(NOW), [r.id for r in reads.live()]))
    assert seen == (1, ["r2"])
    assert queries.granting_on("okta", "00u1") == []


def test_a_start_that_fails_half_way_leaves_nothing_behind(engine):
    """Given the items of a start cannot all be written (here: two with one id), then neither
    the campaign nor any item is stored, and the next start opens the campaign."""
    from sqlalchemy.exc import IntegrityError

    store = ReviewStore(engine)
    with pytest.raises(IntegrityError):
        store.open(campaign(), [item("i1"), item("i1")])
    assert store.campaigns(open_only=False) == [] and store.item("i1") is None
    assert store.open(campaign(), [item("i1")])


def test_a_close_decides_a_batch_and_the_rest_follows_in_batches_of_their_own(engine):
    store = ReviewStore(engine)
    store.open(campaign(), [item(f"i{n}") for n in range(5)])

    def keep(c, items):
        return [(i.id, {"decision": ReviewDecision.KEEP, "decided_by": "latchkey", "decided_at": NOW})
                for i in items], []
    assert store.settle("c1", {"closed_at": None}, {"closed_at": NOW, "open_name": None}, keep, limit=2)
    assert [c.id for c in store.closing()] == ["c1"]
    assert [store.settle_more("c1", keep, 2) for _ in range(3)] == [2, 1, 0]
    assert store.closing() == [] and all(i.decision is ReviewDecision.KEEP for i in store.items("c1"))

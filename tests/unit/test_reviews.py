"""Access reviews in memory: who reviews what, decisions as compare-and-sets, and what the due
date does with what nobody decided (tests/support/reviews.py wires the real use case)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from bot.domain.errors import (
    CampaignClosedError,
    ItemDecidedError,
    NotYourItemError,
    ReasonRequiredError,
    ReviewError,
    ReviewNotFoundError,
)
from bot.domain.events import (
    SYSTEM,
    ItemKept,
    ItemRevoked,
    ReviewAssigned,
    ReviewClosed,
    ReviewEscalated,
    ReviewReminded,
    ReviewStarted,
)
from bot.domain.request import Route, State
from bot.domain.review_spec import Schedule
from bot.domain.reviews import NO_DECISION, OnNoDecision, ReviewDecision
from bot.domain.rules import Match
from connectors.base import Slot
from tests.support.harness import ALICE, BOB, CAROL, DAVE, ERIN, PEOPLE
from tests.support.in_memory import request
from tests.support.reviews import Reviewing, spec

DAYS = timedelta(days=1)


def reviewing(*held: tuple[str, str], **options) -> Reviewing:
    """Reviews over a catalog where each (email, group) is held."""
    setup = Reviewing(**options)
    for email, group in held:
        setup.holdings.add(email, group)
    return setup


def started(setup: Reviewing, name: str = "q1"):
    reviews = setup.build()
    campaign = reviews.start(name)
    return reviews, campaign, {(i.holder_email, i.entitlement_name): i for i in setup.store.items(campaign.id)}


# -- who reviews what ---------------------------------------------------------------------------
def test_each_holders_access_goes_to_one_owner_of_its_connector():
    """Given the Okta owners Alice and Bob, then every holding of Carol and of Dave is reviewed
    by one of them, all of a holder's by the same one, and each reviewer is told once."""
    setup = reviewing(("carol@acme.com", "eng-admins"), ("carol@acme.com", "prod-readers"),
                      ("dave@acme.com", "eng-admins"), ("dave@acme.com", "data-admins"))
    _, campaign, items = started(setup)
    carols = {items["carol@acme.com", g].reviewer for g in ("eng-admins", "prod-readers")}
    daves = {items["dave@acme.com", g].reviewer for g in ("eng-admins", "data-admins")}
    assert len(carols) == len(daves) == 1 and carols | daves <= {ALICE, BOB}
    assert items["carol@acme.com", "eng-admins"].holder == CAROL
    told = setup.store.events(ReviewAssigned)
    assert sorted(e.reviewer for e in told) == sorted(carols | daves)
    assert sum(e.items for e in told) == 4 and {e.campaign_id for e in told} == {campaign.id}
    assert setup.synced == ["okta"]  # a fresh sync of the scope came first


def test_an_owners_own_access_goes_to_the_fallback_reviewers_but_never_to_themselves():
    """Given Alice owns Okta and holds eng-admins, and the fallback is Alice and Dave, then
    Dave reviews Alice's access: not Alice, and not Bob (the owners include the holder)."""
    setup = reviewing(("alice@acme.com", "eng-admins"), specs=[spec(fallback=(ALICE, DAVE))])
    _, _, items = started(setup)
    assert items["alice@acme.com", "eng-admins"].reviewer == DAVE


def test_reviewer_sources_are_tried_in_order_until_one_names_somebody():
    """Given reviewers [manager, owners] and only Carol has a manager (Erin), then Erin reviews
    Carol's access and an owner Dave's."""
    setup = reviewing(("carol@acme.com", "eng-admins"), ("dave@acme.com", "eng-admins"),
                      specs=[spec(reviewers=("manager", "owners"))])
    setup.managers.of["carol@acme.com"] = PEOPLE[ERIN]
    _, _, items = started(setup)
    assert items["carol@acme.com", "eng-admins"].reviewer == ERIN
    assert items["dave@acme.com", "eng-admins"].reviewer in (ALICE, BOB)


def test_approvers_are_those_of_the_rule_that_governs_the_entitlement():
    """Given a rule for prod-* whose approver is Erin, then Erin reviews prod-readers, and the
    owners (the default rule's approvers) eng-admins."""
    from tests.support.in_memory import rulebook

    setup = reviewing(("carol@acme.com", "prod-readers"), ("carol@acme.com", "eng-admins"),
                      specs=[spec(reviewers=("approvers",))],
                      rules=rulebook(rules=[{"name": "prod", "match": {"resource": "prod-*"}, "approvers": [ERIN]}]))
    _, _, items = started(setup)
    assert items["carol@acme.com", "prod-readers"].reviewer == ERIN
    assert items["carol@acme.com", "eng-admins"].reviewer in (ALICE, BOB)


def test_access_granted_just_in_time_is_listed_apart_and_reviewed_by_nobody():
    setup = reviewing(("carol@acme.com", "eng-admins"), ("carol@acme.com", "prod-readers"),
                      live=[request("eng-admins", State.ACTIVE, preexisting=False)])
    reviews, campaign, items = started(setup)
    granted = items["carol@acme.com", "eng-admins"]
    assert granted.just_in_time and granted.reviewer == ""
    work = reviews.for_reviewer(items["carol@acme.com", "prod-readers"].reviewer)
    assert [(w.undecided, w.total) for w in work] == [(1, 1)]
    assert setup.store.events(ReviewStarted)[0].just_in_time == 1
    with pytest.raises(NotYourItemError, match="just in time"):
        reviews.decide(granted.id, ALICE, ReviewDecision.KEEP)


def test_holdings_outside_the_scope_are_not_reviewed():
    setup = reviewing(("carol@acme.com", "prod-readers"), ("carol@acme.com", "eng-admins"),
                      specs=[spec(scope=(Match(resource="prod-*"),))])
    _, _, items = started(setup)
    assert list(items) == [("carol@acme.com", "prod-readers")]


def test_starting_an_open_review_again_starts_nothing():
    setup = reviewing(("carol@acme.com", "eng-admins"))
    reviews, first, _ = started(setup)
    assert reviews.start("q1") == first
    assert len(setup.store.events(ReviewStarted)) == 1 and len(setup.store.items_by_id) == 1


def test_an_unknown_review_and_a_failing_sync_start_nothing_and_say_why():
    setup = reviewing(("carol@acme.com", "eng-admins"))
    reviews = setup.build()
    with pytest.raises(ReviewNotFoundError, match="no access review q9 .*configured: q1"):
        reviews.start("q9")

    def broken(connector_id):
        raise RuntimeError("Okta answered 503")
    setup.synced = None  # type: ignore[assignment]
    reviews.starts.sync = broken
    with pytest.raises(ReviewError, match="syncing okta failed .*503"):
        reviews.start("q1")
    assert setup.store.by_id == {}


# -- deciding ------------------------------------------------------------------------------------
def _one(setup: Reviewing | None = None):
    setup = setup or reviewing(("carol@acme.com", "eng-admins"), ("dave@acme.com", "eng-admins"))
    reviews, campaign, items = started(setup)
    item = items["carol@acme.com", "eng-admins"]
    return setup, reviews, campaign, item


def test_a_keep_is_recorded_once_and_a_second_click_is_told_it_was_decided():
    setup, reviews, _, item = _one()
    kept = reviews.decide(item.id, item.reviewer, ReviewDecision.KEEP)
    assert (kept.decision, kept.decided_by, kept.decided_at) == (ReviewDecision.KEEP, item.reviewer, setup.clock.now())
    with pytest.raises(ItemDecidedError, match="already kept") as refused:
        reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "left the team")
    assert refused.value.item.decision is ReviewDecision.KEEP
    assert [e.item_id for e in setup.store.events(ItemKept)] == [item.id] and not setup.store.revocations()


def test_only_the_assigned_reviewer_decides():
    setup, reviews, _, item = _one()
    other = BOB if item.reviewer == ALICE else ALICE
    with pytest.raises(NotYourItemError, match="not yours"):
        reviews.decide(item.id, other, ReviewDecision.KEEP)
    assert reviews.item(item.id).decision is None


def test_a_revoke_needs_a_reason_and_without_one_nothing_changes():
    setup, reviews, _, item = _one()
    written = list(setup.store.written)
    with pytest.raises(ReasonRequiredError, match="Say why"):
        reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "   ")
    assert reviews.item(item.id).decision is None and setup.store.written == written


def test_a_revoke_hands_a_revocation_to_the_revocation_path_at_once():
    """Given Carol's eng-admins, when her reviewer revokes it, then a revocation record (route
    review, active and expiring now, not access held before) is written with the decision and
    handed to the workers, like an expiry."""
    setup, reviews, campaign, item = _one()
    revoked = reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "  left   the team ")
    revocation, = setup.store.revocations()
    assert revoked.request_id == revocation.id and revoked.reason == "left the team"
    assert (revocation.route, revocation.state, revocation.expires_at) == (Route.REVIEW, State.ACTIVE, setup.clock.now())
    assert (revocation.requester, revocation.account_id, revocation.entitlement_id) == (
        CAROL, item.account_id, item.entitlement_id)
    assert revocation.preexisting is False and not revocation.manual
    assert setup.handed == [(revocation.id, State.ACTIVE)]
    event, = setup.store.events(ItemRevoked)
    assert (event.request_id, event.actor, event.reason) == (revocation.id, item.reviewer, "left the team")


def test_access_latchkey_may_not_change_is_taken_back_by_a_task():
    setup = reviewing(("carol@acme.com", "eng-admins"), provisioning={"okta": False})
    _, reviews, _, item = _one(setup)
    reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "no longer needed")
    assert setup.store.revocations()[0].manual


def test_a_level_taken_away_goes_to_none_not_to_a_level_held_before():
    class Celigo:
        def slot(self, entitlement_id):
            return Slot("accessLevel", "manage", ("monitor", "manage", "administrator"))

    setup = reviewing(("carol@acme.com", "eng-admins"), connectors={"okta": Celigo()})
    _, reviews, _, item = _one(setup)
    reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "no longer needed")
    assert json.loads(setup.store.revocations()[0].prior_detail) == {"accessLevel": None}


def test_keep_all_keeps_the_undecided_and_refuses_a_page_with_someone_elses_item():
    setup = reviewing(*[(f"{who}@acme.com", g) for who in ("carol", "dave") for g in ("eng-admins", "data-admins")],
                      owners={"okta": [ALICE]})
    reviews, campaign, items = started(setup)
    page, pages = reviews.items(campaign.id, ALICE, page=1, per_page=3)
    assert (len(page), pages) == (3, 2)
    reviews.decide(page[0].id, ALICE, ReviewDecision.REVOKE, "gone")
    kept = reviews.keep_all(campaign.id, ALICE, [item.id for item in page])
    assert sorted(i.id for i in kept) == sorted(i.id for i in page[1:])
    assert reviews.item(page[0].id).decision is ReviewDecision.REVOKE
    assert len(reviews.items(campaign.id, ALICE, page=9, per_page=3)[0]) == 1  # the last page
    last, = [i for i in reviews.items(campaign.id, ALICE, per_page=10)[0] if i.decision is None]
    with pytest.raises(NotYourItemError):
        reviews.keep_all(campaign.id, BOB, [last.id])
    with pytest.raises(ReviewNotFoundError):
        reviews.keep_all(campaign.id, ALICE, [last.id, "feedbeef"])
    assert reviews.item(last.id).decision is None


# -- the due date --------------------------------------------------------------------------------
def test_at_the_due_date_undecided_items_are_kept_as_no_decision_and_the_review_closes():
    setup, reviews, campaign, item = _one()
    decided = reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "gone")
    setup.clock.advance(14 * DAYS - timedelta(minutes=1))
    assert reviews.run_due() == campaign.due_at and [c.id for c in reviews.campaigns()] == [campaign.id]
    setup.clock.advance(timedelta(minutes=1))
    reviews.run_due()
    report = reviews.report("q1")
    other, = [i for i in report.items if i.id != item.id]
    assert (other.decision, other.decided_by, other.reason) == (ReviewDecision.KEEP, SYSTEM, NO_DECISION)
    assert reviews.item(item.id) == decided
    assert report.campaign.closed_at == setup.clock.now() and reviews.campaigns() == []
    assert [(e.no_decision, e.on_no_decision) for e in setup.store.events(ReviewClosed)] == [(1, "keep")]
    assert (report.summary.kept, report.summary.revoked, report.summary.overdue) == (1, 1, 1)
    with pytest.raises(CampaignClosedError, match="closed"):
        reviews.decide(other.id, other.reviewer, ReviewDecision.REVOKE, "too late")
    reviews.run_due()  # a second run (another replica) finds nothing to do
    assert len(setup.store.events(ReviewClosed)) == 1


def test_a_review_that_revokes_what_nobody_decided_takes_it_back():
    setup = reviewing(("carol@acme.com", "eng-admins"), specs=[spec(on_no_decision=OnNoDecision.REVOKE)])
    reviews, campaign, _ = started(setup)
    setup.clock.advance(14 * DAYS)
    reviews.run_due()
    item, = reviews.report("q1").items
    revocation, = setup.store.revocations()
    assert (item.decision, item.reason, item.request_id) == (ReviewDecision.REVOKE, NO_DECISION, revocation.id)
    assert revocation.decided_by == (SYSTEM,)


def test_escalation_hands_undecided_items_to_the_fallback_once_then_keeps_them():
    """Given on_no_decision: escalate with fallback Carol and Dave, then at the due date Carol's
    undecided access goes to Dave (never to Carol) and Dave is told; another 14 days later what
    he did not decide is kept as no decision."""
    setup = reviewing(("carol@acme.com", "eng-admins"),
                      specs=[spec(on_no_decision=OnNoDecision.ESCALATE, fallback=(CAROL, DAVE), remind_every=None)])
    reviews, campaign, items = started(setup)
    setup.clock.advance(14 * DAYS)
    reviews.run_due()
    item = reviews.item(items["carol@acme.com", "eng-admins"].id)
    assert (item.reviewer, item.escalated, item.decision) == (DAVE, True, None)
    assert [(e.reviewer, e.escalated) for e in setup.store.events(ReviewAssigned)][-1] == (DAVE, True)
    assert setup.store.events(ReviewEscalated)[0].items == 1
    assert reviews.run_due() == setup.clock.now() + 14 * DAYS  # the new deadline
    setup.clock.advance(14 * DAYS)
    reviews.run_due()
    assert reviews.item(item.id).decision is ReviewDecision.KEEP and reviews.campaigns() == []


def test_reviewers_with_undecided_items_are_reminded_once_per_period():
    setup, reviews, campaign, item = _one(reviewing(("carol@acme.com", "eng-admins"), ("dave@acme.com", "eng-admins"),
                                                    owners={"okta": [ALICE]}))
    reviews.decide(item.id, ALICE, ReviewDecision.KEEP)
    setup.clock.advance(3 * DAYS)
    reviews.run_due()
    reviews.run_due()
    reminded, = setup.store.events(ReviewReminded)
    assert (reminded.reviewer, reminded.undecided, reminded.due_at) == (ALICE, 1, campaign.due_at)
    setup.clock.advance(3 * DAYS)
    reviews.run_due()
    assert len(setup.store.events(ReviewReminded)) == 2


def test_a_scheduled_review_starts_when_due_and_once():
    setup = reviewing(("carol@acme.com", "eng-admins"), specs=[spec(schedule=Schedule(every=90 * DAYS))])
    reviews = setup.build()
    reviews.run_due()  # never run: a period starts at once
    reviews.run_due()
    first, = reviews.campaigns()
    setup.clock.advance(14 * DAYS)
    assert reviews.run_due() == first.started_at + 90 * DAYS  # closed now; the next start
    setup.clock.advance(76 * DAYS)
    reviews.run_due()
    assert [c.started_at for c in reviews.campaigns(open_only=False)] == [setup.clock.now(), first.started_at]


def test_a_cron_schedule_counts_from_its_next_time():
    setup = reviewing(("carol@acme.com", "eng-admins"), specs=[spec(schedule=Schedule(cron="0 9 1 */3 *"))])
    reviews = setup.build()
    assert reviews.run_due() == Schedule(cron="0 9 1 */3 *").next_after(setup.clock.now())
    assert reviews.campaigns() == []


def test_summary_and_progress_count_decisions_over_time():
    setup, reviews, campaign, item = _one()
    setup.clock.advance(DAYS)
    reviews.decide(item.id, item.reviewer, ReviewDecision.KEEP)
    report = reviews.report(campaign.id)
    assert (report.summary.items, report.summary.decided, report.summary.overdue) == (2, 1, 0)
    assert [(p.at - campaign.started_at, p.decided) for p in report.progress] == [(timedelta(0), 0), (DAYS, 1)]
    with pytest.raises(ReviewNotFoundError, match="No access review q7"):
        reviews.report("q7")


def test_the_audit_channel_tells_what_a_review_did_with_user_text_escaped():
    from bot.slack.audit_lines import format_line
    from storage.audit_log import AuditLog

    at = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
    revoked = AuditLog.entry(ItemRevoked(request_id="0a1b", actor=ALICE, campaign_id="c1", item_id="i1",
                                         entitlement="prod-readers", connector="okta", holder="carol@acme.com",
                                         reason="<!channel> moved"), at)
    assert format_line(revoked) == (
        "2026-12-06 09:00 UTC · <@U0ALICE> revoked access in an access review, by `0a1b` · prod-readers (okta)"
        " · held by carol@acme.com · reason: &lt;!channel&gt; moved")
    begun = AuditLog.entry(ReviewStarted(campaign="q1", campaign_id="c1", items=3, just_in_time=1,
                                         reviewers=2, due_at=at), at)
    assert format_line(begun) == ("2026-12-06 09:00 UTC · latchkey started an access review · review q1"
                                  " · 3 items · 1 just in time, listed apart")


def test_nobody_decides_their_own_access_even_when_it_was_assigned_to_them():
    """Given an item that names its holder as reviewer (say, assigned before they were known
    by that address), then their keep is refused, and so is their page's keep-all."""
    from dataclasses import replace

    setup, reviews, campaign, item = _one()
    setup.store.items_by_id[item.id] = replace(item, reviewer=CAROL, holder=None)  # known by email only
    with pytest.raises(NotYourItemError, match="own access"):
        reviews.decide(item.id, CAROL, ReviewDecision.KEEP)
    with pytest.raises(NotYourItemError, match="own access"):
        reviews.keep_all(campaign.id, CAROL, [item.id])
    assert reviews.item(item.id).decision is None


def test_the_due_date_decides_a_big_review_a_batch_at_a_time_and_finishes_after_a_crash(monkeypatch):
    """Given three undecided items and batches of one, when the run deciding them stops after
    the first batch (a crash), then the review is closed with one close event, and the next run
    decides the other two, each once."""
    from bot.usecases import review_due

    monkeypatch.setattr(review_due, "CLOSE_BATCH", 1)
    setup = reviewing(*[(f"{who}@acme.com", "eng-admins") for who in ("carol", "dave", "erin")])
    reviews, campaign, _ = started(setup)
    setup.clock.advance(14 * DAYS)
    real = setup.store.settle_more
    setup.store.settle_more = lambda *args: (_ for _ in ()).throw(RuntimeError("killed"))
    with pytest.raises(RuntimeError):
        reviews.run_due()
    assert reviews.campaigns() == [] and [i.decision for i in reviews.report("q1").items].count(None) == 2
    setup.store.settle_more = real
    reviews.run_due()
    assert all(i.decided_by == SYSTEM for i in reviews.report("q1").items)
    assert len(setup.store.events(ItemKept)) == 3
    assert [(e.no_decision, e.on_no_decision) for e in setup.store.events(ReviewClosed)] == [(3, "keep")]

"""Deciding access review items: keep or revoke, one by one or a page at a time.

Each decision is checked against the items as the store locked them (the reviewer's, still
undecided, in an open campaign) and written in that same transaction, so a double click, two
reviewers' clicks or the due date decide an item once.  A revoke is written with a revocation
record (an AccessRequest with route REVIEW, active and expiring now), which the ordinary
revocation path (bot/usecases/revoke.py) then drives like any expiry: under a lease, through
the connector, read back, retried with backoff, owners alerted after a few failures, and for a
connector Latchkey cannot change, a task for its owners.  The item's `revoked_at` is that
record's: when the removal was verified.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta

from bot.domain.errors import (
    CampaignClosedError,
    ItemDecidedError,
    NotYourItemError,
    ReasonRequiredError,
    ReviewNotFoundError,
)
from bot.domain.events import SYSTEM, ItemKept, ItemRevoked
from bot.domain.request import AccessRequest, Route, State, new_request_id
from bot.domain.reviews import Campaign, ReviewDecision, ReviewItem
from bot.domain.rules import Target
from bot.ports import CatalogReads, ItemChanges, ReviewStore
from bot.slots import slot_of
from bot.usecases.core import Core
from connectors.base import Connector

REASON_LIMIT = 500  # characters of a reason kept; it shows in messages and the audit log


class Revocations:
    """The revocation record a revoke decision writes, for the revocation path to drive."""

    def __init__(self, core: Core, catalog: CatalogReads, connectors: Mapping[str, Connector],
                 provisioning: Mapping[str, bool]) -> None:
        self.core, self.catalog, self.connectors, self.provisioning = core, catalog, connectors, provisioning

    def of(self, item: ReviewItem, campaign: Campaign, actor: str, reason: str, now: datetime,
           seen: dict[tuple[str, str], tuple[bool, str, str | None]] | None = None) -> AccessRequest:
        """`seen`: what earlier items of the same decision found for their entitlement (the due
        date revokes thousands at once, most of them of a few entitlements)."""
        key = (item.connector_id, item.entitlement_id)
        found = seen.get(key) if seen is not None else None
        if found is None:
            found = self._how(*key)
            if seen is not None:
                seen[key] = found
        manual, rule, prior_detail = found
        return AccessRequest(
            # Written under the item's lock, so nobody is looked up here: a holder Slack did not
            # know at the snapshot is named by email (and not told).
            id=new_request_id(), requester=item.holder or item.holder_email[:64],
            requester_email=item.holder_email, account_id=item.account_id,
            connector_id=item.connector_id, entitlement_id=item.entitlement_id,
            entitlement_name=item.entitlement_name, duration=timedelta(0),
            justification=f"Access review {campaign.name}: {reason}", state=State.ACTIVE,
            created_at=now, decided_by=(actor,), decided_at=now, decision_reason=reason, expires_at=now,
            preexisting=False, manual=manual, rule=rule, prior_detail=prior_detail, route=Route.REVIEW)

    def _how(self, connector_id: str, entitlement_id: str) -> tuple[bool, str, str | None]:
        """How an entitlement is taken back: by a person (a task)?, under which rule, and what
        a one-level slot goes back to."""
        entitlement = self.catalog.entitlement(connector_id, entitlement_id)
        target = Target(connector_id, entitlement.resource_type if entitlement else "",
                        entitlement.resource_name if entitlement else "")
        connector = self.connectors.get(connector_id)
        # Access Latchkey may not change becomes a task for the owners, as a manual grant's end does.
        manual = connector is None or not self.provisioning.get(connector_id, True) \
            or (entitlement is not None and not entitlement.provisionable)
        slot = None if manual or connector is None else slot_of(connector, entitlement_id)
        # A level taken away in review goes to none at all, not to one held before.
        return manual, self.core.rules().rule_for(target).name, json.dumps({slot.key: None}) if slot else None


def decided(items: Sequence[ReviewItem], campaign: Campaign, decision: ReviewDecision, actor: str,
            reason: str, now: datetime, core: Core, revocations: Revocations) -> ItemChanges:
    """The writes of deciding `items`: each item's decision, its audit entry and, for a revoke,
    its revocation record."""
    changes: list[tuple[str, dict[str, object]]] = []
    also: list[object] = []
    seen: dict[tuple[str, str], tuple[bool, str, str | None]] = {}
    for item in items:
        values: dict[str, object] = dict(decision=decision, decided_by=actor, decided_at=now, reason=reason or None)
        event_type = ItemKept
        request_id = None
        if decision is ReviewDecision.REVOKE:
            revocation = revocations.of(item, campaign, actor, reason, now, seen)
            request_id = values["request_id"] = revocation.id
            also.append(revocation)
            event_type = ItemRevoked
        also += core.recorded(event_type(
            request_id=request_id, actor=actor, campaign_id=campaign.id, item_id=item.id,
            entitlement=item.entitlement_name, connector=item.connector_id, holder=item.holder_email,
            reason=reason or None))
        changes.append((item.id, values))
    return changes, also


class DecideReview:
    def __init__(self, core: Core, store: ReviewStore, revocations: Revocations,
                 email_of: Callable[[str], str | None] = lambda person: None) -> None:
        self.core, self.store, self.revocations = core, store, revocations
        self.email_of = email_of  # a reviewer's, to know them as a holder by email too

    def decide(self, item_id: str, reviewer: str, decision: ReviewDecision, reason: str = "") -> ReviewItem:
        reason = " ".join(reason.split())[:REASON_LIMIT]
        if decision is ReviewDecision.REVOKE and not reason:
            raise ReasonRequiredError("Say why this access should be revoked: the reason is kept "
                                      "in the audit log and the review's report.")
        now, email = self.core.clock.now(), self._email(reviewer)

        def change(campaigns: dict[str, Campaign], items: list[ReviewItem]) -> ItemChanges:
            if not items:
                raise ReviewNotFoundError("There is no such item to review (any more).")
            campaign = campaigns[items[0].campaign_id]
            check(campaign, items[0], reviewer, email)
            return decided(items, campaign, decision, reviewer, reason, now, self.core, self.revocations)

        item, = self.store.change_items([item_id], change)
        self._after(item)
        return item

    def keep_all(self, campaign_id: str, reviewer: str, item_ids: Sequence[str]) -> list[ReviewItem]:
        now, email = self.core.clock.now(), self._email(reviewer)

        def change(campaigns: dict[str, Campaign], items: list[ReviewItem]) -> ItemChanges:
            if len(items) != len(set(item_ids)) or any(item.campaign_id != campaign_id for item in items):
                raise ReviewNotFoundError("Some of these items are not in this access review; "
                                          "open it again to see its items as they are.")
            if not items:
                return [], []
            campaign = campaigns[campaign_id]
            for item in items:
                check(campaign, item, reviewer, email, decided_too=True)
            return decided([item for item in items if item.decision is None], campaign, ReviewDecision.KEEP, reviewer, "", now, self.core,
                           self.revocations)

        kept = self.store.change_items(list(item_ids), change)
        if kept:
            self.core.notifier.wake()
        return kept

    def _email(self, reviewer: str) -> str:
        """Looked up before the items are locked: the directory may write its cache, and
        SQLite has one writer, which the lock holds."""
        return (self.email_of(reviewer) or "").lower()

    def _after(self, item: ReviewItem) -> None:
        self.core.notifier.wake()
        if item.request_id:  # take it back now, on the workers, as an expiry would be
            self.core.hand_over(item.request_id, State.ACTIVE)


def check(campaign: Campaign, item: ReviewItem, reviewer: str, email: str = "",
          decided_too: bool = False) -> None:
    """Refuse a decision the item as it stands now does not allow (`email`: the reviewer's).
    `decided_too`: an item decided already is fine (keep_all skips it)."""
    if campaign.closed_at is not None:
        raise CampaignClosedError(f"The access review {campaign.name} is closed: its items can no "
                                  "longer be decided.")
    if item.just_in_time:
        raise NotYourItemError("This access was granted just in time; it ends by itself and is "
                               "not reviewed.")
    if reviewer in (item.holder, "") or (email and email == item.holder_email.lower()):
        raise NotYourItemError("Nobody reviews their own access: this is for another reviewer.")
    if item.reviewer != reviewer:
        raise NotYourItemError("This access is not yours to review: it is assigned to another "
                               "reviewer.")
    if item.decision is not None and not decided_too:
        raise ItemDecidedError(item, f"This access was already {describe(item)}.")


def describe(item: ReviewItem) -> str:
    """How an item was decided, in words: 'kept', 'revoked', 'kept (no decision by the due date)'."""
    done = "kept" if item.decision is ReviewDecision.KEEP else "revoked"
    return done + (f" ({item.reason})" if item.decided_by == SYSTEM and item.reason else "")


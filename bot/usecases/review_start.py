"""Starting an access review: a fresh sync of its scope, then one snapshot of every holding in
it, each with its reviewer, stored with the campaign in one transaction.

Reviewers are found once per connector, rule, named entry or holder, never once per holding:
a campaign over tens of thousands of holdings makes a few hundred look-ups at most.  Nobody
reviews their own access: a holding whose reviewers include its holder goes to the fallback
reviewers.  Access Latchkey granted just in time (an active request) is listed apart.
"""

from __future__ import annotations

import logging
import zlib
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from functools import cache

from bot.approvers import ApproverRouting
from bot.domain.errors import ManagerUncheckableError, ReviewError
from bot.domain.events import ReviewAssigned, ReviewStarted
from bot.domain.request import Route, State
from bot.domain.review_spec import CampaignSpec, ReviewerSource
from bot.domain.reviews import Campaign, Holding, ReviewItem, new_review_id
from bot.domain.rules import RuleBook, Target
from bot.ports import CatalogReads, ManagerLookup, RequestLookup, ReviewStore
from bot.usecases.core import Core

log = logging.getLogger(__name__)


def spread(people: Sequence[str], holder_email: str) -> str:
    """One of `people`, the same for every holding of one holder, so that reviewers share the
    work and each sees a person's access together."""
    return people[zlib.crc32(holder_email.encode()) % len(people)] if people else ""


class Reviewers:
    """Who reviews what, for one campaign start (its look-ups are remembered for that start)."""

    def __init__(self, spec: CampaignSpec, rules: RuleBook, approvers: ApproverRouting,
                 managers: ManagerLookup, email_of: Callable[[str], str | None]) -> None:
        self.spec, self.rules, self.approvers, self.managers = spec, rules, approvers, managers
        self._resolve = cache(lambda entries, connector_id: tuple(approvers.resolve(entries, connector_id)))
        # The people of one source, as ids and emails (to know the holder among them by either).
        self._known = cache(lambda people: frozenset(people) | {(email_of(p) or "").lower() for p in people})
        self._manager = cache(self._manager_email)

    def of(self, holding: Holding, holder: str | None) -> str:
        """The reviewer of `holding`: from the first source that names somebody, unless the
        holder is among them; else, and then, one of the fallback reviewers but the holder."""
        for source in self.spec.reviewers:
            people = self._people(source, holding)
            if people:
                if not self._holder_among(people, holding, holder):
                    return spread(people, holding.email)
                break
        return self.fallback(holding, holder)

    def fallback(self, holding: Holding, holder: str | None) -> str:
        people = self._resolve(self.spec.fallback, holding.connector_id)
        if self._holder_among(people, holding, holder):
            people = tuple(p for p in people if not self._holder_among((p,), holding, holder))
        return spread(people, holding.email)

    def _holder_among(self, people: tuple[str, ...], holding: Holding, holder: str | None) -> bool:
        known = self._known(people)
        return holder in known or holding.email.lower() in known

    def _people(self, source: str, holding: Holding) -> tuple[str, ...]:
        if source == ReviewerSource.OWNERS:
            return self._resolve((), holding.connector_id)
        if source == ReviewerSource.APPROVERS:
            rule = self.rules.rule_for(Target(holding.connector_id, holding.resource_type, holding.resource_name))
            return self._resolve(rule.steps[0].approvers if rule.steps else (), holding.connector_id)
        if source == ReviewerSource.MANAGER:
            manager = self._manager(holding.email.lower())
            return self._resolve((manager,), holding.connector_id) if manager else ()
        return self._resolve((source,), holding.connector_id)

    def _manager_email(self, email: str) -> str | None:
        try:
            return self.managers.manager_of(email)
        except ManagerUncheckableError as exc:  # the fallback reviewers take it instead
            log.warning("manager of %s unknown for an access review: %s", email, exc)
            return None


class StartReview:
    def __init__(self, core: Core, store: ReviewStore, catalog: CatalogReads, lookup: RequestLookup,
                 approvers: ApproverRouting, managers: ManagerLookup,
                 email_of: Callable[[str], str | None],
                 people_by_email: Callable[[Iterable[str]], dict[str, str]],
                 sync: Callable[[str], object], connector_ids: Callable[[], Iterable[str]]) -> None:
        self.core, self.store, self.catalog, self.lookup = core, store, catalog, lookup
        self.approvers, self.managers, self.email_of = approvers, managers, email_of
        self.people_by_email, self.sync, self.connector_ids = people_by_email, sync, connector_ids

    def start(self, spec: CampaignSpec) -> Campaign:
        """Open a campaign of `spec`, or return the one of its name that is open already."""
        if open_now := self.store.campaigns(open_only=True, name=spec.name):
            return open_now[0]
        connectors = [cid for cid in self.connector_ids() if spec.may_cover(cid)]
        for connector_id in connectors:
            try:
                self.sync(connector_id)
            except Exception as exc:  # stale holdings are no evidence: start once it syncs
                raise ReviewError(f"The access review {spec.name} did not start: syncing "
                                  f"{connector_id} failed ({exc}).") from exc
        now = self.core.clock.now()
        campaign = Campaign(id=new_review_id(), name=spec.name, started_at=now, due_at=now + spec.due_in,
                            on_no_decision=spec.on_no_decision)
        items = self.snapshot(spec, campaign, connectors)
        if not self.store.open(campaign, items, also=self._recorded(campaign, items)):
            return self.store.campaigns(open_only=True, name=spec.name)[0]  # another start won
        self.core.notifier.wake()
        log.info("access review %s started: %d items", spec.name, len(items))
        return campaign

    def snapshot(self, spec: CampaignSpec, campaign: Campaign, connectors: Sequence[str]) -> list[ReviewItem]:
        holdings = [h for h in self.catalog.holdings(connectors)
                    if spec.covers(Target(h.connector_id, h.resource_type, h.resource_name))]
        people = self.people_by_email({h.email.lower() for h in holdings})
        just_in_time = self._just_in_time()
        reviewers = Reviewers(spec, self.core.rules(), self.approvers, self.managers, self.email_of)
        items = []
        for holding in holdings:
            holder = people.get(holding.email.lower())
            granted = (holding.connector_id, holding.entitlement_id, holding.account_id) in just_in_time
            items.append(ReviewItem(
                id=new_review_id(), campaign_id=campaign.id, connector_id=holding.connector_id,
                entitlement_id=holding.entitlement_id, entitlement_name=holding.entitlement_name,
                account_id=holding.account_id, holder_email=holding.email, holder=holder,
                reviewer="" if granted else reviewers.of(holding, holder), just_in_time=granted))
        return items

    def _just_in_time(self) -> set[tuple[str, str, str]]:
        """What Latchkey's live grants hold (not access held before, not a review's revocation)."""
        return {(r.connector_id, r.entitlement_id, r.account_id)
                for r in self.lookup.in_states(State.PROVISIONING, State.ACTIVE)
                if r.route is not Route.REVIEW and r.preexisting is not True}

    def _recorded(self, campaign: Campaign, items: list[ReviewItem]) -> list[object]:
        """The start's audit entry, and one message to each reviewer."""
        core = self.core
        per_reviewer = Counter(item.reviewer for item in items if item.reviewer)
        rows: list[object] = core.recorded(ReviewStarted(
            campaign=campaign.name, campaign_id=campaign.id, due_at=campaign.due_at,
            items=sum(not item.just_in_time for item in items),
            just_in_time=sum(item.just_in_time for item in items), reviewers=len(per_reviewer)))
        for reviewer, count in sorted(per_reviewer.items()):
            rows += core.recorded(ReviewAssigned(reviewer=reviewer, campaign=campaign.name,
                                                 campaign_id=campaign.id, items=count, due_at=campaign.due_at))
        return rows

"""Access reviews in memory: the real use case (bot/usecases/reviews.py) over stand-ins for the
review store, the synced holdings, the directory and Okta's managers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.approvers import ApproverRouting
from bot.domain.request import AccessRequest
from bot.domain.review_spec import CampaignSpec, Schedule
from bot.domain.reviews import Campaign, Holding, OnNoDecision, ReviewItem
from bot.domain.rules import Match, RuleBook
from bot.usecases.core import Core
from bot.usecases.review_decide import DecideReview, Revocations
from bot.usecases.review_due import ReviewDue
from bot.usecases.review_start import StartReview
from bot.usecases.reviews import Reviews
from tests.support.harness import ALICE, BOB, PEOPLE
from tests.support.in_memory import T0, Directory, Entitlement, rulebook


@dataclass
class StillClock:
    """A clock that moves only when told."""

    moment: datetime = T0

    def now(self) -> datetime:
        return self.moment

    def advance(self, delta: timedelta) -> None:
        self.moment += delta


class FakeStore:
    """Campaigns and items in dicts, with the store's compare-and-sets (storage/reviews.py)."""

    def __init__(self) -> None:
        self.by_id: dict[str, Campaign] = {}
        self.items_by_id: dict[str, ReviewItem] = {}
        self.written: list[Any] = []  # every row written with a change: audit entries, messages, revocations

    def open(self, campaign: Campaign, items: Sequence[ReviewItem], also: Sequence[Any] = ()) -> bool:
        if self.campaigns(open_only=True, name=campaign.name):
            return False
        self.by_id[campaign.id] = campaign
        self.items_by_id.update({item.id: item for item in items})
        self.written += also
        return True

    def campaign(self, campaign_id: str) -> Campaign | None:
        return self.by_id.get(campaign_id)

    def campaigns(self, open_only: bool = True, name: str | None = None) -> list[Campaign]:
        return sorted((c for c in self.by_id.values() if (not open_only or c.closed_at is None)
                       and (name is None or c.name == name)), key=lambda c: c.started_at, reverse=True)

    def move_campaign(self, campaign_id: str, seen: dict, changes: dict, also: Sequence[Any] = ()) -> bool:
        campaign = self.by_id[campaign_id]
        if any(getattr(campaign, key) != value for key, value in seen.items()):
            return False
        self.by_id[campaign_id] = replace(campaign, **{k: v for k, v in changes.items() if k != "open_name"})
        self.written += also
        return True

    def item(self, item_id: str) -> ReviewItem | None:
        return self.items_by_id.get(item_id)

    def items(self, campaign_id: str, reviewer: str | None = None, offset: int = 0,
              limit: int | None = None) -> list[ReviewItem]:
        found = sorted((i for i in self.items_by_id.values() if i.campaign_id == campaign_id and (
            reviewer is None or (i.reviewer == reviewer and not i.just_in_time))),
            key=lambda i: (i.decision is not None, i.holder_email, i.entitlement_name, i.id))
        return found[offset:None if limit is None else offset + limit]

    def counts(self, reviewer: str | None = None, campaign_id: str | None = None,
               open_only: bool = True) -> list[tuple[Campaign, str, int, int]]:
        found: dict[tuple[str, str], list[int]] = {}
        for item in self.items_by_id.values():
            campaign = self.by_id[item.campaign_id]
            if item.just_in_time or (reviewer is not None and item.reviewer != reviewer) or (
                    campaign_id is not None and item.campaign_id != campaign_id) or (
                    open_only and campaign.closed_at is not None):
                continue
            counted = found.setdefault((item.campaign_id, item.reviewer), [0, 0])
            counted[0] += item.decision is None
            counted[1] += 1
        return [(self.by_id[cid], who, undecided, total) for (cid, who), (undecided, total) in found.items()]

    def change_items(self, item_ids: Sequence[str], change: Any) -> list[ReviewItem]:
        items = sorted((self.items_by_id[i] for i in set(item_ids) if i in self.items_by_id), key=lambda i: i.id)
        return self._apply(change({c.id: c for c in self.by_id.values()}, items))

    def settle(self, campaign_id: str, seen: dict, changes: dict, change: Any, limit: int | None = None) -> bool:
        if not self.move_campaign(campaign_id, seen, changes):
            return False
        self._batch(campaign_id, change, limit)
        return True

    def settle_more(self, campaign_id: str, change: Any, limit: int | None) -> int:
        return self._batch(campaign_id, change, limit)

    def _batch(self, campaign_id: str, change: Any, limit: int | None) -> int:
        items = self._undecided(campaign_id)[:limit]
        self._apply(change(self.by_id[campaign_id], items))
        return len(items)

    def closing(self) -> list[Campaign]:
        return [c for c in self.by_id.values() if c.closed_at is not None and self._undecided(c.id)]

    def _undecided(self, campaign_id: str) -> list[ReviewItem]:
        return sorted((i for i in self.items_by_id.values() if i.campaign_id == campaign_id
                       and i.decision is None and not i.just_in_time), key=lambda i: i.id)

    def _apply(self, changes: Any) -> list[ReviewItem]:
        each, also = changes
        for item_id, values in each:
            self.items_by_id[item_id] = replace(self.items_by_id[item_id], **values)
        self.written += list(also)
        return [self.items_by_id[item_id] for item_id, _ in each]

    def events(self, kind: type) -> list[Any]:
        return [row[1] for row in self.written if isinstance(row, tuple) and isinstance(row[1], kind)]

    def revocations(self) -> list[AccessRequest]:
        return [row for row in self.written if isinstance(row, AccessRequest)]


@dataclass
class Holdings:
    """The synced catalog: Okta groups held by email, and a Celigo role or Percipio course."""

    held: list[Holding] = field(default_factory=list)
    provisionable: bool = True

    def add(self, email: str, name: str, connector_id: str = "okta", resource_type: str = "group") -> None:
        entitlement_id = f"{resource_type}:{name}:member"
        self.held.append(Holding(connector_id, entitlement_id, name, resource_type, name,
                                 self.provisionable, f"00u-{email}", email))

    def holdings(self, connector_ids: Sequence[str]) -> list[Holding]:
        return [h for h in self.held if h.connector_id in connector_ids]

    def entitlement(self, connector_id: str, entitlement_id: str) -> Entitlement | None:
        held = next((h for h in self.held if (h.connector_id, h.entitlement_id) == (connector_id, entitlement_id)), None)
        return None if held is None else Entitlement(connector_id, entitlement_id, held.entitlement_name,
                                                     held.resource_type, held.resource_name,
                                                     provisionable=held.provisionable)


@dataclass
class Managers:
    of: dict[str, str] = field(default_factory=dict)  # report's email → manager's email

    def is_manager(self, manager_email: str, report_email: str) -> bool:
        return self.of.get(report_email) == manager_email

    def manager_of(self, report_email: str) -> str | None:
        return self.of.get(report_email)


def spec(name: str = "q1", reviewers: Sequence[str] = ("owners",), fallback: Sequence[str] = ("U0DAVE", "U0ERIN"),
         on_no_decision: OnNoDecision = OnNoDecision.KEEP, scope: Sequence[Match] = (Match(),),
         schedule: Schedule | None = None, remind_every: timedelta | None = timedelta(days=3)) -> CampaignSpec:
    return CampaignSpec(name=name, scope=tuple(scope), reviewers=tuple(reviewers), fallback=tuple(fallback),
                        due_in=timedelta(days=14), on_no_decision=on_no_decision, remind_every=remind_every,
                        schedule=schedule)


@dataclass
class Reviewing:
    """The Reviews use case wired as bot/lifecycle.py wires it, over the stand-ins above."""

    specs: list[CampaignSpec] = field(default_factory=lambda: [spec()])
    holdings: Holdings = field(default_factory=Holdings)
    live: list[AccessRequest] = field(default_factory=list)  # Latchkey's requests, for just-in-time access
    managers: Managers = field(default_factory=Managers)
    rules: RuleBook = field(default_factory=rulebook)
    connectors: dict[str, Any] = field(default_factory=lambda: {"okta": object()})
    provisioning: dict[str, bool] = field(default_factory=lambda: {"okta": True})
    owners: dict[str, list[str]] = field(default_factory=lambda: {"okta": [ALICE, BOB]})
    clock: StillClock = field(default_factory=StillClock)
    store: FakeStore = field(default_factory=FakeStore)
    handed: list[Any] = field(default_factory=list)  # what went to the workers
    # What the core writes with a change: audit entries and messages (tuples, or real rows).
    audit: Any = field(default_factory=lambda: SimpleNamespace(entry=lambda event, at: ("audit", event)))
    notifier: Any = field(default_factory=lambda: SimpleNamespace(message=lambda event: ("message", event),
                                                                  wake=lambda: None))
    synced: list[str] = field(default_factory=list)

    def build(self) -> Reviews:
        lookup = SimpleNamespace(in_states=lambda *states: [r for r in self.live if r.state in states])
        core = Core(SimpleNamespace(), lookup, self.audit, self.notifier, self.clock,  # type: ignore[arg-type]
                    lambda: self.rules, wake=lambda when: None,
                    workers=SimpleNamespace(submit=lambda fn, arg: self.handed.append(arg)))  # type: ignore[arg-type]
        approvers = ApproverRouting(self.owners, Directory())
        email_of = PEOPLE.get
        people = lambda emails: {e: pid for pid, e in PEOPLE.items() if e in set(emails)}  # noqa: E731
        starts = StartReview(core, self.store, self.holdings, lookup, approvers, self.managers,  # type: ignore[arg-type]
                             email_of, people, self.synced.append, lambda: list(self.connectors))
        revocations = Revocations(core, self.holdings, self.connectors, self.provisioning)  # type: ignore[arg-type]
        due = ReviewDue(core, self.store, revocations, approvers, email_of, lambda: self.specs, starts.start)
        decisions = DecideReview(core, self.store, revocations, email_of)
        return Reviews(core, self.store, lambda: self.specs, starts, decisions, due)

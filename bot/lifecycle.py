"""The request lifecycle, assembled: the use cases of bot/usecases/ wired to their collaborators,
behind the one object the Slack adapter, the service, the demo and the tests talk to.

Each method here hands over to one use case; what it does is told there.  The use cases are
built in dependency order, each given what it calls, so no use case looks another up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.approvers import ApproverRouting
from bot.domain.request import AccessRequest, Route, State
from bot.domain.review_spec import CampaignSpec
from bot.domain.rules import Rule, RuleBook
from bot.intake import Intake
from bot.invariants import Invariants
from bot.ports import (
    Clock,
    ManagerLookup,
    NoManagers,
    NoOnCall,
    NoPushService,
    Notifier,
    NoTracker,
    OnCall,
    Person,
    PushVerifier,
    TicketLookup,
)
from bot.routing import Progress, Routing
from bot.slots import Slots
from bot.usecases.bundles import Bundles
from bot.usecases.chase import Chase
from bot.usecases.core import Core
from bot.usecases.decide import Decide
from bot.usecases.due import Due, Inline
from bot.usecases.extend import Extend
from bot.usecases.provision import Provision
from bot.usecases.review_decide import DecideReview, Revocations
from bot.usecases.review_due import ReviewDue
from bot.usecases.review_start import StartReview
from bot.usecases.reviews import Reviews
from bot.usecases.revoke import Revoke, TakeBack
from bot.usecases.step_up import StepUps
from bot.usecases.submit import Submit
from bot.usecases.tasks import Tasks
from bot.usecases.ticket_watch import WatchTickets
from connectors.base import Connector
from storage.audit_log import AuditLog
from storage.catalog import Catalog
from storage.request_queries import RequestQueries
from storage.requests import Requests
from storage.reviews import ReviewStore
from storage.slot_baselines import SlotBaselines
from storage.step_ups import StepUpChallenges

LIVE = (State.PENDING, State.APPROVED, State.PROVISIONING, State.ACTIVE, State.REVOKING)  # what "my requests" lists


@dataclass
class Lifecycle:
    requests: Requests
    queries: RequestQueries
    catalog: Catalog
    audit: AuditLog
    connectors: dict[str, Connector]
    provisioning: dict[str, bool]  # connector id → may Latchkey change it?
    rules: RuleBook  # replaced as a whole when the configuration is reloaded
    approvers: ApproverRouting
    notifier: Notifier
    clock: Clock
    wake: Callable[[datetime], None] = lambda when: None  # tell the scheduler of a new deadline
    # Where grants and revocations run: a thread pool lets connector calls overlap, and keeps
    # them off the thread that took an approval click (it must be free for the next click).
    workers: Executor = field(default_factory=Inline)
    connector_types: dict[str, str] = field(default_factory=dict)  # connector id → okta, celigo …
    tickets: TicketLookup = field(default_factory=NoTracker)  # where rules check tickets (Jira)
    managers: ManagerLookup = field(default_factory=NoManagers)  # who manages whom (Okta)
    on_call: OnCall = field(default_factory=NoOnCall)  # who is on call (PagerDuty, Opsgenie)
    push: PushVerifier = field(default_factory=NoPushService)  # step-up pushes (Okta Verify)
    # A person's email, from the directory: an approver's for the push, a filer's for Okta's managers.
    email_of: Callable[[str], str | None] = lambda person: None
    campaigns: tuple[CampaignSpec, ...] = ()  # the configured access reviews; replaced on reload
    # A fresh sync of one connector, before an access review snapshots what it holds.
    sync: Callable[[str], object] = lambda connector_id: None
    # People's ids by email, as far as they are known without asking the directory.
    people_by_email: Callable[[Iterable[str]], dict[str, str]] = lambda emails: {}
    routing: Routing = field(init=False)
    core: Core = field(init=False)  # what every use case shares (bot/usecases/core.py)

    def __post_init__(self) -> None:
        rules = lambda: self.rules  # noqa: E731 - a reload replaces self.rules as a whole
        routing = self.routing = Routing(rules, self.approvers)
        challenges = StepUpChallenges(self.requests.engine)
        invariants = Invariants(rules, self.catalog, stepped_up=challenges.passed, managers=self.managers)
        self.intake = Intake(self.queries, self.catalog, rules, routing, self.approvers,
                             invariants, self.clock, self.provisioning, self.connector_types, self.tickets,
                             self.on_call)
        core = self.core = Core(self.requests, self.queries, self.audit, self.notifier, self.clock, rules,
                    wake=lambda when: self.wake(when), workers=self.workers)  # both set after start
        self.extensions = Extend(core, invariants, routing)
        slots = Slots(self.queries, SlotBaselines(self.requests.engine))
        take_back = TakeBack(self.connectors, slots, rules)
        bundles = Bundles(core, self.extensions, take_back.signs_out)
        self.revocations = Revoke(core, take_back, bundles, self.extensions, routing)
        self.provisions = Provision(core, self.connectors, slots, take_back, self.extensions,
                                    bundles, invariants, routing)
        self.submissions = Submit(core, self.intake, invariants, routing)
        self.decisions = Decide(core, routing, invariants, self.extensions, lambda p: self.email_of(p) or "")
        self.step_ups = StepUps(core, self.decisions, challenges, self.push, lambda p: self.email_of(p))
        self.tasks = Tasks(core, self.provisions, bundles, routing)
        self.ticket_watch = WatchTickets(self.queries, rules, self.tickets, self.revocations)
        self.due = Due(core, self.queries, self.provisions, self.revocations, Chase(core, routing), bundles)
        core.work_on = self.due.work_on  # what a use case hands to the workers runs here
        self.reviews = self._reviews(core)

    def _reviews(self, core: Core) -> Reviews:
        """Access reviews: campaigns, decisions, reports (bot/usecases/reviews.py)."""
        store = ReviewStore(self.requests.engine)
        specs = lambda: self.campaigns  # noqa: E731 - a reload replaces them as a whole
        starts = StartReview(core, store, self.catalog, self.queries, self.approvers, self.managers,
                             lambda p: self.email_of(p), lambda emails: self.people_by_email(emails),
                             lambda cid: self.sync(cid), lambda: list(self.connectors))
        revocations = Revocations(core, self.catalog, self.connectors, self.provisioning)
        due = ReviewDue(core, store, revocations, self.approvers, lambda p: self.email_of(p), specs,
                        starts.start)
        decisions = DecideReview(core, store, revocations, lambda p: self.email_of(p))
        return Reviews(core, store, specs, starts, decisions, due)

    # -- reading ---------------------------------------------------------------------------
    def approvers_of(self, request: AccessRequest) -> list[str]:
        return self.routing.approvers_of(request)

    def progress(self, request: AccessRequest) -> Progress:
        """Who approved the pending request so far, and who may act on it now."""
        return self.routing.progress(request, self.queries.approvals(request.id))

    def rule_for(self, connector_id: str, entitlement_id: str) -> Rule | None:
        return self.intake.rule_for(connector_id, entitlement_id)

    def of_requester(self, person: str) -> list[AccessRequest]:
        """The person's own requests that are still waiting or live, oldest first (an access
        review's revocation is none of them)."""
        return [request for request in self.queries.of_requester(person, LIVE)
                if not request.bundle and request.route is not Route.REVIEW]

    def waiting_on(self, person: str) -> list[AccessRequest]:
        """Pending requests this person may approve and has not approved yet."""
        return [request for request in self.queries.in_states("pending")
                if person in self.progress(request).deciders]

    # -- the use cases people start (bot/usecases/) ----------------------------------------
    def submit(self, requester: Person, connector_id: str, entitlement_id: str,
               duration: timedelta | None, justification: str, ticket: str = "",
               break_glass: bool = False, filer: Person | None = None) -> AccessRequest:
        return self.submissions.submit(requester, connector_id, entitlement_id, duration,
                                       justification, ticket, break_glass, filer)

    def approve(self, request_id: str, approver: str) -> AccessRequest:
        """Approve, or (under a rule with step-up) send the push that the approval waits on."""
        return self.step_ups.approve(request_id, approver)

    def deny(self, request_id: str, approver: str, reason: str) -> AccessRequest:
        return self.decisions.deny(request_id, approver, reason)

    def cancel(self, request_id: str, person: str) -> AccessRequest:
        return self.decisions.cancel(request_id, person)

    def decline(self, request_id: str, person: str) -> AccessRequest:
        return self.decisions.decline(request_id, person)

    def check_decidable(self, request_id: str, approver: str) -> AccessRequest:
        return self.decisions.check_decidable(request_id, approver)

    def review(self, request_id: str, person: str) -> AccessRequest:
        return self.step_ups.review(request_id, person)

    def extend(self, request_id: str, person: str, duration: timedelta | None,
               justification: str) -> AccessRequest:
        return self.extensions.extend(request_id, person, duration, justification)

    def check_extendable(self, request_id: str, person: str) -> AccessRequest:
        return self.extensions.check_extendable(request_id, person)

    def end_early(self, request_id: str, person: str) -> AccessRequest | None:
        return self.revocations.end_early(request_id, person)

    def complete_task(self, request_id: str, person: str) -> AccessRequest:
        return self.tasks.complete_task(request_id, person)

    # -- the use cases the scheduler starts ------------------------------------------------
    def provision(self, request_id: str) -> AccessRequest | None:
        return self.provisions.provision(request_id)

    def run_due(self) -> datetime | None:
        return self.due.run_due()

    def settle_step_ups(self) -> int:
        return self.step_ups.settle()

    def watch_tickets(self) -> list[str]:
        return self.ticket_watch.run()

    def verify_revocations(self, within: timedelta = timedelta(hours=24)) -> list[str]:
        return self.revocations.verify(within)

"""A new request, checked before it is stored: what it names, the rule that governs it, and
everything the requester must fix, by form field.

Pure reading: nothing here writes, asks anyone or calls a connector.  A ticket a rule checks in
its tracker is read there (`TicketLookup`), and whether the requester is on call is asked of the
on-call service (`OnCall`), both outside the requester's lock: they are HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta

from bot.approvers import ApproverRouting
from bot.domain.errors import InvalidRequestError, OnCallUnknownError, TicketUncheckableError
from bot.domain.kinds import AutoApproval, Form, Ticket
from bot.domain.kinds.ticket import TicketFacts
from bot.domain.on_call import OnCallShift
from bot.domain.request import AccessRequest, BundleItem, Route, State, new_request_id
from bot.domain.rules import BUNDLE, Conflict, Rule, RuleBook, Target
from bot.invariants import Invariants, conflict_text
from bot.ports import (
    CatalogReads,
    Clock,
    NoOnCall,
    NoTracker,
    OnCall,
    Person,
    RequestLookup,
    SyncedAccount,
    SyncedEntitlement,
    TicketLookup,
)
from bot.routing import Routing


@dataclass(frozen=True)
class AutoFinding:
    """Whether the rule's auto-approval applies to the requester, and what it found."""

    approves: bool
    shift: OnCallShift | None = None  # the on-call shift that approves them
    unknown: str | None = None  # why whether they are on call could not be learnt


@dataclass(frozen=True)
class Draft:
    """A checked submission, ready to be filed: the request and its rule, and what was found
    about the requester when it was checked (filing checks it again under their lock)."""

    request: AccessRequest
    rule: Rule
    conflicts: tuple[str, ...]  # names of the separation-of-duties rules it would break
    approvers: list[str]  # whom to ask if people decide it
    missing: str | None  # why people could never approve it, if so
    auto: AutoFinding = AutoFinding(False)  # why it is approved at once, or not


@dataclass
class Intake:
    lookup: RequestLookup
    catalog: CatalogReads
    rules: Callable[[], RuleBook]
    routing: Routing
    approvers: ApproverRouting
    invariants: Invariants
    clock: Clock
    provisioning: dict[str, bool]  # connector id → may Latchkey change it?
    connector_types: dict[str, str]  # connector id → okta, celigo …
    tickets: TicketLookup = field(default_factory=NoTracker)
    on_call: OnCall = field(default_factory=NoOnCall)

    def validate(self, requester: Person, connector_id: str, entitlement_id: str,
                 duration: timedelta | None, justification: str, ticket: str, break_glass: bool,
                 filer: Person | None = None) -> Draft:
        """The checked submission, or InvalidRequestError saying what to fix, by field.
        `filer`: who files it, when not the requester (the request is then for `requester`)."""
        rules = self.rules()  # one reading throughout, even if a reload swaps them meanwhile
        self.approvers.forget_on_call()  # whoever is on call now is asked, not who was
        target, entitlements = self._asked_for(connector_id, entitlement_id)
        rule = rules.rule_for(target)
        problems = rule.problems(Form(justification, ticket, break_glass, for_someone_else=filer is not None))
        facts = None
        if ticket and "ticket" not in problems:
            facts, ticket_problem = self._checked_ticket(rule, ticket, requester)
            if ticket_problem:
                problems["ticket"] = ticket_problem
        if duration_problem := rule.policy.duration_problem(duration):
            problems["duration"] = duration_problem
        accounts = [self.catalog.account_by_email(e.connector_id, requester.email or "") for e in entitlements]
        request = replace(self._new_request(requester, target, entitlements, accounts, duration,
                                            justification, rule), ticket=ticket or None)
        if facts is not None:
            request = replace(request, ticket=facts.key, ticket_summary=facts.summary,
                              ticket_status=facts.status, ticket_url=facts.url)
        if filer is not None:
            request = replace(request, filed_by=filer.id)
            problems.update(self._filing_problems(request, filer, break_glass, problems))
        conflicts = self.lookup.read_as(requester.id, lambda ledger: self.invariants.conflicts(request, ledger))
        # A request may carry one conflict's extra approval step; any other conflict refuses it.
        refusing = [c for c in conflicts if c.action == "refuse"] or conflicts[1:]
        people = replace(request, conflict=conflicts[0].name if conflicts and not refusing else None)
        # Nobody is approved at once on someone else's behalf: people decide what others file.
        auto = AutoFinding(False) if break_glass or conflicts or filer else self._auto_approves(requester, rule)
        request = replace(people, route=(  # `people`: as it would be if people decide it
            Route.BREAK_GLASS if break_glass else Route.AUTO if auto.approves else Route.PEOPLE))
        if conflicts and request.route == Route.BREAK_GLASS:
            problems["break_glass"] = f"Break-glass cannot be used here: {conflict_text(conflicts[0])}"
        elif request.route == Route.BREAK_GLASS and not self.routing.break_glass_reviewers(people):
            problems["break_glass"] = ("Break-glass cannot be used here: nobody but you could review it "
                                       "afterwards. Ask for approval instead.")
        missing = self.routing.missing_approvers(people)
        if missing:  # nobody left: say so plainly where it is an on-call service that cannot answer
            missing = self.routing.on_call_unknown(people) or missing
        if access_problem := self._access_problem(requester, entitlements, accounts, request,
                                                  refusing, missing):
            problems["access"] = access_problem
        if target.connector_id == BUNDLE and (weaker := self.invariants.bundle_problem(
                rule, [self._target_of(e) for e in entitlements])):
            problems["access"] = weaker
        if problems:
            raise InvalidRequestError(problems)
        return Draft(request, rule, tuple(c.name for c in conflicts),
                     self.routing.approvers_of(people), missing, auto)

    def _filing_problems(self, request: AccessRequest, filer: Person, break_glass: bool,
                         found: dict[str, str]) -> dict[str, str]:
        """What stops `filer` filing `request` for its requester: break-glass (never for
        someone else; nor is auto-approval), and who the rule lets file for others."""
        problems = {"break_glass": "Break-glass is only for your own access: ask for approval instead."} \
            if break_glass else {}
        if "for" not in found:
            standing = self.invariants.filer_standing(
                request, filer.email or "", self.routing.approves_under_rule(request, filer.id))
            if problem := self.invariants.filing_problem(request, standing):
                problems["for"] = problem
        return problems

    def _checked_ticket(self, rule: Rule, key: str, requester: Person) -> tuple[TicketFacts | None, str | None]:
        """The ticket as the rule's tracker shows it, and what is wrong with it there; (None,
        None) when the rule checks no tracker."""
        kind = rule.kind(Ticket)
        if kind.tracker is None:
            return None, None
        site, email = kind.tracker.site, requester.email or ""
        try:
            facts = self.tickets.ticket(site, key)
            return facts, kind.tracker_problem(key, facts, email, self._account_if_hidden(kind, facts, email))
        except TicketUncheckableError:
            return None, f"Cannot check {key} right now; try again in a minute."

    def _account_if_hidden(self, kind: Ticket, facts: TicketFacts | None, email: str) -> str | None:
        """The requester's account in the tracker, looked up only when it must be compared
        with an assignee whose email the tracker hides."""
        assert kind.tracker is not None
        if (facts is None or not kind.tracker.must_be_assigned_to_requester or not email
                or facts.assignee_account is None or facts.assignee_email is not None):
            return None
        return self.tickets.account_of(kind.tracker.site, email)

    def rule_for(self, connector_id: str, entitlement_id: str) -> Rule | None:
        """The rule a request for this item would be filed under; None if it cannot be asked for."""
        try:
            target, _ = self._asked_for(connector_id, entitlement_id)
        except InvalidRequestError:
            return None
        return self.rules().rule_for(target)

    def _asked_for(self, connector_id: str, entitlement_id: str) -> tuple[Target, list[SyncedEntitlement]]:
        """What a request names: its target for the rules, and the entitlements it would grant."""
        if connector_id == BUNDLE:
            bundle = self.rules().bundle(entitlement_id)
            if bundle is None:
                raise InvalidRequestError({"access": "There is no such bundle. Pick an item from the list."})
            named = [self.catalog.entitlement_named(cid, name) for cid, name in bundle.items]
            if missing := [f"{cid}:{name}" for (cid, name), e in zip(bundle.items, named) if e is None]:
                raise InvalidRequestError({"access": f"The bundle {bundle.name} includes {', '.join(missing)}, "
                                                     "which Latchkey cannot find. Ask an admin to fix the bundle."})
            return bundle.target, [e for e in named if e is not None]
        entitlement = self.catalog.entitlement(connector_id, entitlement_id)
        if entitlement is None or not entitlement.requestable:
            raise InvalidRequestError({"access": "That is not something you can request. Pick an item from the list."})
        return self._target_of(entitlement), [entitlement]

    @staticmethod
    def _target_of(entitlement: SyncedEntitlement) -> Target:
        return Target(entitlement.connector_id, entitlement.resource_type,
                      entitlement.resource_name or entitlement.name)

    def _new_request(self, requester: Person, target: Target, entitlements: list[SyncedEntitlement],
                     accounts: list[SyncedAccount | None], duration: timedelta | None,
                     justification: str, rule: Rule) -> AccessRequest:
        now, first, account = self.clock.now(), entitlements[0], accounts[0]
        request = AccessRequest(
            id=new_request_id(), requester=requester.id, requester_email=requester.email or "",
            account_id=account.id if account else "", connector_id=first.connector_id,
            entitlement_id=first.id, entitlement_name=first.name,
            duration=duration or timedelta(0),
            justification=justification, state=State.PENDING, created_at=now,
            attention_at=rule.policy.first_attention(now), rule=rule.name,
            manual=not self._automatic(first))
        if target.connector_id == BUNDLE:
            request = replace(
                request, connector_id=BUNDLE, entitlement_id=target.resource_name,
                entitlement_name=target.resource_name, account_id="", manual=False,
                items=tuple(BundleItem(connector_id=e.connector_id, entitlement_id=e.id, name=e.name,
                                       account_id=a.id if a else "", manual=not self._automatic(e))
                            for e, a in zip(entitlements, accounts)))
        return request

    def _automatic(self, entitlement: SyncedEntitlement) -> bool:
        return entitlement.provisionable and self.provisioning.get(entitlement.connector_id, False)

    def _access_problem(self, requester: Person, entitlements: list[SyncedEntitlement],
                        accounts: list[SyncedAccount | None], request: AccessRequest,
                        refusing: list[Conflict], missing: str | None) -> str | None:
        found, you = [], "They" if request.filed_by else "You"
        for entitlement, account in zip(entitlements, accounts):
            if not account or not account.active:
                email = requester.email or "your Slack profile (it shows no email)"
                return f"There is no active {entitlement.connector_id} account for {email}."
            found.append(account)
        if all(self.catalog.holds(e.connector_id, e.id, a.id) for e, a in zip(entitlements, found)):
            return f"{you} already have {'everything in ' if request.is_bundle else ''}{request.entitlement_name}."
        if (existing := self.lookup.open_for(requester.id, request.connector_id, request.entitlement_id)):
            if existing.state == State.ACTIVE:
                return f"{you} already have {request.entitlement_name} through request {existing.id}."
            return f"{you} already have a request for {request.entitlement_name} waiting ({existing.id})."
        if refusing:
            return conflict_text(refusing[0])
        if request.route is Route.PEOPLE:
            return missing
        return None

    def _auto_approves(self, requester: Person, rule: Rule) -> AutoFinding:
        """Is the requester in one of the rule's auto-approval groups, or on call now as it
        asks?  (Its cap on uses is counted when the request is filed, under the requester's
        lock.)  An on-call service that cannot answer approves nobody."""
        auto = rule.kind(AutoApproval)
        if not auto.anyone:
            return AutoFinding(False)
        if requester.id in self.approvers.members(auto.slack_groups) or any(
                held for connector_id, kind in self.connector_types.items() if kind == "okta"
                for held in self.catalog.groups_of(connector_id, requester.email or "")
                if held in auto.okta_groups):
            return AutoFinding(True)
        if (check := auto.on_call) is None:
            return AutoFinding(False)
        try:
            shifts = self.on_call.on_call(check.source, check.schedules, check.escalation_policies)
        except OnCallUnknownError as exc:
            return AutoFinding(False, unknown=str(exc) or "no answer")
        shift = check.shift_of(requester.email or "", shifts)
        return AutoFinding(shift is not None, shift)

"""The policy's guarantees, each enforced by one function at every transition that could break it.

    guarantee                                               checked at
    ------------------------------------------------------  ---------------------------------------
    separation of duties: no conflicting pair held or       submit, extend, approve (the approval
      asked for together (pending included), unless the       that approves), grant
      request carries the conflict's extra approval step
    requests per hour, extensions included                  submit, extend
    auto-approval uses per person and period                submit (beyond the cap: people decide)
    the access window, from the first grant, stays within   extend (beyond it: people decide), and
      `max_total_duration` unless people approve it           when an extension is applied
    somebody other than the requester can review            config load (bot/config/), submit
      a break-glass use
    a bundle is at least as strict as each item's rule      config load (bot/config/), submit
    only those the rule's `request_for` names may file for   submit, every approval (the filer's
      someone else (a manager: as Okta says now)              standing read just before)
    under a rule with step-up, an approval or a break-      approve, review (an extension's
      glass review counts only once the approver accepted     approval included), after the
      a push for it (bot/usecases/step_up.py)                 click-time checks

Nobody deciding their own request is kept by routing itself (bot/routing.py: the request's
parties, its requester and whoever filed it for them, are never among the people asked,
reviewers included) and checked again at every click (`own_request`).

The checks that depend on what else the requester has (conflicts, caps) read it through a
`Ledger` (bot/ports.py) taken inside `Requests.guarded()` or the approval's own transaction:
with the requester's lock held, in the transaction that applies the transition.  Two transitions at the
same instant (two forms, two approvals, a grant next to an extension, on two replicas) are so
checked one after the other, and cannot both pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.domain.errors import ManagerUncheckableError, PolicyError, StepUpRequiredError
from bot.domain.kinds import AutoApproval, Filer, FilerStanding, RequestFor, StepUp
from bot.domain.request import AccessRequest, Route, State
from bot.domain.rules import Conflict, Rule, RuleBook, Target
from bot.domain.step_up import Decision
from bot.ports import CatalogReads, Ledger, ManagerLookup, NoManagers

HOUR = timedelta(hours=1)


class StandingChanged(Exception):
    """What the requester holds or asked for changed since the request was checked: check it
    again (it may now need an extra approval step)."""


def conflict_text(conflict: Conflict) -> str:
    return (f"Nobody may hold {conflict.first} and {conflict.second} together, and you would "
            f"(separation of duties: {conflict.name}).")


@dataclass
class Invariants:
    rules: Callable[[], RuleBook]  # the rules in force (a reload replaces them)
    catalog: CatalogReads
    managers: ManagerLookup = field(default_factory=NoManagers)  # who manages whom (Okta)
    # Whether (request id, person, decision) has a push the person accepted and that is not yet
    # applied (storage/step_ups.py); by default none has.
    stepped_up: Callable[[str, str, Decision], bool] = lambda request_id, person, decision: False

    # -- nobody decides their own request --------------------------------------------------
    @staticmethod
    def own_request(request: AccessRequest, person: str) -> str | None:
        """Why `person` may not decide or review `request`: it is for them, or they filed it."""
        if person == request.requester:
            return "Nobody can decide their own request."
        if person == request.filed_by:
            return "Nobody can decide a request they filed for someone else."
        return None

    # -- requests for someone else ---------------------------------------------------------
    def filer_standing(self, request: AccessRequest, filer_email: str, approves: bool) -> FilerStanding:
        """What the filer is to the request's beneficiary now.  Asks Okta, so it is called
        outside any transaction; the answer is checked inside (`filing_problem`)."""
        filers = self.rules().named(request.rule).kind(RequestFor)
        if not filers.covers(Filer.MANAGERS) or filers.covers(Filer.ANYONE):
            return FilerStanding(manager=False, approver=approves)
        try:
            manager: bool | None = self.managers.is_manager(filer_email, request.requester_email)
        except ManagerUncheckableError:
            manager = None  # refused: an unchecked manager never passes
        return FilerStanding(manager=manager, approver=approves)

    def filing_problem(self, request: AccessRequest, standing: FilerStanding) -> str | None:
        """At filing and at every approval: why the filer may not (any longer) file this request
        for its beneficiary under the rule in force; None for a request filed by its requester."""
        if request.filed_by is None:
            return None
        return self.rules().named(request.rule).kind(RequestFor).refusal(standing)

    # -- separation of duties --------------------------------------------------------------
    def conflicts(self, request: AccessRequest, ledger: Ledger, pending_too: bool = True) -> list[Conflict]:
        """The separation-of-duties rules `request` would break next to what its requester
        holds (as synced) or is getting (approved or live requests) and, with `pending_too`,
        what they are still asking for.  A new request is checked against pending ones too, so
        two sides are never asked for together; an approval or a grant against what is approved,
        so that of two sides filed before the conflict existed, the first approved wins.  Its
        own bundle, items and extensions do not count against it: conflicts among a bundle's
        items were settled when the bundle was filed."""
        book = self.rules()
        if not book.conflicts:
            return []
        family = {request.id, request.bundle, request.extends} - {None}
        others = set(self.catalog.held_by_email(request.requester_email or ""))
        for other in ledger.live():
            if (pending_too or other.state is not State.PENDING) and \
                    not family & {other.id, other.bundle, other.extends}:
                others.update(self.names(other))
        wanted = self.names(request)
        found: list[Conflict] = []
        for item in wanted:
            for conflict in book.conflicts_for(item, others | (set(wanted) - {item})):
                if conflict not in found:
                    found.append(conflict)
        return found

    def uncarried(self, request: AccessRequest, ledger: Ledger) -> list[Conflict]:
        """At approval, grant and extension: the conflicts `request` would break next to what
        is approved or held that it carries no approval for: all but the one whose extra step
        it carries (`request.conflict`)."""
        return [c for c in self.conflicts(request, ledger, pending_too=False)
                if not (c.action == "approve" and c.name == request.conflict)]

    def check_conflicts(self, request: AccessRequest, ledger: Ledger) -> None:
        """At approval and grant: refuse a request that would break separation of duties."""
        if broken := self.uncarried(request, ledger):
            raise PolicyError(conflict_text(broken[0]))

    def names(self, request: AccessRequest) -> list[tuple[str, str]]:
        """(connector id, name as conflicts match it) of what `request` grants."""
        parts = ([(item.connector_id, item.entitlement_id, item.name) for item in request.items]
                 if request.is_bundle else
                 [(request.connector_id, request.entitlement_id, request.entitlement_name)])
        named = []
        for connector_id, entitlement_id, name in parts:
            entitlement = self.catalog.entitlement(connector_id, entitlement_id)
            named.append((connector_id, (entitlement.resource_name or entitlement.name)
                          if entitlement is not None else name))
        return named

    # -- caps ------------------------------------------------------------------------------
    def rate_problem(self, ledger: Ledger, now: datetime) -> str | None:
        """Requests per hour, per person: a new request or an extension past the cap is refused."""
        cap = self.rules().max_requests_per_hour
        if ledger.asked_since(now - HOUR) >= cap:
            return (f"You have made {cap} requests in the last hour. "
                    "Please wait a while before asking again.")
        return None

    @staticmethod
    def auto_approval_left(rule: Rule, ledger: Ledger, now: datetime) -> bool:
        """Whether the rule's auto-approval cap leaves this person another use."""
        auto = rule.kind(AutoApproval)
        return auto.anyone and (auto.max_uses is None or ledger.routed_since(
            rule.name, Route.AUTO, now - auto.period) < auto.max_uses)

    # -- the access window -----------------------------------------------------------------
    @staticmethod
    def window_exceeded(original: AccessRequest, more: timedelta, rule: Rule) -> bool:
        """Would `more` time take the access past the rule's whole window, counted from the
        first grant?  Beyond it, people must approve the extension."""
        if original.granted_at is None or original.expires_at is None:
            return False
        return original.expires_at + more - original.granted_at > rule.policy.max_total_duration

    # -- step-up ---------------------------------------------------------------------------
    def check_step_up(self, request: AccessRequest, person: str, decision: Decision) -> None:
        """Refuse a decision its rule wants confirmed on the person's phone and that was not.
        Checked just before the decision's compare-and-set: an accepted push never becomes
        unaccepted, so what is checked still holds when the decision is written."""
        if self.rules().named(request.rule).kind(StepUp).required and \
                not self.stepped_up(request.id, person, decision):
            raise StepUpRequiredError("This needs you to confirm it on your phone first: click "
                                      "the button again to get a push.")

    # -- bundles ---------------------------------------------------------------------------
    def bundle_problem(self, rule: Rule, item_targets: list[Target]) -> str | None:
        """A bundle must ask at least as much as the rule of each of its items."""
        book = self.rules()
        for target in item_targets:
            item_rule = book.rule_for(target)
            if item_rule.name != rule.name and (weaker := rule.weaker_than(item_rule)):
                return (f"This bundle cannot be requested: its rule ({rule.name}) asks less than "
                        f"the rule for {target.resource_name} ({item_rule.name}): {weaker[0]}. "
                        "Ask an admin to fix the policy.")
        return None

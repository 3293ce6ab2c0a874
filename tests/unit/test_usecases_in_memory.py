"""Use cases run in memory, with fakes behind the ports: no database, no HTTP, no Slack."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.approvers import ApproverRouting
from bot.domain.kinds import ExtensionApproval
from bot.domain.policy import Policy
from bot.domain.request import AccessRequest, State
from bot.domain.rules import Conflict, EntitlementPattern, Rule, RuleBook
from bot.invariants import Invariants
from bot.routing import Routing
from bot.usecases.bundles import Bundles
from bot.usecases.core import Core
from bot.usecases.extend import Extend
from bot.usecases.provision import Provision

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
CAROL, ALICE = "UCAROL", "UALICE"
HOUR = timedelta(hours=1)


class FakeRequests:
    """Requests in a dict, each change a compare-and-set on the stored state, as in storage;
    both the transitions and the look-ups of the core."""

    def __init__(self, *requests: AccessRequest) -> None:
        self.requests = {request.id: request for request in requests}

    def get(self, request_id: str) -> AccessRequest | None:
        return self.requests.get(request_id)

    def guarded(self, requester: str, decide: Any) -> list[AccessRequest | None]:
        live = lambda: [r for r in self.requests.values() if r.requester == requester]  # noqa: E731
        added, moves = decide(SimpleNamespace(live=live, asked_since=lambda since: 0,
                                              routed_since=lambda rule, route, since: 0))
        for request in added:
            if isinstance(request, AccessRequest):
                self.requests[request.id] = request
        return self.move_each(moves)

    def move_each(self, moves: Any) -> list[AccessRequest | None]:
        return [self._apply(request_id, expected, changes)
                for request_id, expected, changes, _also in moves]

    def _apply(self, request_id: str, expected: str, changes: dict[str, Any]) -> AccessRequest | None:
        request = self.requests[request_id]
        if request.state != expected:
            return None
        # The changes are stored fields, as stored: the state by its value.
        changed = replace(request, **{**changes, "state": State(changes.get("state", request.state))})
        self.requests[request_id] = changed
        return changed

    def extension_of(self, original_id: str) -> AccessRequest | None:
        return next((r for r in self.requests.values() if r.extends == original_id), None)

    def approvals(self, request_id: str) -> dict[str, int]:
        return {}


@dataclass
class FakeWorkers:
    handed: list[Any] = field(default_factory=list)

    def submit(self, fn: Any, arg: Any) -> None:
        self.handed.append(arg)


def _core(requests: FakeRequests, workers: FakeWorkers, book: RuleBook) -> Core:
    audit = SimpleNamespace(entry=lambda event, at: ("audit", event))
    notifier = SimpleNamespace(message=lambda event: ("message", event), wake=lambda: None)
    return Core(requests, requests, audit, notifier, SimpleNamespace(now=lambda: NOW), lambda: book,
                wake=lambda when: None, workers=workers)


def _parts(requests: FakeRequests, book: RuleBook, held: tuple[tuple[str, str], ...] = ()
           ) -> tuple[Core, FakeWorkers, Routing, Invariants]:
    workers = FakeWorkers()
    catalog = SimpleNamespace(held_by_email=lambda email: list(held), entitlement=lambda cid, eid: None)
    routing = Routing(lambda: book, ApproverRouting({"okta": [ALICE]}, directory=None))
    return _core(requests, workers, book), workers, routing, Invariants(lambda: book, catalog)


def _book(**rule: Any) -> RuleBook:
    policy = Policy(durations=(HOUR, 2 * HOUR), max_duration=2 * HOUR, max_total=3 * HOUR)
    return RuleBook(default=Rule("default", policy, **rule))


def _request(state: State, **fields: Any) -> AccessRequest:
    return AccessRequest(**{**dict(
        id="a1", requester=CAROL, requester_email="carol@acme.com", account_id="00ucarol",
        connector_id="okta", entitlement_id="g1", entitlement_name="eng-admins",
        duration=HOUR, justification="deploy", state=state, created_at=NOW - HOUR,
        rule="default", preexisting=False), **fields})


def test_an_extension_within_the_window_is_approved_at_once_and_handed_to_the_workers():
    """Given access granted an hour ago until an hour from now under a 3-hour window, when Carol
    asks for one more hour, then it is approved by Latchkey at once and handed to the workers."""
    book = _book(kinds=(ExtensionApproval(needed=False),))
    requests = FakeRequests(_request(State.ACTIVE, granted_at=NOW - HOUR, expires_at=NOW + HOUR))
    core, workers, routing, invariants = _parts(requests, book)
    extension = Extend(core, invariants, routing).extend("a1", CAROL, HOUR, "still deploying")
    assert (extension.state, extension.route, extension.extends) == (State.APPROVED, "auto", "a1")
    assert workers.handed == [(extension.id, State.APPROVED)]


def test_an_extension_past_the_window_goes_to_people_even_when_the_rule_approves_extensions():
    """Given the same access, when Carol asks for two more hours (past the 3-hour window), then
    the extension waits for the approvers and nothing is handed to the workers."""
    book = _book(kinds=(ExtensionApproval(needed=False),))
    requests = FakeRequests(_request(State.ACTIVE, granted_at=NOW - HOUR, expires_at=NOW + HOUR))
    core, workers, routing, invariants = _parts(requests, book)
    extension = Extend(core, invariants, routing).extend("a1", CAROL, 2 * HOUR, "still deploying")
    assert (extension.state, extension.route) == (State.PENDING, "people")
    assert workers.handed == []


def test_a_grant_that_would_now_break_separation_of_duties_fails_at_the_claim():
    """Given an approved request for eng-admins and Carol now holding payments, which conflicts
    with it, when the workers provision it, then it fails with the conflict named and no
    connector is called (there is none to call)."""
    conflict = Conflict("admins-vs-payments", EntitlementPattern.parse("okta:eng-admins"),
                        EntitlementPattern.parse("okta:payments"))
    book = RuleBook(default=_book().default, conflicts=(conflict,))
    requests = FakeRequests(_request(State.APPROVED, decided_at=NOW))
    core, _, routing, invariants = _parts(requests, book, held=(("okta", "payments"),))
    extend = Extend(core, invariants, routing)
    provision = Provision(core, {}, None, None, extend, Bundles(core, extend, signs_out=lambda request: False),
                          invariants, routing)
    failed = provision.provision("a1")
    assert failed is not None and failed.state is State.FAILED
    assert "admins-vs-payments" in (failed.last_error or "")

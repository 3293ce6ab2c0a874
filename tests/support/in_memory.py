"""The request form's checks without a database, Slack or Okta: the real rules (written as the
config data an admin would write), routing, invariants and intake, over in-memory stand-ins for
the synced catalog, the people directory and the requester's other requests.

The stand-ins hold what the stories' sandboxes are seeded with (tests/support/harness.py): the cast, the
Okta groups eng-admins, billing-admins, prod-readers and data-admins, Carol already in
prod-readers, and no Okta account for Erin.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from bot.approvers import ApproverRouting
from bot.config import parse_config
from bot.domain.errors import InvalidRequestError
from bot.domain.policy import parse_duration
from bot.domain.request import AccessRequest, State
from bot.domain.rules import BUNDLE, RuleBook
from bot.intake import Draft, Intake
from bot.invariants import Invariants
from bot.ports import NoOnCall, NoTracker, OnCall, Person, SystemClock, TicketLookup
from bot.routing import Routing
from tests.support.config import offline_config_text
from tests.support.harness import BOB, CAROL, PEOPLE

GROUPS = ("eng-admins", "billing-admins", "prod-readers", "data-admins")
OWNERS = ("alice@acme.com", BOB)  # the stories' owners of the okta connector
# The stories' policy (tests/support/config.py): what a test's policy keys change.
POLICY = {"durations": ["1h", "4h", "8h", "1d"], "max_duration": "8h", "approvals": 1}
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def rulebook(owners: Sequence[str] = OWNERS, **policy: Any) -> RuleBook:
    """The rules of a config whose `policy:` section is the stories' policy changed by `policy`
    (e.g. `rules=[...]`, `conflicts=[...]`), loaded and checked as Latchkey loads a file."""
    return parse_config(offline_config_text(owners, **{**POLICY, **policy})).policy.to_rulebook()


@dataclass(frozen=True)
class Entitlement:
    """What the catalog knows of one requestable Okta group membership."""

    connector_id: str
    id: str
    name: str
    resource_type: str = "group"
    resource_name: str = ""
    requestable: bool = True
    provisionable: bool = True


@dataclass(frozen=True)
class Account:
    id: str
    active: bool = True


@dataclass
class Catalog:
    """The synced Okta org: each group membership an entitlement, an account per email, and
    who holds which group directly (`held`: email → group names)."""

    groups: Sequence[str] = GROUPS
    held: Mapping[str, Sequence[str]] = field(default_factory=lambda: {"carol@acme.com": ["prod-readers"]})
    without_account: Sequence[str] = ("erin@acme.com",)

    def _by_name(self) -> dict[str, Entitlement]:
        return {name: Entitlement("okta", f"group:{name}:member", name, resource_name=name)
                for name in self.groups}

    def entitlement(self, connector_id: str, entitlement_id: str) -> Entitlement | None:
        return next((e for e in self._by_name().values()
                     if (e.connector_id, e.id) == (connector_id, entitlement_id)), None)

    def entitlement_named(self, connector_id: str, name: str) -> Entitlement | None:
        found = self._by_name().get(name)
        return found if found and found.connector_id == connector_id else None

    def account_by_email(self, connector_id: str, email: str) -> Account | None:
        return None if email in self.without_account else Account(f"00u-{email}")

    def holds(self, connector_id: str, entitlement_id: str, account_id: str) -> bool:
        email = account_id.removeprefix("00u-")
        return any(self._by_name()[name].id == entitlement_id for name in self.held.get(email, ()))

    def held_by_email(self, email: str) -> list[tuple[str, str]]:
        return [("okta", name) for name in self.held.get(email, ())]

    def groups_of(self, connector_id: str, email: str) -> list[str]:
        return list(self.held.get(email, ())) if connector_id == "okta" else []


@dataclass
class Directory:
    """The cast by email, and Slack user groups by handle (`groups`: handle → person ids)."""

    groups: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def person_for_email(self, email: str) -> Person | None:
        return next((Person(pid, address) for pid, address in PEOPLE.items() if address == email), None)

    def members_of_group(self, group: str) -> list[str] | None:
        members = self.groups.get(group.removeprefix("@"))
        return list(members) if members is not None else None


class NoOtherRequests:
    """A requester with no other request, pending or live, and none filed in the last hour."""

    def read_as(self, requester: str, look):
        return look(SimpleNamespace(live=lambda: [], asked_since=lambda since: 0,
                                    routed_since=lambda rule, route, since: 0))

    def open_for(self, requester: str, connector_id: str, entitlement_id: str) -> None:
        return None


@dataclass
class Form:
    """The request form's checks (bot/intake.py) for one config, as the service wires them."""

    rules: RuleBook
    owners: Sequence[str] = OWNERS  # the okta connector's, as in the config the rules came from
    catalog: Catalog = field(default_factory=Catalog)
    directory: Directory = field(default_factory=Directory)
    tickets: TicketLookup = field(default_factory=NoTracker)  # where the rules check tickets
    on_call: OnCall = field(default_factory=NoOnCall)  # who is on call

    @property
    def routing(self) -> Routing:
        return Routing(lambda: self.rules, self.approvers)

    @property
    def approvers(self) -> ApproverRouting:
        return ApproverRouting({"okta": list(self.owners)}, self.directory, self.on_call)

    @property
    def intake(self) -> Intake:
        return Intake(NoOtherRequests(), self.catalog, lambda: self.rules, self.routing, self.approvers,
                      Invariants(lambda: self.rules, self.catalog), SystemClock(), {"okta": True},
                      {"okta": "okta"}, self.tickets, self.on_call)

    def submit(self, pick: str, user: str = CAROL, duration: str | None = "1h",
               why: str = "Fix the INC-7 outage", ticket: str = "", break_glass: bool = False) -> Draft:
        """What `user` asking for `pick` (a group, or a bundle by name) comes to: the checked
        request, or InvalidRequestError with what to fix under each field."""
        entitlement = self.catalog.entitlement_named("okta", pick)
        connector_id, entitlement_id = ("okta", entitlement.id) if entitlement else (BUNDLE, pick)
        return self.intake.validate(Person(user, PEOPLE.get(user)), connector_id, entitlement_id,
                                    parse_duration(duration) if duration else None, why, ticket, break_glass)

    def problems(self, pick: str, **form: Any) -> dict[str, str]:
        """What the form would show under each field; {} when the request would be filed."""
        try:
            self.submit(pick, **form)
        except InvalidRequestError as error:
            return error.problems
        return {}


def request(entitlement: str = "eng-admins", state: State = State.PENDING, requester: str = CAROL,
            rule: str = "default", hours: float = 1, **more: Any) -> AccessRequest:
    """One of `requester`'s requests for an Okta group, as the core sees it."""
    return AccessRequest(id=more.pop("id", entitlement), requester=requester,
                         requester_email=PEOPLE[requester], account_id=f"00u-{PEOPLE[requester]}",
                         connector_id="okta", entitlement_id=f"group:{entitlement}:member",
                         entitlement_name=entitlement, duration=timedelta(hours=hours),
                         justification="Fix the INC-7 outage", state=state, created_at=T0, rule=rule, **more)


@dataclass
class Ledger:
    """A requester's other requests as the invariants read them under their lock
    (bot/invariants.py `Ledger`): `live` ones, how many were filed in the last hour, and how
    many each rule approved automatically in its period."""

    live_requests: Sequence[AccessRequest] = ()
    asked: int = 0
    auto_approved: int = 0
    asked_for: list[tuple[Any, ...]] = field(default_factory=list)  # the windows the checks asked about

    def live(self) -> list[AccessRequest]:
        return list(self.live_requests)

    def asked_since(self, since: datetime) -> int:
        self.asked_for.append(("asked", since))
        return self.asked

    def routed_since(self, rule: str, route: Any, since: datetime) -> int:
        self.asked_for.append((rule, route, since))
        return self.auto_approved

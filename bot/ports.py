"""The small interfaces the core needs from the outside world.

The core (the use cases in bot/usecases/, intake, the invariants, slots) is written against
these, so it knows nothing of Slack, HTTP or SQL; the Slack adapter, the connectors and the
storage repositories plug in behind them.  Requests cross them as bot/domain's AccessRequest.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

from bot.domain.errors import NoPushFactorError, OnCallUnknownError, TicketUncheckableError
from bot.domain.events import Event
from bot.domain.kinds.ticket import TicketFacts
from bot.domain.on_call import OnCallShift
from bot.domain.request import AccessRequest, ApprovalOutcome, Route
from bot.domain.reviews import Campaign, Holding, ReviewItem
from bot.domain.step_up import Challenge, ChallengeState, Decision, PushResult

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ShiftedClock:
    """Real time plus an offset that tests (and the demo) move forward to skip a wait."""

    def __init__(self, offset: timedelta = timedelta()) -> None:
        self.offset = offset

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


@dataclass(frozen=True)
class Person:
    """Someone acting on Latchkey: an opaque id (a Slack user id in practice) and an email."""

    id: str
    email: str | None
    name: str = ""


class Directory(Protocol):
    """Finds people; `person_for_email` returns None when nobody has that address.

    `members_of_group` takes a group's handle ("@security-team") or id ("S0123ABCD") and
    returns its members' person ids, or None when no enabled group goes by that name.
    """

    def person_for_email(self, email: str) -> Person | None: ...

    def members_of_group(self, group: str) -> list[str] | None: ...


class Notifier(Protocol):
    """Tells people what happened.

    The use cases ask for the `message()` that tells of an event (bot/domain/events.py) and
    write it in the same transaction as the change it reports, so a crash can never keep the
    change and lose the message; `wake()` then asks for prompt delivery.
    """

    def message(self, event: Event) -> object: ...

    def wake(self) -> None: ...


# -- storage ---------------------------------------------------------------------------------
# What the audit log and the notifier build to be written with a change: opaque to the core,
# which only hands it back to the store in `also`.
Row = Any
# A compare-and-set: (request id, the state it must still be in, the changes, what is written
# with it).  The changes are stored fields of AccessRequest by name, as stored: a state by its
# value, `decided_by` comma-separated (storage/mapping.py).
Move = tuple[str, str, dict[str, Any], list[Any]]


class Ledger(Protocol):
    """What one requester has, as read under their lock (see bot/invariants.py)."""

    def live(self) -> list[AccessRequest]:
        """Their requests that are pending, approved, being granted, held or being taken back."""

    def asked_since(self, since: datetime) -> int:
        """How many requests they filed since then, extensions included, bundle items not."""

    def routed_since(self, rule: str, route: Route, since: datetime) -> int:
        """How many of their requests `rule` approved by `route` (auto) since then."""


class RequestLookup(Protocol):
    """Requests as the use cases look them up (storage/request_queries.py `RequestQueries`)."""

    def get(self, request_id: str) -> AccessRequest | None: ...
    def read_as(self, requester: str, look: Callable[[Ledger], T]) -> T:
        """`look(ledger)` over the requester's requests as they stand, without their lock."""
    def children(self, bundle_id: str) -> list[AccessRequest]: ...
    def extension_of(self, original_id: str) -> AccessRequest | None: ...
    def open_for(self, requester: str, connector_id: str, entitlement_id: str) -> AccessRequest | None: ...
    def approvals(self, request_id: str) -> dict[str, int]: ...
    def revoked_since(self, since: datetime) -> list[AccessRequest]: ...
    def in_states(self, *states: str) -> list[AccessRequest]: ...
    def failed_since(self, since: datetime) -> list[AccessRequest]: ...


class DueScan(Protocol):
    """What the due-work loop asks of the stored deadlines (storage/request_queries.py)."""

    def due(self, now: datetime, limit: int = 500, revocations: bool = True) -> list[tuple[str, str]]: ...
    def next_deadline(self) -> datetime | None: ...


class RequestTransitions(Protocol):
    """The changes of requests (storage/requests.py `Requests`).

    Every change is a compare-and-set; `also` holds what is written in the same transaction,
    and only if the change happens: rows the audit log and the notifier built, and new
    requests.  Where a method applies a transition, the caller passes the target state,
    computed by the transition table (bot/domain/request.py)."""

    def guarded(self, requester: str, decide: Callable[[Ledger], tuple[Iterable[Any], Iterable[Move]]]
                ) -> list[AccessRequest | None]: ...
    def move(self, request_id: str, expected_state: str, also: Iterable[Any] = (), **changes: Any) -> bool: ...
    def move_each(self, moves: Iterable[Move]) -> list[AccessRequest | None]: ...
    def attend(self, request_id: str, state: str, seen: datetime, also: Iterable[Any] = (),
               **changes: Any) -> bool: ...
    def renew_lease(self, request_id: str, state: str, now: datetime, lease_until: datetime) -> bool: ...
    def release(self, request_id: str, state: str, lease_until: datetime) -> bool: ...
    def set_once(self, request_id: str, field: str, value: Any, also: Iterable[Any] = (),
                 **with_it: Any) -> bool: ...
    def claim_revocations(self, now: datetime, lease_until: datetime, limit: int, *, revoking: str,
                          also: Callable[[AccessRequest], Iterable[Any]] = ...) -> list[AccessRequest]: ...
    def approve(self, request_id: str, approver: str, step: int, needed: int, last_step: bool, now: datetime,
                *, approved: str, also: Callable[[AccessRequest, ApprovalOutcome], Iterable[Any]] = ...,
                guard: Callable[[Ledger, AccessRequest, bool], None] | None = None
                ) -> tuple[ApprovalOutcome, AccessRequest | None]: ...
    def apply_extension(self, extension_id: str, original_id: str, seen_expiry: datetime,
                        changes: dict[str, Any], *, extended: str, also: Iterable[Any] = ()) -> bool: ...
    def activate_bundle(self, bundle_id: str, changes: dict[str, Any], *, active: str,
                        also: Iterable[Any] = ()) -> bool: ...
    def end_children(self, bundle_id: str, now: datetime) -> int: ...


class SyncedEntitlement(Protocol):
    """An entitlement as the last sync of its connector found it (what the core reads of one)."""

    @property
    def connector_id(self) -> str: ...
    @property
    def id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def resource_type(self) -> str: ...
    @property
    def resource_name(self) -> str: ...  # what policy rules and conflicts match on ("" if none)
    @property
    def requestable(self) -> bool: ...
    @property
    def provisionable(self) -> bool: ...


class SyncedAccount(Protocol):
    """A person's account in a target, as the last sync found it."""

    @property
    def id(self) -> str: ...
    @property
    def active(self) -> bool: ...


class CatalogReads(Protocol):
    """The synced catalog as intake and the invariants read it (storage/catalog.py `Catalog`)."""

    def entitlement(self, connector_id: str, entitlement_id: str) -> SyncedEntitlement | None: ...
    def entitlement_named(self, connector_id: str, name: str) -> SyncedEntitlement | None:
        """The requestable entitlement called `name`, or the only one of a resource so named."""
    def account_by_email(self, connector_id: str, email: str) -> SyncedAccount | None: ...
    def holds(self, connector_id: str, entitlement_id: str, account_id: str) -> bool:
        """Whether the account holds it directly (not only through a group)."""
    def held_by_email(self, email: str) -> list[tuple[str, str]]:
        """(connector id, resource name) of everything the accounts with this email hold."""
    def groups_of(self, connector_id: str, email: str) -> list[str]:
        """Names of the groups the connector's account with this email belongs to."""
    def holdings(self, connector_ids: Iterable[str]) -> list[Holding]:
        """Everything held directly in these connectors, as of their last sync."""


class SlotBaseline(Protocol):
    @property
    def level(self) -> str | None: ...  # None: the account had no level


class SlotBaselineStore(Protocol):
    """Set-once levels of single-valued slots found before Latchkey's first grant there
    (storage/slot_baselines.py `SlotBaselines`; see bot/slots.py)."""

    def get(self, connector_id: str, slot: str, account_id: str) -> SlotBaseline | None: ...
    def record_once(self, connector_id: str, slot: str, account_id: str, level: str | None) -> str | None:
        """Store `level` unless a baseline is stored already; return the one stored."""
    def clear_unless_granted(self, connector_id: str, slot: str, account_id: str, leaving: str) -> None:
        """Forget the baseline unless Latchkey still grants anything to the account (but `leaving`)."""


class LiveGrants(Protocol):
    """Latchkey's own live grants (storage/request_queries.py `RequestQueries`)."""

    def granting_on(self, connector_id: str, account_id: str) -> list[AccessRequest]: ...


class AuditStore(Protocol):
    """The append-only audit log (storage/audit_log.py `AuditLog`): `entry()` builds the row
    that records an event, to write with a change; `append()` writes one on its own."""

    def entry(self, event: Event, at: datetime) -> Row: ...
    def append(self, event: Event, at: datetime, also: Iterable[Any] = ()) -> None: ...


class PushVerifier(Protocol):
    """Sends an approver a push to confirm a decision on their phone (Okta Verify), and reads
    its outcome.  Raises NoPushFactorError when the person has no active push factor, and
    another LatchkeyError when the service cannot be asked now."""

    def send_push(self, email: str) -> str:
        """Send the push; returns where its outcome is read (Okta's poll link)."""
        ...

    def push_result(self, poll: str) -> PushResult: ...


class NoPushService:
    """Where no connector can send a push: nobody can pass a step-up."""

    def send_push(self, email: str) -> str:
        raise NoPushFactorError("Latchkey has no Okta connector to send a push to your phone with.")

    def push_result(self, poll: str) -> PushResult:
        return PushResult.TIMEOUT


class StepUpStore(Protocol):
    """Step-up challenges (storage/step_ups.py): each move a compare-and-set that writes `also`
    only if it wins."""

    def open(self, request_id: str, approver: str, decision: Decision, now: datetime) -> Challenge | None:
        """A new waiting challenge, or None while one for the same decision is open."""
        ...

    def sent(self, challenge_id: str, poll: str, also: Iterable[Any] = ()) -> bool: ...
    def move(self, challenge_id: str, seen: ChallengeState, to: ChallengeState,
             also: Iterable[Any] = ()) -> bool: ...
    def in_state(self, state: ChallengeState) -> list[Challenge]: ...
    def passed(self, request_id: str, approver: str, decision: Decision) -> bool: ...


class TicketLookup(Protocol):
    """Tickets as their tracker shows them (bot/tickets.py `JiraTickets`), `site` being the
    tracker's base URL as a rule names it.  Both raise TicketUncheckableError when the tracker
    cannot be asked now: a ticket is never taken as fine because it could not be checked."""

    def ticket(self, site: str, key: str) -> TicketFacts | None:
        """The ticket, or None when there is none by that key that Latchkey may see."""

    def account_of(self, site: str, email: str) -> str | None:
        """The tracker's account id of the person with this email, if it finds exactly one."""


class NoTracker:
    """The lookup where no tracker is configured: every check is refused as uncheckable."""

    def ticket(self, site: str, key: str) -> TicketFacts | None:
        raise TicketUncheckableError(f"no tracker is configured at {site}")

    def account_of(self, site: str, email: str) -> str | None:
        raise TicketUncheckableError(f"no tracker is configured at {site}")


class ManagerLookup(Protocol):
    """Who manages whom, as the directory shows it now (bot/managers.py `OktaManagers`: the
    Okta profile's `managerId`).  Raises ManagerUncheckableError when it cannot be asked now:
    nobody is taken for a manager because the directory could not answer."""

    def is_manager(self, manager_email: str, report_email: str) -> bool:
        """Whether the person with `manager_email` is the manager of the one with `report_email`."""

    def manager_of(self, report_email: str) -> str | None:
        """The email of the manager of the person with `report_email` (None: they have none)."""


class NoManagers:
    """The lookup where no directory says who manages whom: nobody is anyone's manager."""

    def is_manager(self, manager_email: str, report_email: str) -> bool:
        return False

    def manager_of(self, report_email: str) -> str | None:
        return None


class OnCall(Protocol):
    """Who is on call now (bot/on_call.py `OnCallServices`), as `source` (pagerduty, opsgenie)
    reports it for these schedules and escalation policies.  Raises OnCallUnknownError when the
    service cannot be asked now: nobody is taken as on call because a lookup failed."""

    def on_call(self, source: str, schedules: tuple[str, ...] = (),
                escalation_policies: tuple[str, ...] = ()) -> list[OnCallShift]: ...


class NoOnCall:
    """The lookup where no on-call service is configured: nobody can be found on call."""

    def on_call(self, source: str, schedules: tuple[str, ...] = (),
                escalation_policies: tuple[str, ...] = ()) -> list[OnCallShift]:
        raise OnCallUnknownError(f"no on-call service {source} is configured")


# What a change of review items writes: (item id, its changes) for each item it changes, and the
# rows written with them (audit entries, messages, revocations as AccessRequest).
ItemChanges = tuple[list[tuple[str, dict[str, Any]]], Iterable[Any]]


class ReviewStore(Protocol):
    """Access review campaigns and their items (storage/reviews.py `ReviewStore`)."""

    def open(self, campaign: Campaign, items: list[ReviewItem], also: Iterable[Any] = ()) -> bool:
        """Store a new campaign with its items, unless one of its name is open: False then."""
    def campaign(self, campaign_id: str) -> Campaign | None: ...
    def campaigns(self, open_only: bool = True, name: str | None = None) -> list[Campaign]:
        """Newest first."""
    def move_campaign(self, campaign_id: str, seen: dict[str, Any], changes: dict[str, Any],
                      also: Iterable[Any] = ()) -> bool: ...
    def item(self, item_id: str) -> ReviewItem | None: ...
    def items(self, campaign_id: str, reviewer: str | None = None, offset: int = 0,
              limit: int | None = None) -> list[ReviewItem]:
        """Undecided first, then by holder and entitlement."""
    def counts(self, reviewer: str | None = None, campaign_id: str | None = None,
               open_only: bool = True) -> list[tuple[Campaign, str, int, int]]:
        """(campaign, reviewer, undecided, total) per reviewer with items in a campaign."""
    def change_items(self, item_ids: list[str],
                     change: Callable[[dict[str, Campaign], list[ReviewItem]], ItemChanges]
                     ) -> list[ReviewItem]:
        """Lock the items; `change(their campaigns, the items as locked)` checks them and says
        what to write (or raises to write nothing); returns the changed items."""
    def settle(self, campaign_id: str, seen: dict[str, Any], changes: dict[str, Any],
               change: Callable[[Campaign, list[ReviewItem]], ItemChanges], limit: int | None = None) -> bool:
        """Compare-and-set the campaign and, if that wins, change its undecided items (the
        first `limit`) under their locks, in one transaction."""
    def settle_more(self, campaign_id: str, change: Callable[[Campaign, list[ReviewItem]], ItemChanges],
                    limit: int) -> int:
        """Change up to `limit` more undecided items of a settled campaign; how many."""
    def closing(self) -> list[Campaign]:
        """Closed campaigns with undecided items left."""

"""The one small interface every connector implements, modelled on ConductorOne's Baton.

A connector describes a target system as resource types, resources, entitlements on those
resources, accounts (the people the system knows) and grants (who holds which entitlement).
Every list method returns ONE page and a cursor; the caller decides whether to go on.  Grant and
revoke are idempotent: "already there" and "already gone" are successes, reported as such.

Errors form one tree, so callers can retry exactly what is worth retrying::

    ConnectorError                  anything the target refused or could not do
    ├── TransientError              worth retrying later: 5xx, timeouts, network errors
    │   └── RateLimitedError        429 after our own bounded retries; carries `retry_after`
    ├── PermissionDeniedError       the credentials lack a right (e.g. Okta read-only admin)
    ├── NotFoundError               the resource or account does not exist
    ├── InvalidRequestError         the target rejected the request as malformed or disallowed
    └── FeedGapError                a change feed cannot go on from where it was: sync in full
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar
from urllib.parse import quote, unquote

from connectors.masking import mask

T = TypeVar("T")


class ConnectorError(Exception):
    """The target system refused or could not complete a call.

    The message is masked as the error is made: it may quote what the target answered, and
    it is stored, shown to people and logged from here on.
    """

    def __init__(self, message: str = "", *args) -> None:
        super().__init__(mask(str(message)), *args)


class TransientError(ConnectorError):
    """A failure that may succeed if tried again later."""


class RateLimitedError(TransientError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermissionDeniedError(ConnectorError):
    """The credentials are valid but not allowed to do this."""


class NotFoundError(ConnectorError):
    pass


class InvalidRequestError(ConnectorError):
    pass


class FeedGapError(ConnectorError):
    """A change feed cannot carry on from the position it was given (the target refused it as
    expired or invalid): changes may have been missed, so only a full sync can catch up."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None = None


@dataclass(frozen=True)
class ResourceType:
    id: str  # e.g. "group"
    display_name: str


@dataclass(frozen=True)
class Resource:
    type: str
    id: str
    name: str
    description: str = ""
    attributes: dict[str, str] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Entitlement:
    """Something a person can hold, e.g. membership of one Okta group.

    `id` follows Baton's `<resourceType>:<resourceId>:<slug>` (see `entitlement_id`), e.g.
    `group:00g1abc:member`.
    `requestable` is False for entitlements the target manages itself (Okta APP_GROUP/BUILT_IN).
    `provisionable` is False where the connector cannot grant it through the API (a Percipio
    course): such a request, once approved, becomes a task for a person.
    """

    id: str
    resource: Resource
    slug: str
    display_name: str
    description: str = ""
    requestable: bool = True
    provisionable: bool = True


def entitlement_id(resource_type: str, resource_id: str, *slug: str) -> str:
    """The one encoding of an entitlement id, stored with every request and catalog row.

    Baton's `<resourceType>:<resourceId>:<slug>`; a slug may have several parts (Segment's
    `role:<roleId>`).  Each part is percent-encoded (`:` → `%3A`, `%` → `%25`), so an id holding
    a colon cannot split the id; the ids the targets hand out (letters, digits, `-`, `_`) stay
    as they are, which is why ids stored before this codec existed read back unchanged.
    """
    return ":".join(quote(part, safe="") for part in (resource_type, resource_id, *slug))


def parse_entitlement_id(text: str) -> tuple[str, str, str]:
    """`entitlement_id`'s inverse: (resource type, resource id, slug), the slug's parts joined
    by `:` as `Entitlement.slug` holds them (`role:<roleId>`)."""
    parts = [unquote(part) for part in text.split(":")]
    if len(parts) < 3 or not all(parts):
        raise InvalidRequestError(f"entitlement id {text!r} is not <type>:<resourceId>:<slug>")
    return parts[0], parts[1], ":".join(parts[2:])


@dataclass(frozen=True)
class Account:
    id: str
    email: str
    display_name: str
    active: bool = True


@dataclass(frozen=True)
class Grant:
    entitlement_id: str
    account_id: str
    # False: the account has it only through something else the target manages (an Okta group
    # assigned to the app or role).  Such access counts for separation of duties, but it is not
    # "already held" for a request, and Latchkey neither grants nor revokes it.
    direct: bool = True


@dataclass(frozen=True)
class Prior:
    """What an account had before a grant, read BEFORE Latchkey's first write.

    Latchkey stores it with the request and hands it back to `revoke`, so revoking undoes exactly
    the grant and nothing else.  `held` means the account already had the entitlement: Latchkey
    then neither grants nor revokes it.  `detail` is the connector's own note (JSON text), e.g.
    the Celigo access level to restore.
    """

    held: bool
    detail: str | None = None


@dataclass(frozen=True)
class Slot:
    """Where an entitlement lives when the target keeps ONE value per account for several
    entitlements (Celigo's account-wide access level: monitor, manage or administrator).

    `key` names the slot (one per account), `level` is the value a grant of this entitlement
    sets, and `levels` lists the slot's values from lowest to highest.  Latchkey sets such a
    slot to the highest level it still grants, else to the level found before its first grant
    (bot/slots.py); the connector only reads and writes the value it is told.
    """

    key: str
    level: str
    levels: tuple[str, ...]

    def rank(self, level: str | None) -> int:
        """Higher is wider; a level outside `levels` (or none) ranks below all of them."""
        return self.levels.index(level) if level in self.levels else -1


@dataclass(frozen=True)
class Capability:
    """One thing a connector can or cannot do with the credentials it was given."""

    action: str  # "sync" or "provision", or how the connector signs in (e.g. "oauth")
    subject: str  # e.g. "users", "group membership", "admin roles"
    available: bool
    reason: str = ""  # why not, in words an operator can act on; if available, a note


class GrantOutcome(enum.Enum):
    GRANTED = "granted"
    ALREADY_GRANTED = "already_granted"


class RevokeOutcome(enum.Enum):
    REVOKED = "revoked"
    ALREADY_REVOKED = "already_revoked"


class Connector(Protocol):
    """What Latchkey needs from a target system."""

    def resource_types(self) -> list[ResourceType]: ...

    def list_accounts(self, cursor: str | None = None) -> Page[Account]: ...

    def list_resources(self, resource_type: str, cursor: str | None = None) -> Page[Resource]: ...

    def list_entitlements(self, resource: Resource) -> list[Entitlement]: ...

    def list_grants(self, resource: Resource, cursor: str | None = None) -> Page[Grant]: ...

    def find_account(self, email: str) -> Account | None: ...

    def has_grant(self, entitlement_id: str, account_id: str) -> bool: ...

    def prior(self, entitlement_id: str, account_id: str) -> Prior: ...

    def grant(self, entitlement_id: str, account_id: str) -> GrantOutcome: ...

    def revoke(self, entitlement_id: str, account_id: str, prior: Prior) -> RevokeOutcome: ...

    def capabilities(self) -> list[Capability]: ...

    def close(self) -> None: ...


class SlotConnector(Connector, Protocol):
    """A connector with single-valued slots (see `Slot`).  For an entitlement in a slot, the
    lifecycle calls these instead of prior/grant/revoke, and `has_grant` means "the account's
    level is exactly this one"."""

    def slot(self, entitlement_id: str) -> Slot | None: ...

    def slot_level(self, slot: Slot, account_id: str) -> str | None: ...

    def set_slot_level(self, slot: Slot, account_id: str, level: str | None) -> None: ...


class SessionEnder(Protocol):
    """A connector that can sign a person out of every session they have, so that access taken
    back does not live on in a session opened before (rules with `end_sessions`)."""

    def end_sessions(self, account_id: str, oauth_tokens: bool) -> None: ...

"""Changes a target reports as they happen, between full syncs: its change feed.

A connector whose target keeps a log of changes (Okta's System Log) reads it one page at a time
with `read_changes` and translates each entry into one of the small changes below, in the same
terms a full sync uses: entitlement ids made by `connectors.base.entitlement_id`, exactly as
`list_entitlements` makes them, and the target's own account ids.  Latchkey applies them to its
catalog as they come (storage/catalog.py), so a change made outside Latchkey is seen within the
poll interval instead of at the next full sync.

Applying a change twice is harmless: each says what IS now ("this account holds it", "this
entitlement is gone"), never "one more" or "one less".  A connector without a change feed
simply has no `read_changes` (Celigo, Segment, Percipio); `change_feed` tells the two apart.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from connectors.base import Account, Connector, Entitlement


@dataclass(frozen=True)
class MembershipAdded:
    """The account holds the entitlement (`direct`: not only through e.g. an Okta group)."""

    entitlement_id: str
    account_id: str
    direct: bool = True


@dataclass(frozen=True)
class MembershipRemoved:
    entitlement_id: str
    account_id: str


@dataclass(frozen=True)
class EntitlementAppeared:
    """An entitlement that is new, or changed (renamed, no longer requestable …): as it is now."""

    entitlement: Entitlement


@dataclass(frozen=True)
class EntitlementGone:
    entitlement_id: str


@dataclass(frozen=True)
class AccountActivated:
    """The account can sign in (it may be new to the catalog): as it is now."""

    account: Account


@dataclass(frozen=True)
class AccountDeactivated:
    account_id: str


Change = (MembershipAdded | MembershipRemoved | EntitlementAppeared | EntitlementGone
          | AccountActivated | AccountDeactivated)


@dataclass(frozen=True)
class ChangePage:
    """One read of a change feed.

    `position` is where the next read starts (opaque, the connector's own); `newest` the time of
    the newest entry read (None when there was none); `caught_up` says the feed had nothing
    more to give at the moment of the read, so the reader is current as of then;
    `limit_per_minute` is the target's rate limit for reading the feed, when it says.
    """

    changes: list[Change]
    position: str
    newest: datetime | None = None
    caught_up: bool = True
    limit_per_minute: int | None = None
    entries: int = 0  # entries read, whether they changed anything or not


class ChangeFeed(Protocol):
    """A connector that can tell what changed in its target since a position."""

    feed_name: str  # what the target calls its feed, for people: "System Log"

    def read_changes(self, position: str | None, since: datetime) -> ChangePage:
        """The changes after `position`; with no position, those from `since` on.  Raises
        `FeedGapError` when the target refuses `position` (expired, invalid)."""
        ...


def change_feed(connector: Connector) -> ChangeFeed | None:
    """The connector as a change feed, or None when its target has none."""
    read = getattr(connector, "read_changes", None)
    return connector if callable(read) else None  # type: ignore[return-value]


def pairs_of(changes: list[Change]) -> set[tuple[str, str]]:
    """(entitlement id, account id) of every membership the changes touch."""
    return {(change.entitlement_id, change.account_id) for change in changes
            if isinstance(change, MembershipAdded | MembershipRemoved)}

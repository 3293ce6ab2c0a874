"""Okta's System Log as a change feed (connectors/changes.py): log events in, changes out.

Read as Okta documents polling (developer.okta.com, System Log API): only the event types below
(`filter`), in the order Okta stored them, `since` the first time and then the `after` of the
`rel="next"` link.  Only successful events count (`outcome.result` SUCCESS).

What each event type becomes, in the ids a full sync uses (`entitlement_id` via the kinds):

| event types                               | targets               | change                          |
|-------------------------------------------|-----------------------|---------------------------------|
| group.user_membership.add / remove        | User, UserGroup       | membership added / removed      |
| application.user_membership.add / remove  | AppInstance, User     | the assignment as it is now     |
| user.account.privilege.grant / revoke     | User (and the ROLE)   | the user's admin roles as now   |
| group.lifecycle.create / delete           | UserGroup             | entitlement appeared / gone     |
| application.lifecycle.*                   | AppInstance           | entitlement as it is now / gone |
| user.lifecycle.*                          | User                  | account activated / deactivated |

A group membership event says all there is to know.  The others do not (an app event does not
say whether the assignment is direct or through a group; a privilege event names the role by its
label only; a new group's type decides whether it is requestable), so for those the object is
read back once per page and reported as it is NOW.  That also makes the order of such events,
which Okta may deliver out of `published` order, irrelevant; membership events are applied in
`published` order within a page.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime

from connectors.base import (
    Entitlement,
    FeedGapError,
    InvalidRequestError,
    NotFoundError,
    entitlement_id,
)
from connectors.changes import (
    AccountActivated,
    AccountDeactivated,
    Change,
    ChangePage,
    EntitlementAppeared,
    EntitlementGone,
    MembershipAdded,
    MembershipRemoved,
)
from connectors.okta.apps import DIRECT, VIA_GROUP, Apps
from connectors.okta.client import LOG_PAGE, OktaClient
from connectors.okta.groups import Groups
from connectors.okta.roles import STANDARD_ROLES, Roles

GROUP_MEMBERSHIP = ("group.user_membership.add", "group.user_membership.remove")
APP_ASSIGNMENT = ("application.user_membership.add", "application.user_membership.remove")
ADMIN_ROLES = ("user.account.privilege.grant", "user.account.privilege.revoke")
GROUP_LIFECYCLE = ("group.lifecycle.create", "group.lifecycle.delete")
APP_LIFECYCLE = ("application.lifecycle.create", "application.lifecycle.update",
                 "application.lifecycle.activate", "application.lifecycle.deactivate",
                 "application.lifecycle.delete")
USER_LIFECYCLE = ("user.lifecycle.create", "user.lifecycle.activate", "user.lifecycle.reactivate",
                  "user.lifecycle.unsuspend", "user.lifecycle.deactivate", "user.lifecycle.suspend",
                  "user.lifecycle.delete.initiated")
EVENT_TYPES = (*GROUP_MEMBERSHIP, *APP_ASSIGNMENT, *ADMIN_ROLES, *GROUP_LIFECYCLE,
               *APP_LIFECYCLE, *USER_LIFECYCLE)
FILTER = " or ".join(f'eventType eq "{event_type}"' for event_type in EVENT_TYPES)


def rfc3339(moment: datetime) -> str:
    """A time as Okta's `since` takes it: `2017-05-03T16:22:18.000Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + \
        f"{moment.microsecond // 1000:03d}Z"


class SystemLog:
    """Reads the System Log of one org and translates it, looking objects up through the kinds."""

    feed_name = "System Log"

    def __init__(self, client: OktaClient, groups: Groups, apps: Apps, roles: Roles,
                 account: Callable[[dict], object]) -> None:
        self._client, self._groups, self._apps, self._roles = client, groups, apps, roles
        self._account = account  # a user's JSON → connectors.base.Account

    def read_changes(self, position: str | None, since: datetime) -> ChangePage:
        try:
            events, after, limit = self._client.list_log_events(position, rfc3339(since), FILTER)
        except InvalidRequestError as refused:
            if position is None:
                raise  # our own query is wrong: a full sync would not mend that
            raise FeedGapError(f"Okta refused to read the System Log on from where Latchkey "
                               f"stopped ({refused})") from refused
        done = [e for e in events if (e.get("outcome") or {}).get("result") == "SUCCESS"]
        done.sort(key=lambda event: _published(event) or _LONG_AGO)
        times = [moment for event in events if (moment := _published(event))]
        return ChangePage(self._changes(done), after, newest=max(times, default=None),
                          caught_up=len(events) < LOG_PAGE, limit_per_minute=limit,
                          entries=len(events))

    # -- translation ----------------------------------------------------------------------------
    def _changes(self, events: list[dict]) -> list[Change]:
        """Membership changes in event order, then one read-back per object other events named."""
        changes: list[Change] = []
        assignments: dict[tuple[str, str], None] = {}  # (app, user), in first-seen order
        role_holders: dict[str, None] = {}
        groups: dict[str, bool] = {}  # group id → still there (the last lifecycle event says)
        apps: dict[str, bool] = {}
        users: dict[str, None] = {}
        for event in events:
            kind, targets = event.get("eventType"), _targets(event)
            if kind in GROUP_MEMBERSHIP and (ids := _ids(targets, "UserGroup", "User")):
                group, user = ids
                held = entitlement_id("group", group, Groups.SLUG)
                changes.append(MembershipAdded(held, user) if kind.endswith(".add")
                               else MembershipRemoved(held, user))
            elif kind in APP_ASSIGNMENT and (ids := _ids(targets, "AppInstance", "User")):
                assignments[ids] = None
            elif kind in ADMIN_ROLES and (ids := _ids(targets, "User")):
                role_holders[ids[0]] = None
            elif kind in GROUP_LIFECYCLE and (ids := _ids(targets, "UserGroup")):
                groups[ids[0]] = kind != "group.lifecycle.delete"
            elif kind in APP_LIFECYCLE and (ids := _ids(targets, "AppInstance")):
                apps[ids[0]] = kind != "application.lifecycle.delete"
            elif kind in USER_LIFECYCLE and (ids := _ids(targets, "User")):
                users[ids[0]] = None
        # Objects first (a new group before memberships of it), then who holds what.
        objects = [*self._groups_now(groups), *self._apps_now(apps), *self._users_now(users)]
        return objects + changes + self._assignments_now(assignments) + self._roles_now(role_holders)

    def _groups_now(self, groups: dict[str, bool]) -> Iterable[Change]:
        for group_id, exists in groups.items():
            yield from _as_now(self._groups.entitlements_of(group_id) if exists else [],
                               entitlement_id("group", group_id, Groups.SLUG))

    def _apps_now(self, apps: dict[str, bool]) -> Iterable[Change]:
        for app_id, exists in apps.items():
            yield from _as_now(self._apps.entitlements_of(app_id) if exists else [],
                               entitlement_id("app", app_id, Apps.SLUG))

    def _users_now(self, users: dict[str, None]) -> Iterable[Change]:
        for user_id in users:
            try:
                account = self._account(self._client.get_user(user_id))
            except NotFoundError:  # deleted since
                yield AccountDeactivated(user_id)
                continue
            yield AccountActivated(account) if account.active else AccountDeactivated(user_id)

    def _assignments_now(self, assignments: dict[tuple[str, str], None]) -> list[Change]:
        found: list[Change] = []
        for app_id, user_id in assignments:
            held = entitlement_id("app", app_id, Apps.SLUG)
            scope = self._apps.scope(app_id, user_id)
            found.append(MembershipAdded(held, user_id, direct=scope == DIRECT)
                         if scope in (DIRECT, VIA_GROUP) else MembershipRemoved(held, user_id))
        return found

    def _roles_now(self, users: dict[str, None]) -> list[Change]:
        """Every standard role of each user as it is now (a revoke may take several at once)."""
        found: list[Change] = []
        for user_id in users:
            held = self._roles.held_by(user_id)
            for role_type in STANDARD_ROLES:
                role = entitlement_id("role", role_type, Roles.SLUG)
                found.append(MembershipAdded(role, user_id, direct=held[role_type])
                             if role_type in held else MembershipRemoved(role, user_id))
        return found


def _as_now(found: list[Entitlement], gone: str) -> list[Change]:
    """The object's entitlements as they are now, or `gone` when the object is no more (or, for
    an app, no longer synced)."""
    return [EntitlementAppeared(e) for e in found] if found else [EntitlementGone(gone)]


def _targets(event: dict) -> list[dict]:
    return [t for t in event.get("target") or [] if isinstance(t, dict)]


def _ids(targets: list[dict], *types: str) -> tuple[str, ...] | None:
    """The ids of the event's targets of these types, in this order; None if one is missing."""
    ids = [next((t.get("id") for t in targets if t.get("type") == kind and t.get("id")), None)
           for kind in types]
    return tuple(ids) if all(ids) else None  # type: ignore[arg-type]


def _published(event: dict) -> datetime | None:
    try:
        return datetime.fromisoformat(str(event.get("published")).replace("Z", "+00:00"))
    except ValueError:
        return None


_LONG_AGO = datetime.min.replace(tzinfo=UTC)

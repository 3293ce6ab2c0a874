"""Okta as a Latchkey connector: maps Okta's wire JSON onto the model of connectors/base.py.

Each Okta resource type is one small class with the shape every connector's kinds share
(`ResourceKind` in connectors/routing.py): `Groups` (groups.py), `Apps` (apps.py) and `Roles`
(roles.py), routed to by a resource's type or by the first part of an entitlement id (e.g.
`group:00g1abc:member`, `app:0oa1abc:access`, `role:APP_ADMIN:assigned`).  The endpoints live in
`OktaClient` (client.py), how each call is made (authentication, retries, paging, error mapping)
in `OktaTransport` (transport.py); what the credentials may do is worked out in capabilities.py
(an API token) or oauth_capabilities.py (a service app).  Between full syncs, the System Log
tells what changed (`read_changes`, system_log.py): Okta is a change feed (connectors/changes.py).
"""

from __future__ import annotations

from datetime import datetime

from connectors.base import Account, Capability, NotFoundError, Page, PermissionDeniedError, entitlement_id
from connectors.changes import ChangePage
from connectors.okta import capabilities, oauth_capabilities
from connectors.okta.apps import Apps
from connectors.okta.client import OktaClient
from connectors.okta.groups import Groups
from connectors.okta.roles import Roles
from connectors.okta.system_log import SystemLog
from connectors.routing import ResourceKind, RoutedByType

__all__ = ["ACTIVE_STATUSES", "OktaConnector", "entitlement_id"]

# baton-okta's mapping: these statuses can sign in; STAGED, SUSPENDED, DEPROVISIONED cannot.
ACTIVE_STATUSES = frozenset({"ACTIVE", "PROVISIONED", "RECOVERY", "PASSWORD_EXPIRED", "LOCKED_OUT"})


class OktaConnector(RoutedByType):
    """The `Connector` of connectors/base.py for one Okta org.

    `sync_inactive_apps=False` lists only ACTIVE apps (`filter=status eq "ACTIVE"`), as
    baton-okta's flag of the same name does; inactive apps are never requestable either way.
    """

    target_name = "Okta"
    feed_name = SystemLog.feed_name

    def __init__(self, client: OktaClient, sync_inactive_apps: bool = True) -> None:
        self._client = client
        groups, apps, roles = Groups(client), Apps(client, sync_inactive_apps), Roles(client)
        kinds: list[ResourceKind] = [groups, apps, roles]
        super().__init__(kinds)
        self._log = SystemLog(client, groups, apps, roles, _account)

    def read_changes(self, position: str | None, since: datetime) -> ChangePage:
        return self._log.read_changes(position, since)

    def list_accounts(self, cursor: str | None = None) -> Page[Account]:
        # `search=status pr` is what makes Okta include DEPROVISIONED users (as baton-okta does).
        users, next_cursor = self._client.list_users(after=cursor, search="status pr")
        oauth = self._client.oauth
        if oauth is not None and cursor is None and not users:
            # Okta shows a service app without an admin role no users, with a 200: taking that
            # for an empty org would empty the catalog.  An org always has its admins.
            raise PermissionDeniedError(f"Okta app {oauth.client_id} sees no users: it probably "
                                        "has no admin role; "
                                        + oauth_capabilities.role_remedy(oauth.client_id))
        return Page([_account(user) for user in users], next_cursor)

    def find_account(self, email: str) -> Account | None:
        wanted = email.strip().lower()
        matches = [_account(user) for user in self._client.find_users_by_email(wanted)]
        matches = [account for account in matches if account.email == wanted]
        # Okta emails need not be unique: a leaver's deprovisioned account keeps its email when
        # they come back, so the account that can sign in wins.
        matches.sort(key=lambda account: not account.active)
        return matches[0] if matches else None

    def manager_of(self, email: str) -> str | None:
        """The Okta user id of the manager of the user with this email, read now: their
        profile's `managerId` (Okta's `manager` is a display name, which is not unique, so it
        is not used); None when they have none, or there is no such user."""
        wanted = email.strip().lower()
        users = [user for user in self._client.find_users_by_email(wanted)
                 if ((user.get("profile") or {}).get("email") or "").lower() == wanted]
        users.sort(key=lambda user: user.get("status") not in ACTIVE_STATUSES)  # as find_account
        return ((users[0].get("profile") or {}).get("managerId") or None) if users else None

    def email_of(self, user_id: str) -> str | None:
        """The profile email of the Okta user with this id, read now; None when there is none."""
        try:
            user = self._client.get_user(user_id)
        except NotFoundError:
            return None
        return ((user.get("profile") or {}).get("email") or "").lower() or None

    def end_sessions(self, account_id: str, oauth_tokens: bool) -> None:
        """Sign the user out of every Okta session (and, with `oauth_tokens`, revoke the OAuth
        and OIDC tokens issued to them): Okta's "Revoke all user sessions", which answers 204."""
        self._client.clear_user_sessions(account_id, oauth_tokens)

    # -- step-up: an Okta Verify push to a person's phone (connectors/mfa.py) ------------------
    def send_push(self, email: str) -> str | None:
        """Send an Okta Verify push to the person with this email; the path its outcome is polled
        at, or None when they have no account that can sign in or no active push factor."""
        account = self.find_account(email)
        if account is None or not account.active:
            return None
        factors = self._client.factors.list_factors(account.id)
        push = next((f for f in factors if f.get("factorType") == "push" and f.get("provider") == "OKTA"
                     and f.get("status") == "ACTIVE"), None)
        return None if push is None else self._client.factors.verify_push(account.id, push["id"])

    def push_result(self, poll: str) -> str:
        """The push's `factorResult`: WAITING, SUCCESS, REJECTED or TIMEOUT."""
        return self._client.factors.transaction_result(poll)

    def capabilities(self) -> list[Capability]:
        oauth = self._client.oauth
        if oauth is not None:
            return oauth_capabilities.probe(self._client, oauth)
        return capabilities.probe(self._client)

    def close(self) -> None:
        self._client.close()


def _account(user: dict) -> Account:
    profile = user.get("profile") or {}
    email = (profile.get("email") or "").lower()
    full_name = " ".join(filter(None, (profile.get("firstName"), profile.get("lastName"))))
    display_name = profile.get("displayName") or full_name or profile.get("login") or email
    return Account(id=user["id"], email=email, display_name=display_name,
                   active=user.get("status") in ACTIVE_STATUSES)

"""Changes made "by hand": what an admin does in Okta's Admin Console, outside Latchkey.

Each helper changes the Okta sandbox as the console would and records the System Log events
Okta records for it, with a human admin as the actor, so a test can make the out-of-band change
Latchkey must notice (`okta.console.remove_member(group, user)`).  Unlike the seeding helpers
of sandbox/okta.py, which set up the org as it stood before a test, these are history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox.okta_log import app_target, group_target, user_target

if TYPE_CHECKING:
    from sandbox.okta import OktaSandbox

ADMIN = {"id": "00uconsoleadmin00001", "type": "User", "alternateId": "it-admin@acme.example",
         "displayName": "IT Admin", "detailEntry": None}


class OktaConsole:
    def __init__(self, okta: OktaSandbox) -> None:
        self._okta = okta

    # -- groups ---------------------------------------------------------------------------------
    def add_member(self, group_id: str, user_id: str) -> None:
        with self._okta.lock:
            self._okta._modifiable_group(group_id, user_id)  # the console refuses the rest too
            self._okta._set_membership(group_id, user_id, True, ADMIN)

    def remove_member(self, group_id: str, user_id: str) -> None:
        with self._okta.lock:
            self._okta._modifiable_group(group_id, user_id)
            self._okta._set_membership(group_id, user_id, False, ADMIN)

    def create_group(self, name: str, description: str = "") -> str:
        with self._okta.lock:
            group_id = self._okta.add_group(name, description=description)
            self._okta.system_log.record("group.lifecycle.create", ADMIN,
                                         [group_target(self._okta._groups[group_id])])
            return group_id

    def delete_group(self, group_id: str) -> None:
        """Delete the group: its members lose it, and the apps and roles it gave them."""
        okta = self._okta
        with okta.lock:
            group = okta._group(group_id)
            for user_id in sorted(okta._members[group_id]):
                okta._set_membership(group_id, user_id, False, ADMIN)
            for assigned in okta._app_groups.values():
                assigned.pop(group_id, None)
            okta._group_roles.pop(group_id, None)
            del okta._groups[group_id], okta._members[group_id]
            okta.system_log.record("group.lifecycle.delete", ADMIN, [group_target(group)])

    # -- apps -----------------------------------------------------------------------------------
    def assign_app(self, app_id: str, user_id: str) -> None:
        """Assign the user to the app directly (scope USER)."""
        okta = self._okta
        with okta.lock:
            assigned = user_id in okta._app_users(okta._app(app_id)["id"])
            okta._set_scope(app_id, okta._user(user_id)["id"], "USER")
            if not assigned:
                okta._log_assignment(app_id, user_id, True, ADMIN)

    def unassign_app(self, app_id: str, user_id: str) -> None:
        """Remove a direct assignment; a group assigned to the app may still cover the user."""
        okta = self._okta
        with okta.lock:
            okta._app(app_id)
            okta._direct[app_id].pop(user_id, None)
            if user_id not in okta._app_users(app_id):
                okta._log_assignment(app_id, user_id, False, ADMIN)

    def deactivate_app(self, app_id: str) -> None:
        with self._okta.lock:
            app = self._okta._app(app_id)
            app["status"] = "INACTIVE"
            self._okta.system_log.record("application.lifecycle.deactivate", ADMIN, [app_target(app)])

    # -- admin roles ----------------------------------------------------------------------------
    def grant_role(self, user_id: str, role_type: str) -> None:
        with self._okta.lock:
            self._okta._assign_role(self._okta._user(user_id)["id"], role_type)
            self._okta._log_role(user_id, role_type, True, ADMIN)

    def revoke_role(self, user_id: str, role_type: str) -> None:
        okta = self._okta
        with okta.lock:
            held = okta._user_roles.get(user_id, [])
            okta._user_roles[user_id] = [role for role in held if role["type"] != role_type]
            okta._log_role(user_id, role_type, False, ADMIN)

    # -- users ----------------------------------------------------------------------------------
    def deactivate_user(self, user_id: str) -> None:
        self._set_status(user_id, "DEPROVISIONED", "user.lifecycle.deactivate")

    def suspend_user(self, user_id: str) -> None:
        self._set_status(user_id, "SUSPENDED", "user.lifecycle.suspend")

    def activate_user(self, user_id: str) -> None:
        self._set_status(user_id, "ACTIVE", "user.lifecycle.activate")

    def _set_status(self, user_id: str, status: str, event_type: str) -> None:
        with self._okta.lock:
            user = self._okta._user(user_id)
            user["status"] = status
            self._okta.system_log.record(event_type, ADMIN, [user_target(user)])

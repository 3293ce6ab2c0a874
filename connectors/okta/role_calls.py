"""The Okta admin-role calls Latchkey makes (`OktaClient.roles`): one method per endpoint.

Not paged but for the assignees list: a user's, a group's and a client app's roles come whole
(a stray `rel="next"` there must not be followed), and so do a role's permissions.
"""

from __future__ import annotations

from connectors.okta.transport import ListPage, OktaTransport, path_segment


class OktaRoleCalls:
    def __init__(self, transport: OktaTransport) -> None:
        self.transport = transport

    def list_role_assignees(self, after: str | None = None) -> ListPage:
        """One page of users holding admin roles; paged by the `Link` header (body `value`)."""
        body, next_cursor = self.transport.page("/api/v1/iam/assignees/users", after)
        return body.get("value") or [], next_cursor

    def list_user_roles(self, user_id: str) -> list[dict]:
        return self.transport.request("GET", f"/api/v1/users/{path_segment(user_id)}/roles").json()

    def list_group_roles(self, group_id: str) -> list[dict]:
        return self.transport.request("GET", f"/api/v1/groups/{path_segment(group_id)}/roles").json()

    def list_role_permissions(self, role_id: str) -> list[str]:
        """The permission names of a custom role, e.g. `okta.groups.members.manage`."""
        path = f"/api/v1/iam/roles/{path_segment(role_id)}/permissions"
        body = self.transport.request("GET", path).json()
        return [permission["label"] for permission in body.get("permissions") or []]

    def list_client_roles(self, client_id: str) -> list[dict]:
        """The admin roles assigned to an OAuth client app (a service app's own, to check it)."""
        path = f"/oauth2/v1/clients/{path_segment(client_id)}/roles"
        return self.transport.request("GET", path).json()

    def assign_role(self, user_id: str, role_type: str) -> dict:
        path = f"/api/v1/users/{path_segment(user_id)}/roles"
        return self.transport.request("POST", path, json={"type": role_type}).json()

    def remove_role(self, user_id: str, assignment_id: str) -> None:
        path = f"/api/v1/users/{path_segment(user_id)}/roles/{path_segment(assignment_id)}"
        self.transport.request("DELETE", path)

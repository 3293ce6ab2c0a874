"""Who manages whom, as Okta's user profiles say (`managerId`): the adapter behind bot/ports.py's
`ManagerLookup`, reading through an Okta connector.

Read fresh at every check, never from the synced catalog: a manager changed in Okta counts at
the next approval.  An Okta that cannot answer raises ManagerUncheckableError, so nobody passes
for a manager unchecked.
"""

from __future__ import annotations

import logging
from typing import Protocol

from bot.domain.errors import ManagerUncheckableError
from connectors.base import Account, ConnectorError

log = logging.getLogger(__name__)


class ManagedDirectory(Protocol):
    """What the lookup needs of a connector (connectors/okta/connector.py `OktaConnector`)."""

    def manager_of(self, email: str) -> str | None: ...
    def find_account(self, email: str) -> Account | None: ...
    def email_of(self, user_id: str) -> str | None: ...


class OktaManagers:
    def __init__(self, okta: ManagedDirectory) -> None:
        self._okta = okta

    def is_manager(self, manager_email: str, report_email: str) -> bool:
        try:
            manager_id = self._okta.manager_of(report_email)
            if manager_id is None or not manager_email:
                return False
            manager = self._okta.find_account(manager_email)
        except ConnectorError as exc:
            log.warning("cannot read a manager from Okta: %s", exc)
            raise ManagerUncheckableError(str(exc)) from exc
        return manager is not None and manager.id == manager_id

    def manager_of(self, report_email: str) -> str | None:
        """The email of the manager of the person with `report_email`, read now."""
        try:
            manager_id = self._okta.manager_of(report_email)
            return None if manager_id is None else self._okta.email_of(manager_id)
        except ConnectorError as exc:
            log.warning("cannot read a manager from Okta: %s", exc)
            raise ManagerUncheckableError(str(exc)) from exc

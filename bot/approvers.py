"""Who may decide requests for each connector: the configured owners, resolved to people."""

from __future__ import annotations

import logging
import threading

from bot.ports import Directory

log = logging.getLogger(__name__)


class ApproverRouting:
    """Resolves each connector's owners (person ids or emails) to person ids, caching hits.

    An email that does not resolve yet (directory down, person not found) is tried again on the
    next call instead of being dropped for good.
    """

    def __init__(self, owners: dict[str, list[str]], directory: Directory) -> None:
        self._owners = owners
        self._directory = directory
        self._resolved: dict[str, str] = {}
        self._lock = threading.Lock()

    def approvers_for(self, connector_id: str) -> list[str]:
        people = []
        for owner in self._owners.get(connector_id, []):
            person = self._resolve(owner)
            if person and person not in people:
                people.append(person)
        return people

    def _resolve(self, owner: str) -> str | None:
        if "@" not in owner:
            return owner
        with self._lock:
            if owner in self._resolved:
                return self._resolved[owner]
        try:
            person = self._directory.person_for_email(owner)
        except Exception as exc:  # the directory is remote; an outage must not stop approvals
            log.warning("could not look up approver %s: %s", owner, exc)
            return None
        if person is None:
            log.warning("approver %s has no chat account; they cannot be asked", owner)
            return None
        with self._lock:
            self._resolved[owner] = person.id
        return person.id

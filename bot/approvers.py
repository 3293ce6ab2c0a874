"""Who the people named in the policy are: person ids, emails and user groups, resolved.

An approver entry is a person id (used as is), an email (looked up once, then cached) or a user
group (`@handle` or `S…`, whose members are looked up again after a few minutes, so a change in
the group reaches Latchkey without a restart) or an on-call schedule (`on_call:pagerduty/P123`:
whoever it has on call, found in the directory by email).  Who is on call is remembered for a
few seconds, for the many reads that only show a request (every redraw, every Home tab), and
asked afresh for a decision (`forget_on_call()`: a request filed, a reminder, a click), so a
handover reaches Latchkey there at once.  An entry that does not resolve yet (directory or
on-call service down, nobody found) is tried again on the next call instead of being dropped
for good.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from bot.domain.errors import OnCallUnknownError
from bot.domain.on_call import OnCallEntry
from bot.ports import Directory, NoOnCall, OnCall

log = logging.getLogger(__name__)

GROUP_FRESH_FOR = 300.0  # seconds a user group's membership is trusted
ON_CALL_FRESH_FOR = 15.0  # seconds who is on call is trusted for showing a request


def is_group(entry: str) -> bool:
    return entry.startswith("@") or (entry[:1] == "S" and entry[1:].isalnum())


class ApproverRouting:
    def __init__(self, owners: dict[str, list[str]], directory: Directory, on_call: OnCall | None = None) -> None:
        self.owners = owners  # connector id → entries; the approvers when a rule names nobody
        self._directory = directory
        self._on_call = on_call or NoOnCall()
        self._emails: dict[str, str] = {}
        self._groups: dict[str, tuple[float, list[str]]] = {}
        self._on_call_seen: dict[OnCallEntry, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def resolve(self, entries: Iterable[str], connector_id: str) -> list[str]:
        """Person ids of `entries`, in order, without repeats; no entries: the connector's owners."""
        entries = tuple(entries) or tuple(self.owners.get(connector_id, ()))
        people: list[str] = []
        for entry in entries:
            for person in self._people(entry):
                if person and person not in people:
                    people.append(person)
        return people

    def _people(self, entry: str) -> list[str | None]:
        if (on_call := OnCallEntry.parse(entry)) is not None:
            return [self._person(email) for email in self._on_call_now(on_call)]
        return list(self._group(entry)) if is_group(entry) else [self._person(entry)]

    def unknown_on_call(self, entries: Iterable[str]) -> OnCallEntry | None:
        """The first of `entries` naming an on-call schedule whose service cannot say now who
        is on call (so that whoever is cannot be asked, or let decide), if any."""
        for entry in entries:
            if (on_call := OnCallEntry.parse(entry)) is not None:
                try:
                    self._on_call.on_call(on_call.source, (on_call.schedule,))
                except OnCallUnknownError:
                    return on_call
        return None

    def forget_on_call(self) -> None:
        """Ask the on-call services again at the next look: a decision is about to be taken on
        who is on call (a request filed, a reminder, a click), never on a remembered answer."""
        with self._lock:
            self._on_call_seen.clear()

    def _on_call_now(self, entry: OnCallEntry) -> list[str]:
        """Emails of whoever the schedule has on call now; nobody while the service cannot say
        (an answer it could not give is never remembered)."""
        with self._lock:
            seen_at, emails = self._on_call_seen.get(entry, (None, []))
        if seen_at is not None and time.monotonic() - seen_at < ON_CALL_FRESH_FOR:
            return emails
        try:
            emails = [shift.email for shift in self._on_call.on_call(entry.source, (entry.schedule,))
                      if shift.schedule == entry.schedule]
        except OnCallUnknownError as exc:
            log.warning("could not learn who is on call for %s: %s", entry, exc)
            return []
        with self._lock:
            self._on_call_seen[entry] = (time.monotonic(), emails)
        return emails

    def members(self, groups: Iterable[str]) -> set[str]:
        return {person for group in groups for person in self._group(group)}

    def _person(self, entry: str) -> str | None:
        if "@" not in entry:
            return entry
        with self._lock:
            if entry in self._emails:
                return self._emails[entry]
        try:
            person = self._directory.person_for_email(entry)
        except Exception as exc:  # the directory is remote; an outage must not stop approvals
            log.warning("could not look up approver %s: %s", entry, exc)
            return None
        if person is None:
            log.warning("approver %s has no chat account; they cannot be asked", entry)
            return None
        with self._lock:
            self._emails[entry] = person.id
        return person.id

    def _group(self, group: str) -> list[str]:
        with self._lock:
            fetched_at, members = self._groups.get(group, (None, []))
        if fetched_at is not None and time.monotonic() - fetched_at < GROUP_FRESH_FOR:
            return members
        try:
            found = self._directory.members_of_group(group)
        except Exception as exc:
            log.warning("could not look up user group %s: %s", group, exc)
            return members  # the last membership known, if any
        if found is None:
            log.warning("user group %s does not exist (or is disabled); nobody in it can be asked", group)
            found = []
        with self._lock:
            self._groups[group] = (time.monotonic(), list(found))
        return list(found)

"""Skillsoft Percipio as a Latchkey connector: users and courses are read; nothing is written.

Percipio has no API to assign a course, so, as in baton-percipio, nothing is provisionable:
course entitlements can be requested (`requestable`) but not provisioned (`provisionable` is
False), and grant()/revoke() refuse with InvalidRequestError.  Latchkey turns an approved request
into a task for a person instead.

Resources are courses and assessments (`course`); accounts are Percipio users.  A course has two
entitlements, `course:<contentUuid>:completed` and `course:<contentUuid>:in_progress`, held as the
learning-activity report says (`Completed` / `Started`).  That report is org-wide and slow to
build (polled up to `report_max_polls` × `report_poll_interval`, see PercipioClient), so one
report serves every course's grants and every has_grant() until it is `report_max_age` seconds
old.  prior() asks nothing: Latchkey never writes to Percipio, so there is nothing to undo.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from connectors.base import (
    Account,
    Capability,
    Entitlement,
    Grant,
    InvalidRequestError,
    Page,
    Prior,
    Resource,
    ResourceType,
    entitlement_id,
)
from connectors.capabilities import probe
from connectors.percipio.client import CatalogCursor, PercipioClient
from connectors.routing import RoutedByType, SyncOnly, require_slug

log = logging.getLogger(__name__)

COURSE = ResourceType("course", "Percipio course")
SYNCED_TYPES = frozenset({"COURSE", "ASSESSMENT"})  # baton-percipio's choice of content
SLUG_FOR_STATUS = {"Started": "in_progress", "Completed": "completed"}  # report status → slug
SLUGS = ("completed", "in_progress")
REPORT_MAX_AGE = 3600.0
NOT_PROVISIONABLE = ("Percipio cannot be provisioned through its API (it has no call to assign "
                     "or unassign a course); an approved request becomes a manual task")


class _Courses(SyncOnly):
    """Courses and assessments, with each learner's state from the learning-activity report."""

    resource_type = COURSE
    why = NOT_PROVISIONABLE

    def __init__(self, client: PercipioClient, course_ids: list[str], report_max_age: float,
                 clock: Callable[[], float]) -> None:
        self._client = client
        self._course_ids = course_ids
        self._report_max_age = report_max_age
        self._clock = clock
        self._report_lock = threading.Lock()  # one slow report job at a time, not one per caller
        self._statuses: dict[str, dict[str, str]] | None = None
        self._statuses_at = 0.0

    def list(self, cursor: str | None) -> Page[Resource]:
        if self._course_ids:
            return self._listed_courses(cursor)
        catalog = CatalogCursor.decode(cursor) if cursor else None
        items, following = self._client.list_catalog(catalog)
        return Page(_courses(items), following.encode() if following else None)

    def entitlements(self, resource: Resource) -> list[Entitlement]:
        return [_entitlement(resource, slug) for slug in SLUGS]

    def grants(self, resource: Resource, cursor: str | None) -> Page[Grant]:
        """Every learner's state on this course, in one page (the report is already in memory)."""
        held = self._report().get(resource.id, {})
        return Page([Grant(entitlement_id(COURSE.id, resource.id, slug), user_id)
                     for user_id, slug in sorted(held.items())])

    def has_grant(self, course_id: str, slug: str, account_id: str) -> bool:
        """Answered from the learning-activity report, which may take long to build (see above)."""
        require_slug("Percipio courses", slug, SLUGS)
        return self._report().get(course_id, {}).get(account_id) == slug

    def prior(self, course_id: str, slug: str, account_id: str) -> Prior:
        require_slug("Percipio courses", slug, SLUGS)
        return Prior(held=False)  # Latchkey never writes to Percipio: there is nothing to undo

    def _listed_courses(self, cursor: str | None) -> Page[Resource]:
        """One configured course per page: one search call each, the fewest the API allows."""
        index = _offset(cursor)
        if index >= len(self._course_ids):
            raise InvalidRequestError(f"course cursor {cursor!r} is past the configured courses")
        course_id = self._course_ids[index]
        found = [item for item in self._client.search_content(course_id)
                 if item.get("id") == course_id]
        if not found:
            log.warning("Percipio course %s from course_ids was not found: not licensed, "
                        "retired, not a course or assessment, or mistyped", course_id)
        following = index + 1
        return Page(_courses(found), str(following) if following < len(self._course_ids) else None)

    def _report(self) -> dict[str, dict[str, str]]:
        with self._report_lock:
            now = self._clock()
            if self._statuses is None or now - self._statuses_at > self._report_max_age:
                self._statuses = _statuses(self._client.learning_activity_report())
                self._statuses_at = now
            return self._statuses


class PercipioConnector(RoutedByType):
    """The `Connector` of connectors/base.py for one Percipio organization."""

    target_name = "Percipio"

    def __init__(self, client: PercipioClient, course_ids: list[str] | None = None, *,
                 report_max_age: float = REPORT_MAX_AGE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        # An empty list means "no limit", as baton-percipio's --limited-courses does.
        unique_ids = list(dict.fromkeys(course_ids or []))
        super().__init__([_Courses(client, unique_ids, report_max_age, clock)])

    def list_accounts(self, cursor: str | None = None) -> Page[Account]:
        users, following = self._client.list_users(_offset(cursor))
        return Page([_account(user) for user in users],
                    None if following is None else str(following))

    def find_account(self, email: str) -> Account | None:
        wanted = email.strip().lower()
        user = self._client.find_user(email.strip())
        if user is None:
            return None
        # The lookup matches a login name too; a login name equal to the email is that person's.
        if wanted in ((user.get("email") or "").lower(), (user.get("loginName") or "").lower()):
            return _account(user)
        return None

    def capabilities(self) -> list[Capability]:
        return [probe("sync", "users", self._client.probe_users),
                probe("sync", "courses", self._client.probe_content),
                probe("sync", "completions", self._client.probe_reporting),
                Capability("provision", "course assignment", False, NOT_PROVISIONABLE)]

    def close(self) -> None:
        self._client.close()


def _statuses(rows: list[dict]) -> dict[str, dict[str, str]]:
    """contentUuid → userUuid → slug.  Other statuses are not course states Latchkey models,
    and Completed outranks Started when a learner has rows for both."""
    by_course: dict[str, dict[str, str]] = {}
    for row in rows:
        slug = SLUG_FOR_STATUS.get(row.get("status", ""))
        course_id, user_id = row.get("contentUuid"), row.get("userUuid")
        if slug is None or not course_id or not user_id:
            continue
        held = by_course.setdefault(course_id, {})
        if held.get(user_id) != "completed":
            held[user_id] = slug
    return by_course


def _entitlement(course: Resource, slug: str) -> Entitlement:
    words = {"completed": ("completed", "Completed"),
             "in_progress": ("in progress", "Started, and not yet completed,")}[slug]
    return Entitlement(id=entitlement_id(COURSE.id, course.id, slug), resource=course, slug=slug,
                       display_name=f"{course.name} ({words[0]})",
                       description=f"{words[1]} the Percipio course {course.name}",
                       requestable=True, provisionable=False)


def _courses(items: list[dict]) -> list[Resource]:
    return [_course(item) for item in items if _is_synced(item)]


def _is_synced(item: dict) -> bool:
    kind = (item.get("contentType") or {}).get("percipioType")
    return kind in SYNCED_TYPES and (item.get("lifecycle") or {}).get("status") != "INACTIVE"


def _course(item: dict) -> Resource:
    """Named as baton-percipio names it: the en-US title, else the first title, else the code."""
    metadata = [m for m in item.get("localizedMetadata") or [] if m.get("title")]
    chosen = next((m for m in metadata if m.get("localeCode") == "en-US"),
                  metadata[0] if metadata else {})
    kind = (item.get("contentType") or {}).get("percipioType", "")
    return Resource(type=COURSE.id, id=item["id"],
                    name=chosen.get("title") or item.get("code") or item["id"],
                    description=chosen.get("description") or "",
                    attributes={"percipio_type": kind, "link": item.get("link") or ""})


def _account(user: dict) -> Account:
    email = (user.get("email") or "").lower()
    full_name = " ".join(filter(None, (user.get("firstName"), user.get("lastName"))))
    return Account(id=user["id"], email=email, display_name=full_name or email or user["id"],
                   active=bool(user.get("isActive")))


def _offset(cursor: str | None) -> int:
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise InvalidRequestError(f"not a Percipio cursor: {cursor[:80]!r}")
    return int(cursor)

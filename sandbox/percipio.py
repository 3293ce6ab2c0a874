"""A stateful local stand-in for the Skillsoft Percipio API, served over real HTTP.

It answers the calls Latchkey's Percipio connector makes the way Percipio does (Percipio's own
swagger for user-management and content-discovery, https://api.percipio.com):

- Bearer auth with service-account tokens; each token lives in one organization and may use only
  the APIs it was given (`tokens` maps a token to a comma-separated list of services from
  SERVICES).  The organization UUID is in every path.
- Users: `offset`/`max` (1–1000) and an `x-total-count` header.
- Catalog (`/content-discovery/v2/.../catalog-content`): the first page opens a paging request (a
  snapshot of the catalog) named by `x-paging-request-id`, with a `Link` header whose
  `rel="last"` URL carries the final offset; later pages must send `pagingRequestId`.  An empty
  catalog answers 204 No Content, as the swagger allows.
- `search-content?q=&typeFilter=` (full-text over id, code, titles and descriptions; max 25).
- Learning-activity reports: POST answers `{id, status: "PENDING"}`; GET answers the rows (a
  JSON array) on the first poll, or `{id, status: "IN_PROGRESS"}` for `pending_polls` polls first.

Inferred, since no public source shows them: the error body (`{"message": ...}`), 403 for a
token used on another organization's path or on an API it was not given (the swagger lists only
401), and the 429's headers (`X-RateLimit-*`, as baton-sdk's parser reads them).  `page_size`
caps every page so tests see many pages with a handful of objects.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import unquote, urlencode

from sandbox.server import Call, Reply, SandboxServer

SERVICES = ("user-management", "content-discovery", "reporting")
ALL_SERVICES = ",".join(SERVICES)
DEFAULT_ORGANIZATION = "5f1c0d6e-2b4a-4c8e-9a7d-3e6f8b2c1a90"
CONTENT_TYPES = ("COURSE", "VIDEO", "BOOK", "AUDIOBOOK", "CHANNEL", "LINKED_CONTENT",
                 "SCHEDULED_CONTENT", "ASSESSMENT", "JOURNEY")
PROGRESS_STATUSES = ("Started", "Completed", "Active", "Achieved")
MAX_PAGE = 1000
SEARCH_DEFAULT_MAX = 25


class PercipioError(Exception):
    """A Percipio error answer, raised anywhere in a handler and turned into a Reply by `route`."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message

    def reply(self) -> Reply:
        return Reply.json(self.status, {"message": self.message})


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")


class PercipioSandbox(SandboxServer):
    """Percipio users, catalog, search and learning-activity reports for one organization."""

    def __init__(self, organization_id: str = DEFAULT_ORGANIZATION, page_size: int = 3,
                 tokens: dict[str, str] | None = None) -> None:
        super().__init__()
        self.organization_id = organization_id
        self.page_size = page_size
        granted = tokens or {"percipio-test-token": ALL_SERVICES}
        self.tokens = {token: _services(services) for token, services in granted.items()}
        self.pending_polls = 0  # report GETs answered "IN_PROGRESS" before the rows
        self.report_failure: str | None = None  # when set, reports end FAILED with this error
        self._users: dict[str, dict] = {}
        self._courses: dict[str, dict] = {}
        self._progress: dict[tuple[str, str], dict] = {}
        self._paging: dict[str, list[str]] = {}
        self._reports: dict[str, dict] = {}
        org = r"/organizations/(?P<org>[^/]+)"
        self._routes: list[tuple[re.Pattern, dict[str, Callable[..., Reply]]]] = [
            (re.compile(rf"/user-management/v1{org}/users"), {"GET": self._list_users}),
            (re.compile(rf"/user-management/v1{org}/users/login-name-or-email/(?P<key>[^/]+)"),
             {"GET": self._find_user}),
            (re.compile(rf"/content-discovery/v2{org}/catalog-content"), {"GET": self._catalog}),
            (re.compile(rf"/content-discovery/v1{org}/search-content"), {"GET": self._search}),
            (re.compile(rf"/reporting/v1{org}/report-requests/learning-activity"),
             {"POST": self._request_report}),
            (re.compile(rf"/reporting/v1{org}/report-requests/(?P<rid>[^/]+)"),
             {"GET": self._get_report}),
        ]

    # -- seeding and inspection (for tests) ---------------------------------------------------
    def add_user(self, email: str, first: str = "", last: str = "", active: bool = True,
                 login_name: str | None = None) -> str:
        with self.lock:
            user_id = str(uuid.uuid4())
            self._users[user_id] = {
                "id": user_id, "externalUserId": f"ext-{len(self._users) + 1}", "email": email,
                "isActive": active, "loginName": login_name or email, "firstName": first or None,
                "lastName": last or None, "role": "LEARNER", "jobTitle": None, "jobRole": None,
                "customAttributes": [], "isInstructor": False, "updatedAt": _now(),
                "approvalManager": {}, "hasCoaching": False, "hasEnterpriseCoaching": False,
                "hasEnterpriseCoachingDashboard": False, "isLXDCreator": False,
                "isLXDPublisher": False,
            }
            return user_id

    def add_course(self, title: str | None, percipio_type: str = "COURSE",
                   status: str = "ACTIVE", code: str | None = None, locale: str = "en-US",
                   description: str = "") -> str:
        """A catalog item; `title=None` leaves localizedMetadata empty (the name falls back)."""
        if percipio_type not in CONTENT_TYPES:
            raise ValueError(f"unknown content type {percipio_type!r}")
        with self.lock:
            content_id = str(uuid.uuid4())
            metadata = [{"localeCode": locale, "title": title, "description": description or None}]
            self._courses[content_id] = {
                "id": content_id, "code": code,
                "contentType": {"percipioType": percipio_type, "category": percipio_type,
                                "displayLabel": percipio_type.title(), "source": None},
                "localeCodes": [locale], "localizedMetadata": metadata if title else [],
                "lifecycle": {"status": status, "publishDate": _now(), "lastUpdatedDate": None,
                              "plannedRetirementDate": None, "retiredDate": None,
                              "includedFromActivity": False},
                "link": f"https://share.percipio.com/cd/{content_id[:12]}",
                "imageUrl": "", "expertiseLevels": [], "modalities": ["WATCH"], "keywords": [],
                "by": [], "technologies": [], "duration": "PT15M00S",
            }
            return content_id

    def add_progress(self, user_id: str, course_id: str, status: str = "Started") -> None:
        """Record (or update) a learner's activity on a course, as the report will show it."""
        if status not in PROGRESS_STATUSES:
            raise ValueError(f"unknown activity status {status!r}")
        with self.lock:
            user, course = self._users[user_id], self._courses[course_id]
            metadata = course["localizedMetadata"]
            self._progress[(user_id, course_id)] = {
                "userUuid": user_id, "userId": user["loginName"], "firstName": user["firstName"],
                "lastName": user["lastName"], "emailAddress": user["email"],
                "contentUuid": course_id, "contentId": course["code"],
                "contentTitle": metadata[0]["title"] if metadata else None,
                "contentType": course["contentType"]["percipioType"].title(), "status": status,
                "firstAccess": _now(), "lastAccess": _now(),
                "completedDate": _now() if status == "Completed" else None,
            }

    def reports_requested(self) -> list[dict]:
        """The bodies of accepted report requests, oldest first."""
        with self.lock:
            return [report["request"] for report in self._reports.values()]

    # -- faults ---------------------------------------------------------------------------------
    def rate_limit(self, times: int = 1, path: str = ".*", reset_in: int = 1,
                   epoch: bool = False) -> None:
        """Answer the next `times` matching calls with 429; the reset header says `reset_in`
        seconds, as an offset or (`epoch=True`) as a Unix time."""
        def too_many(_call: Call) -> Reply:
            reset = int(time.time()) + reset_in if epoch else reset_in
            reply = PercipioError(429, "Too Many Requests").reply()
            reply.headers.update({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                                  "X-RateLimit-Reset": str(reset)})
            return reply
        self.inject(too_many, path=path, times=times)

    def fail(self, status: int = 500, times: int = 1, path: str = ".*", method: str = ".*") -> None:
        self.inject(lambda _call: PercipioError(status, "Unexpected error").reply(),
                    path=path, method=method, times=times)

    # -- HTTP -------------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        with self.lock:
            try:
                services = self._authenticate(call)
                handler, params = self._resolve(call)
                self._authorize(call, services, params.pop("org"))
                return handler(call, **params)
            except PercipioError as error:
                return error.reply()

    def _resolve(self, call: Call) -> tuple[Callable[..., Reply], dict[str, str]]:
        for pattern, handlers in self._routes:
            match = pattern.fullmatch(call.path)
            if match:
                if call.method not in handlers:
                    raise PercipioError(405, "Method Not Allowed")
                return handlers[call.method], {k: unquote(v) for k, v in match.groupdict().items()}
        raise PercipioError(404, "Not Found")

    def _authenticate(self, call: Call) -> frozenset[str]:
        """The services the call's bearer token may use."""
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        services = self.tokens.get(token) if scheme == "Bearer" else None
        if services is None:
            raise PercipioError(401, "Unauthorized")
        return services

    def _authorize(self, call: Call, services: frozenset[str], org: str) -> None:
        if org != self.organization_id:
            raise PercipioError(403, f"Forbidden: the token is not valid for organization {org}")
        service = call.path.split("/")[1]
        if service not in services:
            raise PercipioError(403, f"Forbidden: the service account may not use {service}")

    # -- endpoints ----------------------------------------------------------------------------
    def _list_users(self, call: Call) -> Reply:
        offset, size = _offset(call), self._size(call, MAX_PAGE)
        users = list(self._users.values())
        return Reply.json(200, users[offset:offset + size], {"x-total-count": str(len(users))})

    def _find_user(self, call: Call, key: str) -> Reply:
        for user in self._users.values():
            if key.lower() in ((user["email"] or "").lower(), (user["loginName"] or "").lower()):
                return Reply.json(200, user)
        raise PercipioError(404, "Not Found")

    def _catalog(self, call: Call) -> Reply:
        offset, size = _offset(call), self._size(call, MAX_PAGE)
        paging_id = call.arg("pagingRequestId")
        if paging_id is None:
            if offset:
                raise PercipioError(400, "pagingRequestId is required when offset is not 0")
            paging_id = str(uuid.uuid4())
            self._paging[paging_id] = list(self._courses)  # later pages read this snapshot
        elif paging_id not in self._paging:
            raise PercipioError(400, f"unknown pagingRequestId {paging_id}")
        snapshot = self._paging[paging_id]
        headers = {"x-paging-request-id": paging_id}
        if not snapshot:
            return Reply(204, b"", headers)
        last = (len(snapshot) - 1) // size * size
        query = urlencode({"offset": last, "max": call.arg("max") or MAX_PAGE,
                           "pagingRequestId": paging_id})
        headers["Link"] = f'<{self.url}{call.path}?{query}>; rel="last"'
        page = [self._courses[cid] for cid in snapshot[offset:offset + size]]
        return Reply.json(200, page, headers)

    def _search(self, call: Call) -> Reply:
        query = (call.arg("q") or "").lower()
        if not query:
            raise PercipioError(400, "q is required")
        types = set(filter(None, (call.arg("typeFilter") or "").split(",")))
        if unknown := types - set(CONTENT_TYPES):
            raise PercipioError(400, f"unknown typeFilter value(s) {sorted(unknown)}")
        found = [c for c in self._courses.values()
                 if (not types or c["contentType"]["percipioType"] in types) and query in _text(c)]
        offset, size = _offset(call), self._size(call, SEARCH_DEFAULT_MAX)
        return Reply.json(200, found[offset:offset + size])

    def _request_report(self, call: Call) -> Reply:
        body = call.json()
        if not isinstance(body, dict):
            raise PercipioError(400, "the report request must be a JSON object")
        if "timeFrame" not in body and _moment(body, "start") > _moment(body, "end"):
            raise PercipioError(400, "start must not be after end")
        types = {t.strip().lower() for t in (body.get("contentType") or "").split(",") if t.strip()}
        rows = [dict(row) for row in self._progress.values()
                if not types or row["contentType"].lower() in types]
        report_id = str(uuid.uuid4())
        self._reports[report_id] = {"request": body, "rows": rows,
                                    "polls_left": self.pending_polls}
        return Reply.json(200, {"id": report_id, "status": "PENDING"})

    def _get_report(self, call: Call, rid: str) -> Reply:
        report = self._reports.get(rid)
        if report is None:
            raise PercipioError(404, f"report request {rid} not found")
        if report["polls_left"]:
            report["polls_left"] -= 1
            return Reply.json(200, {"id": rid, "status": "IN_PROGRESS"})
        if self.report_failure:
            return Reply.json(200, {"id": rid, "status": "FAILED", "error": self.report_failure})
        return Reply.json(200, report["rows"])

    # -- helpers --------------------------------------------------------------------------------
    def _size(self, call: Call, default: int) -> int:
        raw = call.arg("max")
        if raw is None:
            return min(default, self.page_size)
        if not raw.isdigit() or not 1 <= int(raw) <= MAX_PAGE:
            raise PercipioError(400, f"max must be an integer between 1 and {MAX_PAGE}")
        return min(int(raw), self.page_size)


def _services(granted: str) -> frozenset[str]:
    services = frozenset(s.strip() for s in granted.split(",") if s.strip())
    if unknown := services - set(SERVICES):
        raise ValueError(f"unknown service(s) {sorted(unknown)}; use some of {SERVICES}")
    return services


def _offset(call: Call) -> int:
    raw = call.arg("offset", "0")
    if not raw.isdigit():
        raise PercipioError(400, "offset must be a non-negative integer")
    return int(raw)


def _moment(body: dict, name: str) -> datetime:
    """A start/end date-time; one without a zone is read as UTC, as Percipio's GMT dates are."""
    try:
        moment = datetime.fromisoformat(str(body[name]))
    except (KeyError, ValueError) as exc:
        raise PercipioError(400, f"{name} must be an ISO 8601 date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(course: dict) -> str:
    """What search-content matches `q` against, lower-cased."""
    metadata = course["localizedMetadata"]
    words = [course["id"], course["code"] or ""] + \
        [f"{m['title']} {m['description'] or ''}" for m in metadata]
    return " ".join(words).lower()

"""HTTP client for the Skillsoft Percipio API: wire JSON, paging and the report flow, nothing more.

Every path carries the organization UUID (`/…/v1/organizations/{org}/…`); the token is a Percipio
service account's bearer token, which lives in one organization and may use only the APIs
(user management, content discovery, reporting) it was given.  As baton-percipio does:

- users page by `offset`/`max`; the `x-total-count` header says when to stop;
- the catalog pages statefully: the first page answers `x-paging-request-id` and a `Link` whose
  `rel="last"` URL holds the final offset; later pages must send that `pagingRequestId`;
- who took which course comes only from the learning-activity report: POST a request, then GET
  it until it is a JSON array (a status object while it is being built).

Retries and error mapping are connectors/http.py's.  Percipio's rate-limit header names were not
found in any public source, so a 429's wait is read the way baton-sdk reads any API's:
`Retry-After`, else `X-RateLimit-Reset` / `RateLimit-Reset` (seconds, or a Unix time).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, quote, urlsplit

import httpx

from connectors.base import ConnectorError, InvalidRequestError, NotFoundError, TransientError
from connectors.http import ApiClient, retry_after_header

DEFAULT_BASE_URL = "https://api.percipio.com"
# Inferred: Skillsoft's own generator-percipio README names this host for EU-hosted sites.
EU_BASE_URL = "https://dew1-api.percipio.com"

MAX_PAGE_SIZE = 1000  # the swagger's limit on `max` for users and the catalog
COURSE_TYPES = "COURSE,ASSESSMENT"  # search-content's typeFilter: what baton-percipio syncs
REPORT_CONTENT_TYPES = "Course,Assessment"  # the report request spells the same types this way
REPORT_LOOKBACK = timedelta(days=3650)  # baton-percipio asks for ten years of activity
REPORT_POLL_INTERVAL = 60.0  # baton-percipio's wait between polls...
REPORT_MAX_POLLS = 300  # ...and its number of polls: a big org's report can take hours
_PENDING = frozenset({"PENDING", "IN_PROGRESS"})  # seen in either case (a fixture has "pending")
_NO_REPORT = "00000000-0000-0000-0000-000000000000"  # an id no report has, for the access probe
_EPOCH_THRESHOLD = 30 * 365 * 24 * 3600  # baton-sdk: a larger reset is a Unix time, not an offset


@dataclass(frozen=True)
class CatalogCursor:
    """Where the next catalog page starts, within one paging request (Percipio's snapshot)."""

    offset: int
    paging_request_id: str
    final_offset: int

    def encode(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def decode(cls, text: str) -> CatalogCursor:
        try:
            cursor = cls(**json.loads(text))
        except (ValueError, TypeError) as exc:
            raise InvalidRequestError(f"not a Percipio catalog cursor: {text[:80]!r}") from exc
        types = (type(cursor.offset), type(cursor.paging_request_id), type(cursor.final_offset))
        if types != (int, str, int):
            raise InvalidRequestError(f"not a Percipio catalog cursor: {text[:80]!r}")
        return cursor


class PercipioClient(ApiClient):
    """One Percipio organization, one service-account token, one pooled `httpx.Client`."""

    api_name = "Percipio"

    def __init__(self, base_url: str, token: str, organization_id: str, *,
                 page_size: int = MAX_PAGE_SIZE, max_attempts: int = 5, timeout: float = 10.0,
                 sleep: Callable[[float], None] = time.sleep,
                 report_poll_interval: float = REPORT_POLL_INTERVAL,
                 report_max_polls: int = REPORT_MAX_POLLS) -> None:
        self._org = _organization_uuid(organization_id)
        if report_max_polls < 1:
            raise ValueError("report_max_polls must be at least 1")
        super().__init__(base_url.rstrip("/"),
                         {"Authorization": f"Bearer {token}", "Accept": "application/json"},
                         max_attempts=max_attempts, timeout=timeout, sleep=sleep)
        self._page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        self._poll_interval = report_poll_interval
        self._max_polls = report_max_polls

    # -- users ----------------------------------------------------------------------------------
    def list_users(self, offset: int = 0) -> tuple[list[dict], int | None]:
        """One page of users from `offset`, and the offset of the next page (None at the end)."""
        path = self._path("user-management/v1", "users")
        response = self.request("GET", path, params={"offset": offset, "max": self._page_size})
        users, total = _json_array(response), _total_count(response, path)
        following = offset + len(users)  # not + max: the API may answer fewer than asked
        return users, following if users and following < total else None

    def find_user(self, login_name_or_email: str) -> dict | None:
        """The user whose login name or email this is, or None."""
        key = quote(login_name_or_email, safe="")
        try:
            return self.request("GET", self._path("user-management/v1",
                                                  f"users/login-name-or-email/{key}")).json()
        except NotFoundError:
            return None

    # -- content --------------------------------------------------------------------------------
    def list_catalog(self, cursor: CatalogCursor | None) -> tuple[list[dict], CatalogCursor | None]:
        """One page of the licensed catalog (every content type) and the next page's cursor."""
        path = self._path("content-discovery/v2", "catalog-content")
        params: dict[str, str | int] = {"offset": cursor.offset if cursor else 0,
                                        "max": self._page_size}
        if cursor:
            params["pagingRequestId"] = cursor.paging_request_id
        response = self.request("GET", path, params=params)
        items = _json_array(response)
        current = cursor or _first_cursor(response, path)
        if current is None:
            return items, None
        following = current.offset + len(items)
        if not items or following > current.final_offset:
            return items, None
        return items, CatalogCursor(following, current.paging_request_id, current.final_offset)

    def search_content(self, query: str) -> list[dict]:
        """Courses and assessments matching `query` (full text: ids, titles, descriptions).

        Only the first page is read: callers search for one content UUID, which (inferred)
        ranks its own item among the first results; baton-percipio does the same, one id per
        call, because several ids in one query answer broad, unexpected results.
        """
        response = self.request("GET", self._path("content-discovery/v1", "search-content"),
                                params={"q": query, "typeFilter": COURSE_TYPES})
        return _json_array(response)

    # -- reporting ------------------------------------------------------------------------------
    def learning_activity_report(self) -> list[dict]:
        """Ten years of course and assessment activity, every learner: request, then poll.

        Polls at most `report_max_polls` times, sleeping `report_poll_interval` between them.
        A retried POST may leave a second report job behind on Percipio's side; reports only
        read, so that costs Percipio some work and nothing else.
        """
        now = datetime.now(UTC)
        body = {"start": _rfc3339(now - REPORT_LOOKBACK), "end": _rfc3339(now),
                "contentType": REPORT_CONTENT_TYPES}
        path = self._path("reporting/v1", "report-requests/learning-activity")
        answer = self.request("POST", path, json=body).json()
        report_id = answer.get("id") if isinstance(answer, dict) else None
        if not isinstance(report_id, str) or not report_id:
            raise ConnectorError(f"Percipio POST {path} answered no report id")
        for poll in range(self._max_polls):
            if poll:
                self._sleep(self._poll_interval)
            rows = self._report_rows(report_id)
            if rows is not None:
                return rows
        raise TransientError(f"Percipio report {report_id} was not ready after {self._max_polls} "
                             f"polls {self._poll_interval:g} s apart; try again later")

    def _report_rows(self, report_id: str) -> list[dict] | None:
        """The report's rows, or None while Percipio is still building it."""
        path = self._path("reporting/v1", f"report-requests/{quote(report_id, safe='')}")
        response = self.request("GET", path)
        if not response.content.strip():  # baton-percipio saw empty answers mid-build
            return None
        body = response.json()
        if isinstance(body, list):
            return body
        status = str(body.get("status", "")) if isinstance(body, dict) else ""
        if status.upper() in _PENDING:
            return None
        error = body.get("error") if isinstance(body, dict) else None
        raise ConnectorError(f"Percipio report {report_id} failed: status {status or '(none)'}"
                             + (f", {error}" if error else ""))

    # -- access probes (for capabilities) ------------------------------------------------------
    def probe_users(self) -> None:
        self.request("GET", self._path("user-management/v1", "users"),
                     params={"offset": 0, "max": 1})

    def probe_content(self) -> None:
        self.request("GET", self._path("content-discovery/v2", "catalog-content"),
                     params={"offset": 0, "max": 1})

    def probe_reporting(self) -> None:
        """Ask for a report no one requested: 404 proves the token may use the reporting API,
        without starting a report job (which a real POST would)."""
        try:
            self.request("GET", self._path("reporting/v1", f"report-requests/{_NO_REPORT}"))
        except NotFoundError:
            return

    # -- plumbing -------------------------------------------------------------------------------
    def _path(self, service: str, rest: str) -> str:
        return f"/{service}/organizations/{self._org}/{rest}"

    def retry_after(self, response: httpx.Response) -> float | None:
        seconds = retry_after_header(response)
        return seconds if seconds is not None else _rate_limit_reset(response)


def _organization_uuid(organization_id: str) -> str:
    """Percipio organization ids are UUIDs; catching a typo here beats a puzzling 4xx later."""
    try:
        return str(uuid.UUID(organization_id.strip()))
    except (ValueError, AttributeError) as exc:
        raise ValueError(f"Percipio organization_id must be a UUID, not {organization_id!r}") \
            from exc


def _json_array(response: httpx.Response) -> list[dict]:
    if response.status_code == 204 or not response.content.strip():  # the catalog's "no content"
        return []
    body = response.json()
    if not isinstance(body, list):
        raise ConnectorError(f"Percipio {response.request.method} {response.request.url.path} "
                             f"answered {type(body).__name__}, not a JSON array")
    return body


def _total_count(response: httpx.Response, path: str) -> int:
    """`x-total-count`, which baton-percipio requires too: without it the end is unknowable."""
    try:
        return int(response.headers["x-total-count"])
    except (KeyError, ValueError) as exc:
        raise ConnectorError(f"Percipio GET {path} answered no integer x-total-count header") \
            from exc


def _first_cursor(response: httpx.Response, path: str) -> CatalogCursor | None:
    """The paging request the first catalog page opened; None when it is the only page."""
    if "link" not in response.headers:
        return None
    last = response.links.get("last")
    offsets = parse_qs(urlsplit(last.get("url", "")).query).get("offset") if last else None
    if not offsets or not offsets[0].isdigit():
        raise ConnectorError(f"Percipio GET {path} sent a Link header without a rel=\"last\" "
                             "offset, so the last page is unknown")
    paging_request_id = response.headers.get("x-paging-request-id")
    if not paging_request_id:
        raise ConnectorError(f"Percipio GET {path} sent no x-paging-request-id for later pages")
    return CatalogCursor(0, paging_request_id, int(offsets[0]))


def _rate_limit_reset(response: httpx.Response) -> float | None:
    for name in ("X-RateLimit-Reset", "RateLimit-Reset"):
        try:
            value = float(response.headers[name])
        except (KeyError, ValueError):
            continue
        return max(value - time.time() if value > _EPOCH_THRESHOLD else value, 0.0)
    return None


def _rfc3339(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

"""HTTP client for PagerDuty's REST API v2, the on-calls alone: wire JSON, retries and error
mapping, nothing more.

Wire facts, from PagerDuty's REST API v2 reference ("List all of the on-calls"):

- `Authorization: Token token=<key>` and `Accept: application/vnd.pagerduty+json;version=2`.
- `GET /oncalls` with `schedule_ids[]`, `escalation_policy_ids[]` and `include[]=users`
  (each user embedded whole, its `email` included); without `since`/`until` it lists who is on
  call now.  Each on-call names its `user`, `escalation_policy`, `escalation_level` and
  `schedule` (null for a person named in the policy directly, who is always on call).
- Classic pagination: `offset` and `limit` (at most 100), and `more` while pages remain.
- Errors: `{"error": {"message": ..., "code": ..., "errors": [...]}}`; 429 when rate limited,
  with `ratelimit-reset`: the seconds to wait before retrying ("REST API Rate Limits").

Every call here is a read, so retrying is always safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx

from connectors.http import READ_AT_MOST, ApiClient, every_item, retry_after_header

PAGE = 100  # on-calls per page, PagerDuty's most
# Whoever waits on the answer (a request form, which Slack gives 3 seconds; an approval click)
# waits on this too: two tries of at most 0.8 s, a retry only after a short wait, and a 429
# asking for more is given up at once (the lookup then fails safe: nobody is on call).
ATTEMPTS, TIMEOUT, MAX_WAIT = 2, 0.8, 0.7


class PagerDutyClient(ApiClient):
    api_name = "PagerDuty"

    def __init__(self, url: str, token: str, *, max_attempts: int = ATTEMPTS, timeout: float = TIMEOUT,
                 max_wait: float | None = MAX_WAIT, page_size: int = PAGE,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(url.rstrip("/"), {"Accept": "application/vnd.pagerduty+json;version=2",
                                           "Authorization": f"Token token={token}"},
                         max_attempts=max_attempts, timeout=timeout, max_wait=max_wait, sleep=sleep)
        self._page_size = page_size

    def on_calls_page(self, schedules: tuple[str, ...], escalation_policies: tuple[str, ...],
                      cursor: str | None = None) -> tuple[list[dict], str | None]:
        """One page of who is on call now, and the offset of the next page (None: the last)."""
        offset = int(cursor or 0)
        params: list[tuple[str, str | int]] = [("include[]", "users"), ("limit", self._page_size),
                                               ("offset", offset)]
        params += [("schedule_ids[]", s) for s in schedules]
        params += [("escalation_policy_ids[]", p) for p in escalation_policies]
        body = self.request("GET", "/oncalls", params=params).json()
        page = list(body.get("oncalls") or [])
        return page, (str(offset + len(page)) if body.get("more") and page else None)

    def on_calls(self, schedules: tuple[str, ...], escalation_policies: tuple[str, ...]) -> Iterator[dict]:
        """Every on-call now for these schedules and policies, page by page (a few people)."""
        return every_item(lambda cursor: self.on_calls_page(schedules, escalation_policies, cursor))

    def retry_after(self, response: httpx.Response) -> float | None:
        """Seconds to wait after a 429: PagerDuty's `ratelimit-reset`, else a `Retry-After`."""
        try:
            return max(float(response.headers["ratelimit-reset"]), 0.0)
        except (KeyError, ValueError):
            return retry_after_header(response)

    def describe_error(self, response: httpx.Response) -> str:
        try:
            error = response.json()["error"]
            said = [f"{error.get('message', '')} (code {error.get('code')})", *map(str, error.get("errors") or [])]
        except (ValueError, KeyError, TypeError, AttributeError):
            return super().describe_error(response)
        return "; ".join(said)[:READ_AT_MOST]

"""HTTP client for Opsgenie's Who Is On Call API: wire JSON, retries and error mapping.

Wire facts, from Opsgenie's REST API documentation ("Who is On Call API"):

- `Authorization: GenieKey <apiKey>` (an API integration's key).
- `GET /v2/schedules/{scheduleIdentifier}/on-calls` with `scheduleIdentifierType` (`id`, the
  default, or `name`) and `flat=true`, which answers the on-call people as their usernames
  (emails) in `data.onCallRecipients`; `data._parent` names the schedule.  Without `date` it
  answers for now.
- Errors: `{"message": ..., "took": ..., "requestId": ...}`, e.g. 404 for an unknown schedule,
  403 for a key whose team may not see it; 429 when rate limited (`X-RateLimit-State:
  THROTTLED`, with no time to wait: the shared backoff applies).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from urllib.parse import quote

import httpx

from connectors.http import READ_AT_MOST, ApiClient

ATTEMPTS, TIMEOUT, MAX_WAIT = 2, 0.8, 0.7  # as PagerDuty's: someone waits on the answer
_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class OpsgenieClient(ApiClient):
    api_name = "Opsgenie"

    def __init__(self, url: str, api_key: str, *, max_attempts: int = ATTEMPTS, timeout: float = TIMEOUT,
                 max_wait: float | None = MAX_WAIT, sleep: Callable[[float], None] = time.sleep) -> None:
        super().__init__(url.rstrip("/"), {"Accept": "application/json", "Authorization": f"GenieKey {api_key}"},
                         max_attempts=max_attempts, timeout=timeout, max_wait=max_wait, sleep=sleep)

    def on_call_recipients(self, schedule: str) -> list[str]:
        """Usernames (emails) of whoever the schedule, by id or by name, has on call now."""
        kind = "id" if _ID.fullmatch(schedule) else "name"
        body = self.request("GET", f"/v2/schedules/{quote(schedule, safe='')}/on-calls",
                            params={"scheduleIdentifierType": kind, "flat": "true"}).json()
        return [str(who) for who in (body.get("data") or {}).get("onCallRecipients") or []]

    def describe_error(self, response: httpx.Response) -> str:
        try:
            said = str(response.json()["message"])
        except (ValueError, KeyError, TypeError):
            return super().describe_error(response)
        return said[:READ_AT_MOST]

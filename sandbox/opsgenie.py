"""A stateful local stand-in for Opsgenie's Who Is On Call API, served over real HTTP and
answered as Opsgenie's REST API documentation describes it.

- `Authorization: GenieKey <apiKey>`; anything else answers 401 with Opsgenie's error body
  `{"message": ..., "took": ..., "requestId": ...}`.
- `GET /v2/schedules/{identifier}/on-calls`: `scheduleIdentifierType` `id` (the default) or
  `name`; `flat=true` answers `data.onCallRecipients` (usernames, i.e. emails), otherwise
  `data.onCallParticipants` (`{id, name, type: "user"}`); `data._parent` names the schedule.
  An unknown schedule answers 404.
- Rate limiting ("Rate Limiting": a token bucket per domain, schedule on-calls being one):
  `rate_limited` calls are answered 429 with `X-RateLimit-State: THROTTLED` and the domain and
  period, but no time to wait (so a client backs off).  An outage (500) and a slow answer are
  the base server's `inject()`, `latency` and `hold()`.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from urllib.parse import unquote

from sandbox.server import Call, Reply, SandboxServer

ON_CALLS = re.compile(r"/v2/schedules/(?P<identifier>[^/]+)/on-calls")


@dataclass
class Schedule:
    id: str
    name: str
    on_call: list[str] = field(default_factory=list)  # usernames (emails)


class OpsgenieSandbox(SandboxServer):
    def __init__(self, api_keys: set[str] | None = None) -> None:
        super().__init__()
        self.api_keys = api_keys or {"og-test-key"}
        self.schedules: dict[str, Schedule] = {}  # by id
        self.rate_limited = 0

    def add_schedule(self, name: str, *on_call: str) -> Schedule:
        with self.lock:
            schedule = Schedule(str(uuid.uuid4()), name, list(on_call))
            self.schedules[schedule.id] = schedule
            return schedule

    def hand_over(self, name: str, *on_call: str) -> None:
        with self.lock:
            next(s for s in self.schedules.values() if s.name == name).on_call = list(on_call)

    def route(self, call: Call) -> Reply:
        if call.headers.get("authorization", "").removeprefix("GenieKey ") not in self.api_keys:
            return _error(401, "Could not authenticate")
        with self.lock:
            if self.rate_limited:
                self.rate_limited -= 1
                return Reply.json(429, _body("Too many requests"), {
                    "X-RateLimit-State": "THROTTLED", "X-RateLimit-Reason": "SCHEDULE_ONCALL",
                    "X-RateLimit-Period-In-Sec": "60"})
        match = ON_CALLS.fullmatch(call.path)
        if call.method != "GET" or not match:
            return _error(404, "Not found")
        identifier, kind = unquote(match["identifier"]), call.arg("scheduleIdentifierType") or "id"
        if kind not in ("id", "name"):
            return _error(422, "Schedule identifier type is not valid")
        with self.lock:
            schedule = next((s for s in self.schedules.values()
                             if (s.id if kind == "id" else s.name) == identifier), None)
            if schedule is None:
                return _error(404, f"No schedule exists with {kind} [{identifier}]")
            people = list(schedule.on_call)
        data: dict = {"_parent": {"id": schedule.id, "name": schedule.name, "enabled": True}}
        if call.arg("flat") == "true":
            data["onCallRecipients"] = people
        else:
            data["onCallParticipants"] = [{"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, p)), "name": p, "type": "user"}
                                          for p in people]
        return Reply.json(200, {**_body(None), "data": data})


def _body(message: str | None) -> dict:
    body: dict = {"took": 0.012, "requestId": str(uuid.uuid4())}
    return {"message": message, **body} if message else body


def _error(status: int, message: str) -> Reply:
    return Reply.json(status, _body(message))

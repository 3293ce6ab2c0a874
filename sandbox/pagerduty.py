"""A stateful local stand-in for PagerDuty's REST API v2, the on-calls alone, served over real
HTTP and answered as PagerDuty's reference ("List all of the on-calls") describes them.

- `Authorization: Token token=<key>`; anything else answers 401 with PagerDuty's error body
  `{"error": {"message": ..., "code": ...}}`.
- `GET /oncalls`: who is on call now, computed from escalation policies whose levels target
  users (always on call, `schedule: null`) or schedules (whoever the schedule has on call now).
  Filters `schedule_ids[]` and `escalation_policy_ids[]` (both given: both must match);
  `include[]=users` embeds each user whole with its `email`, else a `user_reference`.
  Classic pagination: `offset`, `limit` (default 25, at most 100, else 400 "Invalid Input
  Provided"), `more`, `total: null`.
- Rate limiting (PagerDuty's "REST API Rate Limits"): `rate_limited` calls are answered 429
  with `ratelimit-limit`, `ratelimit-remaining` and `ratelimit-reset` (the seconds to wait
  before retrying, `retry_after`).  An outage (500) and a slow answer are the base server's
  `inject()`, `latency` and `hold()`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.server import Call, Reply, SandboxServer

DEFAULT_LIMIT, MAX_LIMIT = 25, 100


@dataclass
class PagerDutyUser:
    id: str
    email: str
    name: str


@dataclass
class Level:
    users: list[str] = field(default_factory=list)  # user ids, always on call at this level
    schedules: list[str] = field(default_factory=list)  # schedule ids


class PagerDutySandbox(SandboxServer):
    def __init__(self, tokens: set[str] | None = None) -> None:
        super().__init__()
        self.tokens = tokens or {"pd-test-token"}
        self.users: dict[str, PagerDutyUser] = {}
        self.schedules: dict[str, list[str]] = {}  # schedule id → the user ids on call now
        self.policies: dict[str, list[Level]] = {}  # escalation policy id → its levels, from 1
        self.rate_limited = 0  # the next calls answered 429
        self.retry_after = 1

    # -- seeding -----------------------------------------------------------------------------
    def add_user(self, email: str, name: str = "") -> str:
        with self.lock:
            user_id = f"PU{len(self.users) + 1:05d}"
            self.users[user_id] = PagerDutyUser(user_id, email, name or email.split("@")[0].title())
            return user_id

    def user_id(self, email: str) -> str:
        return next(u.id for u in self.users.values() if u.email == email)

    def add_schedule(self, schedule_id: str, *on_call: str) -> None:
        """A schedule with these people (emails) on call now."""
        self.hand_over(schedule_id, *on_call)

    def hand_over(self, schedule_id: str, *on_call: str) -> None:
        """The schedule's shift changes: these people (emails) are on call from now on."""
        with self.lock:
            self.schedules[schedule_id] = [self.user_id(email) for email in on_call]

    def add_policy(self, policy_id: str, *levels: Level) -> None:
        with self.lock:
            self.policies[policy_id] = list(levels)

    # -- HTTP --------------------------------------------------------------------------------
    def route(self, call: Call) -> Reply:
        if call.headers.get("authorization", "").removeprefix("Token token=") not in self.tokens:
            return _error(401, "Unauthorized", 2006)
        with self.lock:
            if self.rate_limited:
                self.rate_limited -= 1
                return Reply.json(429, {"error": {"message": "Rate Limit Exceeded", "code": 2020}},
                                  {"ratelimit-limit": "960", "ratelimit-remaining": "0",
                                   "ratelimit-reset": str(self.retry_after)})
        if call.method == "GET" and call.path == "/oncalls":
            return self._on_calls(call)
        return _error(404, "Not Found", 2100)

    def _on_calls(self, call: Call) -> Reply:
        try:
            limit, offset = int(call.arg("limit") or DEFAULT_LIMIT), int(call.arg("offset") or 0)
        except ValueError:
            return _error(400, "Invalid Input Provided", 2001, ["Limit and offset must be integers."])
        if not 0 < limit <= MAX_LIMIT or offset < 0:
            return _error(400, "Invalid Input Provided", 2001, [f"Limit must be between 1 and {MAX_LIMIT}."])
        schedules, policies = call.query.get("schedule_ids[]"), call.query.get("escalation_policy_ids[]")
        with_users = "users" in call.query.get("include[]", [])
        with self.lock:
            found = [one for one in self._now(with_users)
                     if (schedules is None or (one["schedule"] or {}).get("id") in schedules)
                     and (policies is None or one["escalation_policy"]["id"] in policies)]
        page = found[offset:offset + limit]
        return Reply.json(200, {"oncalls": page, "limit": limit, "offset": offset,
                                "more": offset + limit < len(found), "total": None})

    def _now(self, with_users: bool) -> list[dict]:
        """Every on-call now, policy by policy, level by level."""
        found = []
        for policy_id, levels in self.policies.items():
            for number, level in enumerate(levels, start=1):
                targets = [(user, None) for user in level.users] + [
                    (user, schedule) for schedule in level.schedules for user in self.schedules.get(schedule, [])]
                for user_id, schedule in targets:
                    found.append({
                        "escalation_policy": self._reference("escalation_policy", policy_id),
                        "escalation_level": number,
                        "schedule": self._reference("schedule", schedule) if schedule else None,
                        "user": self._user(user_id, with_users),
                        "start": None if schedule is None else "2026-12-01T00:00:00Z",
                        "end": None if schedule is None else "2026-12-31T00:00:00Z",
                    })
        return found

    def _reference(self, kind: str, ident: str) -> dict:
        plural = "escalation_policies" if kind == "escalation_policy" else f"{kind}s"
        return {"id": ident, "type": f"{kind}_reference", "summary": ident,
                "self": f"{self.url}/{plural}/{ident}", "html_url": f"https://acme.pagerduty.com/{plural}/{ident}"}

    def _user(self, user_id: str, whole: bool) -> dict:
        user = self.users[user_id]
        reference = {**self._reference("user", user_id), "summary": user.name}
        if not whole:
            return reference
        return {**reference, "type": "user", "name": user.name, "email": user.email, "time_zone": "Etc/UTC",
                "role": "user"}


def _error(status: int, message: str, code: int, errors: list[str] | None = None) -> Reply:
    body: dict = {"error": {"message": message, "code": code}}
    if errors:
        body["error"]["errors"] = errors
    return Reply.json(status, body)

"""The sandboxes, instrumented for measuring: bench-only subclasses, the sandbox API unchanged.

`TimedSlack` sends every signed delivery over one pooled HTTP client and records how long the
bot took to answer it (the acknowledgement latency, as Slack sees it), and when each message the
bot posted arrived.  `TimedOkta` stamps each membership write with the moment it arrived, and
pages large orgs without rebuilding the whole list on every call, so that a 100,000-user org
costs the sandbox per page, not per user.
"""

from __future__ import annotations

import bisect
import json
import re
import threading
import time
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

import httpx

from sandbox.okta import MAX_LIMIT, OktaSandbox
from sandbox.server import Call, Reply
from sandbox.slack import SlackSandbox

# The sandboxes serve with http.server, whose listen backlog is 5: under load, connections beyond
# it wait for a SYN retry (1 s) before the sandbox even sees them.  Slack and Okta have no such
# limit, so the benchmark raises it for every sandbox in this process.
ThreadingHTTPServer.request_queue_size = 256

_MEMBERSHIP = re.compile(r"/api/v1/groups/(?P<gid>[^/]+)/users/(?P<uid>[^/]+)")


class DeliveryTimeout(Exception):
    """The bot did not answer within Slack's 3 s."""


class TimedSlack(SlackSandbox):
    """A Slack sandbox whose deliveries reuse connections and are timed.

    `post_raw` is the sandbox's own, keeping connections alive, and timed: `last_ack()` is this
    thread's latest figure.
    """

    keep_alive = True  # connecting anew for every request would time the sender, not the bot

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._mine = threading.local()
        self.posted_at: dict[str, float] = {}  # ts of each message the bot posted → time.time()

    def last_ack(self) -> float:
        return self._mine.elapsed

    def dispatch(self, call: Call) -> Reply:
        reply = super().dispatch(call)
        if call.path == "/api/chat.postMessage" and reply.status == 200:
            answer = json.loads(reply.body)
            if answer.get("ok"):
                with self.lock:
                    self.posted_at[answer["ts"]] = time.time()
        return reply

    def post_raw(self, body: bytes, content_type: str, **signing) -> httpx.Response:
        started = time.perf_counter()
        try:
            return super().post_raw(body, content_type, **signing)
        except httpx.TimeoutException:
            raise DeliveryTimeout(f"no answer within {self.delivery_timeout} s") from None
        finally:
            self._mine.elapsed = time.perf_counter() - started

    def hang_up(self) -> None:
        """Close the kept-alive connections to the bot.  `latchkey serve` stops on SIGTERM only
        once every client connection is closed (waitress keeps serving open ones), so do this
        before stopping it."""
        self.close_connections()


@dataclass(frozen=True)
class Write:
    at: float  # time.time() when the sandbox received the call
    method: str  # PUT (grant) or DELETE (revoke)
    group_id: str
    user_id: str


class TimedOkta(OktaSandbox):
    """An Okta sandbox that timestamps membership writes on arrival and pages big lists fast."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.writes: list[Write] = []
        self.counts: dict[str, int] = {}  # rate-limit bucket → calls (see `bucket`)
        self.first_call_at: float | None = None  # time.time() of the first call
        self._sorted_users: list[str] = []

    def dispatch(self, call: Call) -> Reply:
        arrived = time.time()
        match = _MEMBERSHIP.fullmatch(call.path)
        with self.lock:
            self.first_call_at = self.first_call_at or arrived
            if match and call.method in ("PUT", "DELETE"):
                self.writes.append(Write(arrived, call.method, match["gid"], match["uid"]))
            self.counts[bucket(call)] = self.counts.get(bucket(call), 0) + 1
        return super().dispatch(call)

    def writes_of(self, method: str) -> list[Write]:
        with self.lock:
            return [w for w in self.writes if w.method == method]

    # -- seeding many objects at once ------------------------------------------------------
    def bulk_users(self, emails: list[str]) -> list[str]:
        """add_user() without its per-call uniqueness scan (quadratic over 100,000 users)."""
        with self.lock:
            ids = []
            for email in emails:
                user = self._new_user(email, "Bench", email.split("@")[0], "ACTIVE")
                self._users[user["id"]] = user
                ids.append(user["id"])
            self._sorted_users = []
            return ids

    def bulk_members(self, pairs: list[tuple[str, str]]) -> None:
        with self.lock:
            for group_id, user_id in pairs:
                self._members[group_id].add(user_id)

    # -- paging a big user list without copying it per page -------------------------------
    def _list_users(self, call: Call) -> Reply:
        expression = call.arg("search") or call.arg("filter")
        if expression not in (None, "status pr"):  # bench users are all ACTIVE
            return super()._list_users(call)
        if len(self._sorted_users) != len(self._users):
            self._sorted_users = sorted(self._users)
        ids = self._sorted_users
        requested = self._limit(call, 200)
        size = min(requested, MAX_LIMIT, self.page_size)
        after = call.arg("after")
        start = bisect.bisect_right(ids, after) if after else 0
        page = [self._user_json(self._users[uid]) for uid in ids[start:start + size]]
        links = [f'<{self._link(call)}>; rel="self"']
        if start + size < len(ids):
            links.append(f'<{self._link(call, requested, page[-1]["id"])}>; rel="next"')
        return self._json(page, {"Link": ", ".join(links)})


def bucket(call: Call) -> str:
    """Okta's rate-limit bucket for a call (developer.okta.com, "Management rate limits")."""
    path = call.path
    if path == "/api/v1/logs":
        return path
    if path == "/api/v1/users" and call.method in ("GET", "POST"):
        return "/api/v1/users"
    if path.startswith("/api/v1/users/"):
        return "/api/v1/users/{id}" if call.method == "GET" and path.count("/") == 4 else "/api/v1"
    if re.fullmatch(r"/api/v1/groups/[^/]+", path):
        return "/api/v1/groups/{id}"
    if path.startswith("/api/v1/groups"):
        return "/api/v1/groups"
    if path.startswith("/api/v1/apps"):
        return "/api/v1/apps"
    return "/api/v1"

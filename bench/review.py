"""An access review at the size the project promises: 5,000 Okta users holding 10 of 500 groups
each (50,000 holdings), reviewed by a Slack user group of 200 people.

A real `latchkey serve` runs against the sandboxes, its first sync done; then the operator runs
`latchkey review start NAME` (a process, with the same environment).  Measured: how long the
start takes (its fresh sync of the scope included, and said apart), how long until each
reviewer's DM reached the Slack sandbox, how many DMs each reviewer got (one), and the busiest
second of `chat.postMessage` per channel against Slack's documented limit (one a second per
channel, short bursts tolerated).  The Slack Web API calls of the whole campaign are counted
by method, against the tiers Slack documents.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.figures import Figure, Results
from bench.sandboxes import TimedOkta, TimedSlack
from bench.serve import BOT_TOKEN, OKTA_TOKEN, ROOT, SIGNING_SECRET, Serve, config_text
from sandbox.server import Call, Reply
from storage.catalog import Catalog
from storage.engine import make_engine
from storage.reviews import ReviewStore

log = logging.getLogger("bench")

USERS, GROUPS, HELD, REVIEWERS = 5_000, 500, 10, 200
NAME = "bench-review"
START_TARGET = 60.0  # seconds
DM_WAIT = 60.0  # how long after the start every DM may take to arrive
SETTLE = 3.0  # seconds to wait after the last DM for a second one that should not come
OKTA_LOGS = "/api/v1/logs"  # read by serve's System Log poller, not by a sync
# Slack's documented tiers (api.slack.com/docs/rate-limits and each method's page), per minute.
TIERS = {"chat.postMessage": "special", "chat.update": "Tier 3, 50+", "users.info": "Tier 4, 100+",
         "usergroups.list": "Tier 2, 20+", "usergroups.users.list": "Tier 2, 20+",
         "views.open": "Tier 4, 100+", "views.update": "Tier 4, 100+", "views.publish": "Tier 4, 100+"}


class CountingSlack(TimedSlack):
    """Also records every Web API call: when, which method, and where a post went (the user
    whose DM it is, else the channel)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.api_calls: list[tuple[float, str, str]] = []  # (time.time(), method, user/channel or "")

    def dispatch(self, call: Call) -> Reply:
        reply = super().dispatch(call)
        if call.path.startswith("/api/"):
            with self.lock:
                where = ""
                if call.path == "/api/chat.postMessage" and reply.status == 200:
                    channel = json.loads(reply.body).get("channel", "")
                    where = self.workspace.dm_owner(channel) or channel
                self.api_calls.append((time.time(), call.path.removeprefix("/api/"), where))
        return reply

    def posts(self) -> list[tuple[float, str]]:
        """(when, user or channel) of every message posted."""
        with self.lock:
            return [(at, where) for at, method, where in self.api_calls if method == "chat.postMessage"]


class StampedOkta(TimedOkta):
    """Also records when each call but the System Log's arrived (the syncs' calls)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.sync_calls: list[float] = []

    def dispatch(self, call: Call) -> Reply:
        if call.path != OKTA_LOGS:
            with self.lock:
                self.sync_calls.append(time.time())
        return super().dispatch(call)


def build(okta: TimedOkta, slack: TimedSlack) -> list[str]:
    """The org (every user in 10 of the 500 groups, each group 100 members) and the reviewers,
    members of the Slack user group `auditors`; returns the reviewers' Slack ids."""
    users = okta.bulk_users([f"holder{n:05d}@bench.example" for n in range(USERS)])
    groups = [okta.add_group(f"review-group-{g:03d}") for g in range(GROUPS)]
    okta.bulk_members([(groups[(n * 7 + k) % GROUPS], user) for n, user in enumerate(users) for k in range(HELD)])
    reviewers = [f"U0REV{n:04d}" for n in range(REVIEWERS)]
    for n, reviewer in enumerate(reviewers):
        slack.add_user(reviewer, f"reviewer{n:04d}@bench.example", f"Reviewer {n}")
    slack.add_user_group("auditors", reviewers)
    return reviewers


def campaign_config(okta_url: str) -> str:
    return config_text(okta_url, ["U0REV0000"]) + f"""
reviews:
  - name: {NAME}
    scope: [{{connector: okta, type: group}}]
    reviewers: ["@auditors"]
    fallback: ["@auditors"]
    due_in: 14d
"""


def run(workdir: Path) -> Results:
    slack = CountingSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    okta = StampedOkta(page_size=1000, tokens={OKTA_TOKEN: "super_admin"}).start()
    reviewers = build(okta, slack)
    database_url = f"sqlite:///{workdir}/latchkey.db"
    serve = Serve(workdir, slack.url, database_url, campaign_config(okta.url)).start()
    engine = make_engine(database_url)
    try:
        serve.wait_ready(120)
        _wait(lambda: _synced(engine), 120, "serve's first sync")
        measured = _start_and_deliver(serve, okta, slack, engine, reviewers)
        errors = serve.errors()
    finally:
        slack.hang_up()
        serve.stop()
        engine.dispose()
        slack.stop()
        okta.stop()
    return _figures(measured, reviewers, errors)


def _start_and_deliver(serve: Serve, okta: StampedOkta, slack: CountingSlack, engine,
                       reviewers: list[str]) -> dict:
    """Run `latchkey review start` as an operator would, then wait for every reviewer's DM."""
    with slack.lock:
        slack.api_calls.clear()
    with okta.lock:
        okta.sync_calls.clear()
    began = time.time()
    command = subprocess.Popen([sys.executable, "-m", "bot.cli", "review", "start", NAME], cwd=ROOT,
                               env=serve.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    committed = _wait_for_commit(engine, command)
    stdout, stderr = command.communicate(timeout=300)
    ended = time.time()
    if command.returncode != 0:
        raise RuntimeError(f"latchkey review start exited {command.returncode}: {stderr[-2000:]}")
    log.info("review started in %.1f s: %s", ended - began, stdout.splitlines()[:2])
    synced_at = Catalog(engine).last_sync("okta").finished_at.timestamp()
    if synced_at < began:
        raise RuntimeError("latchkey review start did not sync the scope afresh")
    with okta.lock:
        first_okta = min(okta.sync_calls)
    arrived = _wait_for_dms(slack, reviewers)
    time.sleep(SETTLE)  # a second DM, if one were coming, would come now
    with slack.lock:
        calls = list(slack.api_calls)
    return dict(began=began, ended=ended, first_okta=first_okta, synced_at=synced_at,
                committed=committed, arrived=arrived, calls=calls)


def _wait_for_commit(engine, command: subprocess.Popen) -> float:
    """When the campaign (its items and the reviewers' messages, one transaction) was first
    seen in the database, to within 0.1 s."""
    store = ReviewStore(engine)
    while command.poll() is None:
        try:
            if store.campaigns(open_only=True, name=NAME):
                return time.time()
        except Exception:  # the schema may not be there yet
            pass
        time.sleep(0.1)
    return time.time()


def _wait_for_dms(slack: CountingSlack, reviewers: list[str]) -> dict[str, float]:
    """Reviewer → when their first DM arrived (time.time()), for those whose DM came in time."""
    expected, arrived = set(reviewers), {}
    deadline = time.monotonic() + DM_WAIT
    while len(arrived) < len(expected) and time.monotonic() < deadline:
        for at, user in slack.posts():
            if user in expected and user not in arrived:
                arrived[user] = at
        time.sleep(0.2)
    return arrived


def _figures(m: dict, reviewers: list[str], errors: list[str]) -> Results:
    result = Results()
    took, boot = m["ended"] - m["began"], m["first_okta"] - m["began"]
    sync = m["synced_at"] - m["first_okta"]
    result.append(Figure(
        f"Access review start, {USERS * HELD:,} holdings / {REVIEWERS} reviewers", f"< {START_TARGET:.0f} s",
        "s", [took], passed=took < START_TARGET, single=True,
        note=f"`latchkey review start` as a process, launch to exit: {boot:.1f} s to its first Okta "
             f"call (start-up, config, schema), {sync:.1f} s the fresh sync of the scope "
             f"({USERS:,} users, {GROUPS} groups), {m['committed'] - m['synced_at']:.1f} s the snapshot, "
             f"the reviewers and one transaction (items and outbox), {m['ended'] - m['committed']:.1f} s "
             f"the command's summary of the items by reviewer and its exit"))
    delays = [m["arrived"][r] - m["began"] for r in reviewers if r in m["arrived"]]
    missing = len(reviewers) - len(delays)
    delays += [DM_WAIT + took] * missing  # a DM that never came counts with the time waited
    result.append(Figure(
        f"Access review: start → reviewer's DM, {REVIEWERS} reviewers", "—", "s", delays,
        note=f"from launching the command to the Slack sandbox receiving each reviewer's DM; "
             f"{'every DM arrived' if not missing else f'{missing} never arrived'}; the last "
             f"{max(delays) - (m['committed'] - m['began']):.1f} s after the campaign was committed "
             f"(delivered by serve's outbox: it polls every second, 50 rows a claim, 4 senders)"))
    posts = [(at, where) for at, method, where in m["calls"] if method == "chat.postMessage"]
    per_reviewer = Counter(where for _, where in posts)
    counts = [per_reviewer.get(r, 0) for r in reviewers]
    result.append(Figure(
        "Access review: DMs per reviewer", "1", "calls", counts, passed=set(counts) == {1},
        note=f"chat.postMessage calls into each reviewer's DM over the campaign's start and "
             f"{SETTLE:.0f} s after the last; {sum(c == 1 for c in counts)} of {REVIEWERS} got exactly one"))
    busiest = _busiest_second(posts)
    methods = Counter(method for _, method, _ in m["calls"])
    result.append(Figure(
        "Access review: chat.postMessage per channel, busiest second", "≤ 1", "calls", [busiest],
        passed=busiest <= 1, single=True,
        note=f"Slack: one message a second per channel (short bursts tolerated); workspace-wide "
             f"{len(posts)} posts in {_span(posts):.1f} s; Web API calls by method (count, over how "
             f"long; tier a minute): " + ", ".join(
                 f"{name} {n} ({_span(_of(m['calls'], name)):.1f} s; {TIERS.get(name, '?')})"
                 for name, n in sorted(methods.items()))
             + f"; no views.* call at the start (modals open on a reviewer's click); "
               f"serve logged {len(errors)} errors"))
    result.extras = {"start": took, "sync": sync, "dm_delays": delays}
    return result


def _busiest_second(posts: list[tuple[float, str]]) -> int:
    """The most posts into one channel within any one second."""
    by_channel: dict[str, list[float]] = defaultdict(list)
    for at, channel in posts:
        by_channel[channel].append(at)
    busiest = 0
    for times in by_channel.values():
        times.sort()
        start = 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            busiest = max(busiest, end - start + 1)
    return busiest


def _of(calls: list[tuple[float, str, str]], method: str) -> list[tuple[float, str]]:
    return [(at, where) for at, name, where in calls if name == method]


def _span(posts: list[tuple[float, str]]) -> float:
    return max(at for at, _ in posts) - min(at for at, _ in posts) if posts else 0.0


def _synced(engine) -> bool:
    try:
        return Catalog(engine).last_sync("okta") is not None
    except Exception:  # the schema may not be there yet
        return False


def _wait(done, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not done within {timeout:.0f} s")
        time.sleep(0.2)

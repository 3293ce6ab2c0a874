"""Catalog sync of a big Okta org (100,000 users, 10,000 groups) by a real `latchkey serve`:
API calls against the minimum that pagination allows, peak RSS (and RSS over time, against an
org ten times smaller, to show whether memory grows with the org), wall time here, and the time
the same calls would take at Okta's documented rate limits.  Then, on the big org and the same
`latchkey serve`, what follows a full sync: changes made by hand in Okta, read from its System
Log (bench/system_log.py).

Memberships are sparse (a few per group, one group of 2,500 to exercise member paging), so the
sandbox itself stays small enough to run in this process.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from pathlib import Path

from bench import system_log
from bench.figures import Figure, Results
from bench.sandboxes import TimedOkta, TimedSlack
from bench.serve import BOT_TOKEN, OKTA_TOKEN, SIGNING_SECRET, Serve, config_text
from storage.catalog import Catalog
from storage.engine import make_engine

log = logging.getLogger("bench")

PAGE = 1000  # Okta's largest page, and the page size configured here
# Per-minute limits of Okta's "Workforce identity" orgs (developer.okta.com/docs/reference/
# rl-global-mgmt/): the buckets a catalog sync draws on.
OKTA_LIMITS = {"/api/v1/users": 600, "/api/v1/groups": 500, "/api/v1/groups/{id}": 1000,
               "/api/v1/apps": 100, "/api/v1/users/{id}": 2000, "/api/v1": 1200,
               "/api/v1/logs": 120}
LOGS = "/api/v1/logs"  # read by the System Log poller, not by the sync


def build_org(okta: TimedOkta, users: int, groups: int) -> tuple[int, list[tuple[str, str]]]:
    """Seed the org; return the minimum number of calls a full sync needs, and the (group, user)
    memberships of its big group."""
    ids = okta.bulk_users([f"sync{i:06d}@bench.example" for i in range(users)])
    group_ids = [okta.add_group(f"sync-group-{g:05d}", type="APP_GROUP" if g % 100 == 99 else "OKTA_GROUP")
                 for g in range(groups)]
    pairs = [(group_ids[0], ids[i]) for i in range(min(2500, users))]  # one big group: 3 pages
    pairs += [(gid, ids[(g * 7919 + k) % users]) for g, gid in enumerate(group_ids[1:], 1)
              for k in range(g % 7)]  # the others: 0 to 6 members
    okta.bulk_members(pairs)
    members = {gid: len(okta.members(gid)) for gid in group_ids}
    requestable = [gid for g, gid in enumerate(group_ids) if g % 100 != 99]
    minimum = (math.ceil(users / PAGE) + math.ceil(groups / PAGE)
               + sum(max(1, math.ceil(members[gid] / PAGE)) for gid in requestable)
               + 1 + 1)  # apps (none) and the admin-role holders (none), one page each
    return minimum, pairs[:2500]


def measure(workdir: Path, users: int, groups: int, follow_log: bool = False) -> dict:
    """The sync figures; with `follow_log`, then the System Log ones (`log_figures`)."""
    slack = TimedSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    slack.add_user(system_log.OWNER, "owner1@bench.example")
    okta = TimedOkta(page_size=PAGE, tokens={OKTA_TOKEN: "super_admin"}).start()
    began = time.monotonic()
    minimum, pairs = build_org(okta, users, groups)
    log.info("org of %d users, %d groups seeded in %.1f s", users, groups, time.monotonic() - began)
    database_url = f"sqlite:///{workdir}/latchkey.db"
    serve = Serve(workdir, slack.url, database_url, config_text(okta.url, ["U0OWNER1"], PAGE)).start()
    rss, stop = [], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            try:
                rss.append((time.monotonic() - began, serve.rss_mb()))
            except (OSError, KeyError):
                pass
            stop.wait(0.1)

    began = time.monotonic()
    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    engine = make_engine(database_url)
    try:
        serve.wait_ready(120)
        while not _synced(engine) and time.monotonic() - began < 240:
            time.sleep(0.2)
        summary = Catalog(engine).last_sync("okta")
        took = summary.finished_at.timestamp() - okta.first_call_at
        stop.set()
        sampler.join()
        peak = serve.peak_rss_mb()
        counts = {bucket: n for bucket, n in okta.counts.items() if bucket != LOGS}
        log_figures = system_log.measure(okta, slack, database_url, pairs) if follow_log else []
        errors = serve.errors()
    finally:
        stop.set()
        serve.stop()
        engine.dispose()
        slack.stop()
        okta.stop()
    calls = sum(counts.values())
    limited = sum(60 * n / OKTA_LIMITS[bucket] for bucket, n in counts.items())
    return dict(users=users, groups=groups, minimum=minimum, calls=calls, buckets=counts,
                seconds=took, peak=peak, rss=rss, limited_seconds=limited, summary=summary,
                errors=len(errors), log_figures=log_figures)


def _synced(engine) -> bool:
    try:
        return Catalog(engine).last_sync("okta") is not None
    except Exception:  # the schema may not be there yet
        return False


def run(workdir: Path, users: int = 100_000, groups: int = 10_000) -> Results:
    result = Results()
    small = measure(workdir / "small", users // 10, groups // 10)
    big = measure(workdir / "big", users, groups, follow_log=True)
    result.extras = {"small": small, "big": big}
    over = big["calls"] / big["minimum"] - 1
    buckets = ", ".join(f"{b} {n:,}" for b, n in sorted(big["buckets"].items()))
    result.append(Figure(f"Okta sync {users:,} users / {groups:,} groups: API calls", "≤ minimum + 5%",
                         "calls", [big["calls"]], passed=over <= 0.05, single=True,
                         note=f"minimum by pagination {big['minimum']:,} (+{over:.1%}); by bucket: {buckets}"))
    growth = big["peak"] - small["peak"]
    result.append(Figure(f"Okta sync {users:,} users / {groups:,} groups: peak RSS", "flat", "MB",
                         [big["peak"]], passed=growth < 0.25 * small["peak"], single=True,
                         note=f"{small['peak']:.0f} MB for an org ten times smaller "
                              f"({small['users']:,} users / {small['groups']:,} groups)"))
    result.append(Figure(f"Okta sync {users:,} users / {groups:,} groups: time here", "—", "s",
                         [big["seconds"]], single=True,
                         note=f"first Okta call to the catalog written; {big['summary'].entitlements:,} "
                              f"entitlements, {big['summary'].accounts:,} accounts, "
                              f"{big['summary'].holdings:,} holdings"))
    result.append(Figure(f"Okta sync {users:,} users / {groups:,} groups: time at Okta's rate limits",
                         "—", "s", [big["limited_seconds"]], single=True,
                         note="computed: calls per bucket ÷ Okta's documented per-minute limit "
                              "(Workforce identity), summed, since the sync calls one bucket at a time"))
    result += big["log_figures"]
    return result

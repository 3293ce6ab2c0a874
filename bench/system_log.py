"""Okta's System Log between full syncs, measured on the 100,000-user org of the sync scenario,
while the same `latchkey serve` runs with its default settings (the log read every 20 s at most,
within 2% of the log's rate limit; the full sync daily).

Latchkey's active grants of one big group are seeded into its database; then an admin removes
those members "by hand" (the sandbox's console, which records the System Log events Okta
records) at random moments over `WINDOW` seconds.  For each, the figure is the time from the
removal to the moment the Slack sandbox received the owner's drift DM.  The share of the rate
limit is the `/api/v1/logs` calls the sandbox received over the same time, a minute's worth,
against Okta's documented limit for that endpoint (Workforce Identity: 120 a minute).
"""

from __future__ import annotations

import logging
import random
import re
import time
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from bench.figures import Figure, percentile
from bench.sandboxes import TimedOkta, TimedSlack
from storage.engine import make_engine
from storage.tables import RequestRow

log = logging.getLogger("bench")

OWNER = "U0OWNER1"
REMOVALS = 40
WINDOW = 60.0  # seconds over which the removals are made
DRAIN = 45.0  # how long after the last removal its DM may still come
LOG_LIMIT = 120  # calls a minute to /api/v1/logs, Workforce Identity (Management rate limits)
_REQUEST_ID = re.compile(r"\(request `?(sl\d+)`?\)")


def seed_grants(database_url: str, pairs: list[tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """An active grant by Latchkey for each (group id, user id); request id → pair."""
    granted = datetime.now(UTC) - timedelta(hours=1)
    rows = {f"sl{n:05d}": pair for n, pair in enumerate(pairs)}
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(insert(RequestRow), [dict(
            id=request_id, requester=f"U0SL{n:05d}", requester_email=f"sl{n:05d}@bench.example",
            account_id=user, connector_id="okta", entitlement_id=f"group:{group}:member",
            entitlement_name="sync-group-00000", duration_seconds=8 * 3600,
            justification="benchmark", state="active", created_at=granted, decided_by=OWNER,
            decided_at=granted, granted_at=granted, expires_at=granted + timedelta(hours=8),
            preexisting=False, manual=False, attempts=0)
            for n, (request_id, (group, user)) in enumerate(rows.items())])
    engine.dispose()
    return rows


def measure(okta: TimedOkta, slack: TimedSlack, database_url: str,
            pairs: list[tuple[str, str]]) -> list[Figure]:
    grants = seed_grants(database_url, pairs[:REMOVALS])
    moments = sorted(random.uniform(0, WINDOW) for _ in grants)
    began, reads_before = time.time(), okta.counts.get("/api/v1/logs", 0)
    others_before = _other_calls(okta)
    removed: dict[str, float] = {}
    for (request_id, (group, user)), moment in zip(grants.items(), moments):
        time.sleep(max(began + moment - time.time(), 0))
        okta.console.remove_member(group, user)
        removed[request_id] = time.time()
    told = _told(slack)
    while len(told) < len(removed) and time.time() < began + WINDOW + DRAIN:
        time.sleep(0.5)
        told = _told(slack)
    ended = time.time()
    # A removal not told by the end counts with the time it had waited (a lower bound).
    latencies = [told.get(request_id, ended) - at for request_id, at in removed.items()]
    minutes = (ended - began) / 60
    reads = (okta.counts.get("/api/v1/logs", 0) - reads_before) / minutes
    others = (_other_calls(okta) - others_before) / minutes
    share = reads / LOG_LIMIT
    log.info("System Log: p50 %.1f s, p99 %.1f s; %.2f log reads a minute (%.2f%% of %d); "
             "%d of %d told", percentile(latencies, 50), percentile(latencies, 99), reads,
             100 * share, LOG_LIMIT, len(told), len(removed))
    return [
        Figure(f"System Log, {len(removed)} memberships removed by hand → drift DM", "p99 < 60 s",
               "s", latencies, passed=percentile(latencies, 99) < 60 and len(told) == len(removed),
               note=f"{len(removed)} removals at random moments over {WINDOW:.0f} s on the "
                    f"100,000-user org; {len(told)} told to the owner within {DRAIN:.0f} s of the "
                    f"last; default settings (log read every 20 s at most, within 2% of its limit)"),
        Figure("System Log: share of Okta's /api/v1/logs rate limit spent polling", "< 2%", "%",
               [100 * share], passed=share < 0.02, single=True,
               note=f"{reads:.2f} reads a minute over {minutes * 60:.0f} s against the documented "
                    f"{LOG_LIMIT} a minute (Workforce Identity); other Okta calls the changes "
                    f"caused (reading the membership back before telling): {others:.1f} a minute"),
    ]


def _told(slack: TimedSlack) -> dict[str, float]:
    """Request id → when its drift DM reached Slack."""
    found = {}
    for message in slack.dm(OWNER):
        text = str(message.get("blocks")) + (message.get("text") or "")
        if "Drift" in text and (match := _REQUEST_ID.search(text)):
            found.setdefault(match[1], slack.posted_at.get(message["ts"], time.time()))
    return found


def _other_calls(okta: TimedOkta) -> int:
    return sum(n for bucket, n in okta.counts.items() if bucket != "/api/v1/logs")

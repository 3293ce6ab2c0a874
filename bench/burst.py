"""An incident: many people type `/request-access` at the same instant.

`interactive` measures people arriving at a human pace; here every requester's signed slash
command is released by one barrier, so they reach `latchkey serve` together.  Each figure is
the time from sending a command to its HTTP answer (Slack gives up after 3 s and shows the
user an error).  Between bursts the runner waits until every requester's form is open, so
each burst starts from a quiet bot.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from bench.figures import Figure
from bench.figures import percentile as _p
from bench.interactive import Org, poll, synced_bot
from bench.sandboxes import DeliveryTimeout
from bench.serve import Serve

log = logging.getLogger("bench")

TARGET_MS = 300  # for a burst of 40
SLACK_LATENCY = 0.3  # seconds each Web API call takes (views.open, users.info), as over the internet


def run(workdir: Path, sizes: tuple[int, ...] = (40, 80), bursts: int = 5) -> list[Figure]:
    with synced_bot(workdir, max(sizes)) as (org, serve, _):
        org.slack.keep_alive = False  # an incident's commands arrive on fresh connections
        org.slack.latency = SLACK_LATENCY
        return [_figure(org, serve, size, bursts) for size in sizes]


def _figure(org: Org, serve: Serve, size: int, bursts: int) -> Figure:
    acks: list[float] = []
    timeouts = 0
    cpu_bot, load = serve.cpu_seconds(), os.getloadavg()[0]
    for _ in range(bursts):
        got, missed = burst(org, org.requesters[:size])
        log.info("burst of %d: slowest %.0f ms", size, max(got))
        acks += got
        timeouts += missed
    cpu_bot = serve.cpu_seconds() - cpu_bot
    log.info("burst of %d: p50 %.0f ms, p99 %.0f ms, max %.0f ms", size, _p(acks, 50), _p(acks, 99),
             max(acks))
    note = (f"{bursts} bursts of {size} slash commands released together; max {max(acks):.0f} ms; "
            f"bot CPU {cpu_bot / bursts:.2f} s per burst (forms opened included); "
            f"load average {load:.1f} before")
    if timeouts:
        note += f"; {timeouts} not answered within 3 s"
    target = size == 40
    return Figure(f"Slack ack: slash command, burst of {size}", f"p99 < {TARGET_MS} ms" if target else "—",
                  "ms", acks, passed=(_p(acks, 99) < TARGET_MS and not timeouts) if target else None,
                  note=note)


def burst(org: Org, users: list[str]) -> tuple[list[float], int]:
    """Every user in `users` sends `/request-access` at once; (ack times in ms, timeouts)."""
    slack = org.slack
    with slack.lock:
        for user in users:
            slack.workspace.clear_modals(user)
    start = threading.Barrier(len(users))
    acks: list[float] = []
    timeouts = []
    lock = threading.Lock()

    def requester(user: str) -> None:
        start.wait()
        try:
            slack.command(user)
        except DeliveryTimeout:
            timeouts.append(user)
        with lock:
            acks.append(slack.last_ack() * 1000)

    threads = [threading.Thread(target=requester, args=(u,), name=f"burst-{u}") for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Let the bot finish opening the forms, so the next burst meets a quiet bot.
    poll(lambda: all(slack.open_view(u) for u in users), timeout=30)
    time.sleep(0.5)
    return acks, len(timeouts)

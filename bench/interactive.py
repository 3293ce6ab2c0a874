"""What people feel: idle memory, typeahead over 50,000 entitlements, approve-to-grant, and
Slack acknowledgements under load with a slow Okta — all against one real `latchkey serve`.

Order: start and settle (idle RSS) → seed the 50,000-entitlement catalog → typeahead (one user
typing) → approve-to-grant (Okta at full speed, one request at a time) → 50 concurrent
requesters with every Okta call taking 2 s.  Slack and Okta sandboxes run in this process.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from bench.figures import Figure
from bench.figures import percentile as _p
from bench.sandboxes import DeliveryTimeout, TimedOkta, TimedSlack
from bench.serve import BOT_TOKEN, OKTA_TOKEN, SIGNING_SECRET, Serve, config_text
from storage.catalog import Catalog
from storage.engine import make_engine
from storage.tables import AccountRow, EntitlementRow, HoldingRow

log = logging.getLogger("bench")

OWNERS = ["U0OWNER1", "U0OWNER2"]
CATALOG_SIZE = 50_000
REAL_GROUPS = 400
TEAMS = ("eng", "data", "billing", "sales", "support", "infra", "security", "platform", "mobile",
         "web", "ml", "finance", "people", "legal", "growth")
ENVS = ("prod", "staging", "dev", "qa", "sandbox")
ROLES = ("admins", "readers", "writers", "operators", "owners", "viewers", "deployers", "oncall")


def poll(check, timeout: float = 15.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(interval)


class Org:
    """The people and groups of this scenario, in both sandboxes."""

    def __init__(self, slack: TimedSlack, okta: TimedOkta, requesters: int) -> None:
        self.slack, self.okta = slack, okta
        for i, owner in enumerate(OWNERS):
            slack.add_user(owner, f"owner{i + 1}@bench.example", real_name=f"Owner {i + 1}")
        self.requesters = [f"U0REQ{i:03d}" for i in range(requesters)]
        emails = [f"req{i:03d}@bench.example" for i in range(requesters)]
        for user, email in zip(self.requesters, emails):
            slack.add_user(user, email, real_name=email.split("@")[0])
        self.okta_id = dict(zip(self.requesters, okta.bulk_users(emails)))
        self.groups = [okta.add_group(f"{TEAMS[i % len(TEAMS)]}-access-{i:04d}")
                       for i in range(REAL_GROUPS)]
        self._next_group = itertools.count()
        self._lock = threading.Lock()

    def fresh_group(self) -> int:
        """A real group index nobody has asked for yet, so no request is refused as a duplicate."""
        with self._lock:
            return next(self._next_group)

    def group_name(self, index: int) -> str:
        return f"{TEAMS[index % len(TEAMS)]}-access-{index:04d}"

    def has_button(self, user: str, action_id: str, value: str) -> bool:
        """Whether `user` sees the button in their DM (read under the lock, without copies)."""
        ws = self.slack.workspace
        with self.slack.lock:
            dm = ws.dm_ids.get(user)
            for message in reversed(ws.messages.get(dm, []) if dm else []):
                for block in message.get("blocks") or []:
                    for element in block.get("elements") or []:
                        if element.get("action_id") == action_id and element.get("value") == value:
                            return True
        return False

    def pending_ids(self, user: str) -> set[str]:
        """Ids of the requests whose Cancel button `user` sees."""
        ws, found = self.slack.workspace, set()
        with self.slack.lock:
            dm = ws.dm_ids.get(user)
            for message in ws.messages.get(dm, []) if dm else []:
                for block in message.get("blocks") or []:
                    for element in block.get("elements") or []:
                        if element.get("action_id") == "cancel":
                            found.add(element["value"])
        return found


def seed_catalog(database_url: str, size: int) -> int:
    """Pad the synced catalog with generated entitlements to `size`, through storage's Catalog."""
    engine = make_engine(database_url)
    catalog = Catalog(engine)
    with engine.connect() as conn:
        def rows(table):
            columns = [c for c in table.__table__.columns if c.name != "connector_id"]
            result = conn.execute(select(*columns).where(table.connector_id == "okta"))
            return [dict(row._mapping) for row in result]
        entitlements, accounts, holdings = rows(EntitlementRow), rows(AccountRow), rows(HoldingRow)
    names = (f"{team}-{env}-{role}-{n:04d}" for n in itertools.count()
             for team in TEAMS for env in ENVS for role in ROLES)
    for n, name in zip(range(size - len(entitlements)), names):
        resource_id = f"00gfill{n:07d}"
        entitlements.append(dict(id=f"group:{resource_id}:member", resource_type="group",
                                 resource_id=resource_id, name=name,
                                 description=f"Member of the Okta group {name}",
                                 requestable=True, provisionable=True))
    catalog.replace("okta", entitlements, accounts, holdings, datetime.now(UTC))
    engine.dispose()
    return len(entitlements)


def typeahead_queries(count: int) -> list[str]:
    """What people type: broad prefixes, whole words, long narrow names and misses."""
    rng = random.Random(7)
    queries = []
    while len(queries) < count:
        name = f"{rng.choice(TEAMS)}-{rng.choice(ENVS)}-{rng.choice(ROLES)}-{rng.randrange(83):04d}"
        queries += [name[:n] for n in (1, 2, 3, 6, 10, len(name))] + [rng.choice(("zzz", "adm", "prod"))]
    return queries[:count]


@contextmanager
def synced_bot(workdir: Path, requesters: int) -> Iterator[tuple[Org, Serve, str]]:
    """The sandboxes with `requesters` people and the real groups, and one `latchkey serve`
    that has synced them: (org, serve, database URL); all stopped afterwards."""
    slack = TimedSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET).start()
    okta = TimedOkta(page_size=1000, tokens={OKTA_TOKEN: "super_admin"}).start()
    org = Org(slack, okta, requesters)
    database_url = f"sqlite:///{workdir}/latchkey.db"
    serve = Serve(workdir, slack.url, database_url, config_text(okta.url, OWNERS)).start()
    try:
        serve.wait_ready()
        slack.bot_url = serve.url + "/slack/events"
        engine = make_engine(database_url)
        poll(lambda: Catalog(engine).last_sync("okta"), timeout=60)
        engine.dispose()
        yield org, serve, database_url
        errors = serve.errors()
        if errors:
            log.warning("latchkey serve logged %d error lines, e.g. %s", len(errors), errors[:3])
    finally:
        slack.hang_up()
        serve.stop()
        slack.stop()
        okta.stop()


def run(workdir: Path, requesters: int = 50, rounds: int = 3, typeahead_samples: int = 300,
        grant_samples: int = 40) -> list[Figure]:
    figures = []
    with synced_bot(workdir, requesters) as (org, serve, database_url):
        time.sleep(3)  # let the first sync's garbage settle
        idle = serve.rss_mb()
        figures.append(Figure("Idle RSS of one `latchkey serve`", "< 150 MB", "MB", [idle],
                              passed=idle < 150, single=True,
                              note=f"after start-up and the first sync ({REAL_GROUPS} groups, "
                                   f"{requesters} users)"))
        log.info("idle RSS %.1f MB", idle)

        total = seed_catalog(database_url, CATALOG_SIZE)
        log.info("catalog padded to %d entitlements", total)
        figures.append(typeahead(org, typeahead_samples, total))
        figures.append(approve_to_grant(org, grant_samples))
        figures += acks_under_load(org, rounds, serve)
        figures += acks_under_load(org, 2, serve, pause=None)
        figures.append(Figure("RSS of `latchkey serve` after the load", "—", "MB",
                              [serve.rss_mb()], single=True))
    return figures


def typeahead(org: Org, samples: int, catalog_size: int) -> Figure:
    slack, user = org.slack, org.requesters[0]
    slack.command(user)
    poll(lambda: slack.open_view(user))
    acks = []
    for query in typeahead_queries(samples):
        slack.suggest(user, "entitlement", query)
        acks.append(slack.last_ack() * 1000)
    with slack.lock:
        slack.workspace.clear_modals(user)
    return Figure(f"Typeahead, {catalog_size:,} entitlements, one user typing", "p99 < 50 ms",
                  "ms", acks, passed=_p(acks, 99) < 50)


def _request(org: Org, user: str, group_index: int, think=lambda: None) -> tuple[str | None, dict]:
    """Open the form, find the group by typing, submit; returns (request id, acks by kind).
    `think()` is the pause between one step and the next."""
    slack, acks = org.slack, defaultdict(list)

    def timed(kind, deliver):
        try:
            result = deliver()
        except DeliveryTimeout:
            acks[kind].append(slack.last_ack() * 1000)
            acks["timeouts"].append(1)
            return None
        acks[kind].append(slack.last_ack() * 1000)
        return result

    before = org.pending_ids(user)
    with slack.lock:
        slack.workspace.clear_modals(user)  # a refused form may still be open
    if timed("command", lambda: slack.command(user)) is None:
        return None, acks
    if not poll(lambda: slack.open_view(user), timeout=10):
        acks["no_modal"].append(1)
        return None, acks
    name = org.group_name(group_index)
    think()
    timed("suggest", lambda: slack.suggest(user, "entitlement", name[:4]))
    think()
    answer = timed("suggest", lambda: slack.suggest(user, "entitlement", name))
    if answer is None:
        return None, acks
    options = [o for g in answer["option_groups"] for o in g["options"] if o["text"]["text"] == name]
    think()
    response = timed("submit", lambda: slack.submit(user, {"access": options[0], "duration": "1h",
                                                          "justification": "benchmark"}))
    if response is None or response.content:
        acks["refused"].append(1)
        return None, acks
    new = poll(lambda: org.pending_ids(user) - before, timeout=20)
    return (next(iter(new)) if new else None), acks


def approve_to_grant(org: Org, samples: int) -> Figure:
    """Click Approve → the sandbox receives Okta's membership PUT (Okta at full speed)."""
    lags = []
    for n in range(samples):
        user = org.requesters[n % len(org.requesters)]
        index = org.fresh_group()
        request_id, _ = _request(org, user, index)
        owner = OWNERS[n % 2]
        if request_id is None or not poll(lambda: org.has_button(owner, "approve", request_id)):
            continue
        group, account = org.groups[index], org.okta_id[user]
        clicked = time.time()
        org.slack.click(owner, "approve", value=request_id)
        put = poll(lambda: [w for w in org.okta.writes_of("PUT")
                            if w.group_id == group and w.user_id == account], timeout=10)
        if put:
            lags.append((put[0].at - clicked) * 1000)
    return Figure("Approve click → Okta grant call", "p50 < 300 ms", "ms", lags,
                  passed=bool(lags) and _p(lags, 50) < 300, note="Okta at full speed, one at a time")


def acks_under_load(org: Org, rounds: int, serve: Serve | None = None,
                    pause: tuple[float, float] | None = (0.2, 1.0)) -> list[Figure]:
    """Every requester at once, `rounds` times: form, typeahead, submit, then a click (the owner
    approves, or the requester cancels); every Okta call takes 2 s.

    `pause`: each requester waits a random time in this range (seconds) between steps, as a
    person filling in the form does; None sends each step as soon as the last one is answered.
    """
    org.okta.latency = 2.0
    acks: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    start = threading.Barrier(len(org.requesters))

    def requester(i: int, user: str) -> None:
        rng = random.Random(i)
        think = (lambda: time.sleep(rng.uniform(*pause))) if pause else (lambda: None)
        start.wait()
        for r in range(rounds):
            request_id, got = _request(org, user, org.fresh_group(), think)
            if request_id is not None:
                owner = OWNERS[i % 2]
                approve = (i + r) % 3 != 0  # two in three approved, the others cancelled
                think()
                try:
                    if approve and poll(lambda: org.has_button(owner, "approve", request_id)):
                        org.slack.click(owner, "approve", value=request_id)
                        got["click"].append(org.slack.last_ack() * 1000)
                    elif not approve:
                        org.slack.click(user, "cancel", value=request_id)
                        got["click"].append(org.slack.last_ack() * 1000)
                except DeliveryTimeout:
                    got["click"].append(org.slack.last_ack() * 1000)
                    got["timeouts"].append(1)
            with lock:
                for kind, values in got.items():
                    acks[kind] += values

    threads = [threading.Thread(target=requester, args=(i, u), name=f"requester-{i}")
               for i, u in enumerate(org.requesters)]
    started, cpu_here = time.monotonic(), time.process_time()
    cpu_bot = serve.cpu_seconds() if serve else 0.0
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    cpu_here = (time.process_time() - cpu_here) / elapsed
    cpu_bot = ((serve.cpu_seconds() - cpu_bot) / elapsed) if serve else float("nan")
    org.okta.latency = 0.0
    log.info("load: %.1f s, %s", elapsed, {k: len(v) for k, v in acks.items()})
    problems = {k: len(acks[k]) for k in ("timeouts", "no_modal", "refused") if acks.get(k)}
    pace = f"pauses of {pause[0]}–{pause[1]} s between steps" if pause else "no pauses"
    note = (f"{len(org.requesters)} concurrent requesters × {rounds} rounds, {pace}, in {elapsed:.0f} s "
            f"({sum(map(len, (acks[k] for k in ('command', 'suggest', 'submit', 'click')))) / elapsed:.0f} "
            f"requests/s); Okta 2 s per call; CPU: bot {cpu_bot:.0%}, runner and sandboxes "
            f"{cpu_here:.0%} of a core")
    if problems:
        note += f"; problems: {problems}"
    figures = []
    labels = {"command": "slash command", "click": "button click", "submit": "view submission",
              "suggest": "typeahead"}
    everything = []
    scene = f"{len(org.requesters)} concurrent, {'human pace' if pause else 'no pauses'}"
    target = "p99 < 100 ms" if pause else "— (stress)"
    for kind, label in labels.items():
        samples = acks.get(kind, [])
        everything += samples
        figures.append(Figure(f"Slack ack: {label} ({scene})", target, "ms", samples,
                              passed=(bool(samples) and _p(samples, 99) < 100) if pause else None))
    figures.append(Figure(f"Slack ack: all kinds ({scene})", target, "ms", everything,
                          passed=(bool(everything) and _p(everything, 99) < 100 and not problems)
                          if pause else None, note=note))
    return figures

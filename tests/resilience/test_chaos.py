"""Chaos: SIGKILL the bot at seeded random points of a request's life, restart it, and check
that nothing is lost, nothing doubled and nobody let in.

Every run starts a fresh SQLite database and drives ONE request (Carol asks for eng-admins, or
data-admins on odd runs, for 1h; Alice approves; the access expires) while the bot is killed at
a point drawn from a seeded generator (LATCHKEY_CHAOS_SEED, default 20261127;
LATCHKEY_CHAOS_RUNS, default 50).  The kinds take turns, the details are random:

  commit   the bot kills itself right before or right after its N-th database commit that
           wrote something (N from 1 to the number an undisturbed life makes: run 0 counts)
  okta     the Okta sandbox kills the bot when it receives the k-th membership PUT / DELETE /
           user-groups GET, before applying it or after applying it (the bot never sees the
           answer)
  slack    the Slack sandbox kills the bot when it receives its k-th chat.postMessage or
           chat.update (the message is delivered; the bot never learns it was)
  delay    the test kills the bot 0-300 ms after Alice's click, or 0-150 ms after the clock
           jump past the expiry

The bots are forked by tests/resilience/launcher.py (warm, so a start takes ~0.3 s) with a
clock the test moves through a file.  After a kill the bot is restarted on the same database
(its clock moved on past the 2-minute lease) and the test plays on like a person would: submit
again if the form got no answer, click Approve again if the request is still pending, move the
clock past the expiry once active.

Each run must end with:
- the request revoked and Carol out of the group;
- membership writes that CHANGED Okta: exactly one PUT (grant) then one DELETE (revoke).  The
  sandbox logs every accepted PUT/DELETE in order; replaying them from "not a member" tells a
  write that changed the membership from an idempotent repeat (PUT on a member, DELETE on a
  non-member), which is allowed and counted separately ("repeated writes" in the report);
- exactly one request row, revoked, with no lease left;
- the audit log complete and in order: submitted (Carol), approved (Alice), claim, activate,
  expire, finish (latchkey), timestamps non-decreasing;
- the owners asked (their DM with the buttons arrives, even if the bot died right after the
  submission), Carol told of the grant and of the revocation, and each owner shown the
  decision on a DM about the request.  A message may arrive twice (a crash between delivering
  and recording it): "stale DMs" in the report counts owners' duplicates left with buttons.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from sandbox.server import Reply
from storage.engine import make_engine, upgrade
from tests.support.config import config_text
from tests.support.harness import (
    ALICE,
    BOB,
    BOT_TOKEN,
    CAROL,
    OKTA_TOKEN,
    SIGNING_SECRET,
    eventually,
    forge_click,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

SEED = int(os.environ.get("LATCHKEY_CHAOS_SEED", "20261127"))
RUNS = int(os.environ.get("LATCHKEY_CHAOS_RUNS", "50"))
ROOT = Path(__file__).resolve().parents[2]
MEMBERSHIP = r"/api/v1/groups/[^/]+/users/[^/]+"
USER_GROUPS = r"/api/v1/users/[^/]+/groups"
EXPECTED_AUDIT = ["submitted", "approved", "claim", "activate", "expire", "finish"]
LEASE_SKIP = 180  # seconds added to the clock at each restart: past the 2-minute lease


# -- the bots -----------------------------------------------------------------------------------
class Zygote:
    """tests/resilience/launcher.py: forks warm bots on demand."""

    def __init__(self, log: Path) -> None:
        self._log = open(log, "w")  # noqa: SIM115 - open for the zygote's whole life
        self.process = subprocess.Popen([sys.executable, "-m", "tests.resilience.launcher"],
                                        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self._log, text=True, bufsize=1)
        assert self.process.stdout.readline().strip() == "ready", log.read_text()
        self._lock = threading.Lock()

    def spawn(self, spec: dict) -> int:
        with self._lock:
            self.process.stdin.write(json.dumps(spec) + "\n")
            return int(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self._log.close()


@dataclass
class ChaosBot:
    pid: int
    url: str

    def alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        return True

    def dies_within(self, seconds: float) -> bool:
        """A killed process closes its sockets before it is gone: give it a moment."""
        deadline = time.monotonic() + seconds
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.005)
        return True

    def kill(self) -> None:
        try:
            os.kill(self.pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 5
        while self.alive() and time.monotonic() < deadline:  # reaped by the zygote's kernel
            time.sleep(0.001)


@dataclass
class Run:
    """One run's files, its bots and what happened."""

    number: int
    directory: Path
    zygote: Zygote
    env: dict
    slack: object
    bots: list[ChaosBot] = field(default_factory=list)
    kills: list[str] = field(default_factory=list)
    writes_before: int = 0  # Okta membership writes accepted before this run
    stale_buttons: int = 0  # owners' DMs posted twice (at least once delivery), one never updated
    findings: list[str] = field(default_factory=list)  # wrong, but the run could go on
    offset: float = 0.0

    @property
    def group(self) -> str:
        """Runs alternate between two groups: the next run's bot syncs the catalog while this
        run's grant is in place, and must not see Carol holding the group it will be asked for."""
        return ("eng-admins", "data-admins")[self.number % 2]

    @property
    def db(self) -> Path:
        return self.directory / "latchkey.db"

    @property
    def bot(self) -> ChaosBot:
        return self.bots[-1]

    def set_clock(self, offset: float) -> None:
        self.offset = offset
        tmp = self.directory / "clock.tmp"
        tmp.write_text(repr(offset))
        os.replace(tmp, self.directory / "clock")

    def spawn(self, crash_file: Path | None = None) -> ChaosBot:
        """Fork a bot on this run's database; it comes up in the background (see `serving`)."""
        url_file = self.directory / f"url-{len(self.bots)}"
        pid = self.zygote.spawn({"env": self.env, "url_file": str(url_file),
                                 "clock_file": str(self.directory / "clock"),
                                 "crash_file": str(crash_file) if crash_file else None})
        self.bots.append(ChaosBot(pid, ""))
        return self.bots[-1]

    def serving(self) -> ChaosBot:
        """Wait until the newest bot serves, and send Slack's deliveries to it."""
        bot, url_file = self.bot, self.directory / f"url-{len(self.bots) - 1}"
        url = eventually(lambda: url_file.exists() and url_file.read_text()
                         or (not bot.alive() and "dead"), timeout=20)
        bot.url = url + "/slack/events" if url != "dead" else ""
        self.slack.bot_url = bot.url or "http://127.0.0.1:9/slack/events"
        return bot

    def start(self, crash_file: Path | None = None) -> ChaosBot:
        self.spawn(crash_file)
        return self.serving()

    def restart(self) -> ChaosBot:
        self.set_clock(self.offset + LEASE_SKIP)
        return self.start()

    # -- reading the database (read-only, alongside the bot) ------------------------------
    def query(self, sql: str, *args) -> list[tuple]:
        if not self.db.exists():
            return []
        with sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=30) as conn:
            try:
                return conn.execute(sql, args).fetchall()
            except sqlite3.OperationalError as exc:  # the schema is still being created
                if "no such table" in str(exc):
                    return []
                raise


class RunFailed(Exception):
    """The bot did something wrong (as opposed to: it died, as planned, while we talked to it)."""


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value).replace(tzinfo=UTC) if value else None


# -- fixtures -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def chaos(tmp_path_factory, okta_m, slack_m):
    directory = tmp_path_factory.mktemp("chaos")
    (directory / "latchkey.yaml").write_text(config_text(
        okta_m.url, durations=["1h"], max_duration="1h", max_attempts=2,
        max_requests_per_hour=1000))
    zygote = Zygote(directory / "bots.log")
    template = directory / "template.db"  # an empty, migrated database: copied for every run
    engine = make_engine(f"sqlite:///{template}")
    upgrade(engine)
    engine.dispose()
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack_m.url + "/api/", "OKTA_API_TOKEN": OKTA_TOKEN,
           "LATCHKEY_CONFIG": str(directory / "latchkey.yaml"), "LATCHKEY_SWEEP_SECONDS": "0.1",
           "LATCHKEY_LOG_LEVEL": "WARNING"}
    yield directory, zygote, env, template
    zygote.close()


# -- the person's side --------------------------------------------------------------------------
def submit(slack, group: str) -> None:
    """Carol opens the form, finds `group` and submits (raises if the bot died meanwhile)."""
    with slack.lock:
        slack.workspace.clear_modals(CAROL)
    assert slack.command(CAROL, text="").status_code == 200
    eventually(lambda: slack.open_view(CAROL), timeout=3)
    groups = slack.suggest(CAROL, "entitlement", group[:4])["option_groups"]
    choice = next(o for g in groups for o in g["options"] if o["text"]["text"] == group)
    slack.submit(CAROL, {"access": choice, "duration": "1h", "justification": "chaos"})


def approve_button_for(slack, request_id: str, owner: str = ALICE) -> bool:
    return any(b.get("action_id") == "approve" and b.get("value") == request_id
               for m in slack.dm(owner) for b in slack.buttons(m))


def outcome_shown(slack, request_id: str, owner: str) -> bool:
    """Does one of the owner's DMs about the request show it decided (no buttons left)?"""
    return any(request_id in json.dumps(m) and not slack.buttons(m) for m in slack.dm(owner))


def notices(slack, text: str) -> int:
    return sum(text in (m.get("text") or "") for m in slack.dm(CAROL))


# -- kill plans ---------------------------------------------------------------------------------
PLANS = ["commit-before", "commit-after", "okta-before", "okta-after", "slack", "delay-approve",
         "delay-expiry"]


@dataclass
class Plan:
    kind: str
    detail: str = ""
    n: int = 0
    delay: float = 0.0

    def __str__(self) -> str:
        number = f" #{self.n}" if self.n else ""
        delay = f" {self.delay * 1000:.0f} ms" if self.delay else ""
        return f"{self.kind}({self.detail}{number}{delay})"


def draw_plan(rng: random.Random, number: int, commits: int) -> Plan:
    kind = PLANS[number % len(PLANS)]  # every kind about equally often; the details at random
    if kind.startswith("commit"):
        return Plan(kind, n=rng.randint(1, commits))
    if kind.startswith("okta"):
        method, path, most = rng.choice([("PUT", "membership", 1), ("DELETE", "membership", 1),
                                         ("GET", "user-groups", 4)])
        return Plan(kind, f"{method} {path}", n=rng.randint(1, most))
    if kind == "slack":
        method, most = rng.choice([("chat.postMessage", 5), ("chat.update", 3)])
        return Plan(kind, method, n=rng.randint(1, most))
    # The bot needs ~50-300 ms from the click to the grant and ~100 ms (one sweep) from the
    # clock jump to the revocation: kill somewhere in there.
    return Plan(kind, delay=rng.uniform(0, 0.3 if kind == "delay-approve" else 0.15))


def arm_sandbox(server, method: str, path: str, n: int, after: bool, run: Run) -> None:
    """Kill the bot when `server` receives the n-th matching call, before or after applying it."""
    seen = [0]

    def hook(call):
        seen[0] += 1
        if seen[0] != n:
            return server.route(call)
        reply = server.route(call) if after else Reply.json(503, {"errorCode": "E0000009"})
        run.kills.append(f"at {call.method} {call.path.split('/')[-1 if after else -2]}")
        run.bot.kill()
        return reply

    server.inject(hook, path=path, method=method, times=10**9)


def disarm(*servers) -> None:
    for server in servers:
        with server.lock:
            server._faults.clear()


# -- one run --------------------------------------------------------------------------------------
def new_run(directory: Path, number: int, zygote: Zygote, env: dict, template: Path, slack,
            plan: Plan | None) -> Run:
    """A fresh database and the run's first bot, forked now so it starts while others work."""
    run_dir = directory / f"run-{number:03d}"
    run_dir.mkdir()
    shutil.copy(template, run_dir / "latchkey.db")
    run = Run(number, run_dir, zygote, {**env, "DATABASE_URL": f"sqlite:///{run_dir}/latchkey.db"},
              slack)
    run.set_clock(0.0)
    run.spawn(run_dir / "crash" if plan is None or plan.kind.startswith("commit") else None)
    if plan is None or plan.kind.startswith("commit"):
        (run_dir / "crash").write_text(  # counting starts now, before anything happens
            "after 1000000000" if plan is None else f"{plan.kind.split('-')[1]} {plan.n}")
    return run


def play(run: Run, slack, okta, plan: Plan | None, told_before: tuple[int, int],
         timeout: float = 30) -> None:
    """Drive one request from submission to revocation (and Carol told of both) through
    whatever kills `plan` causes, restarting the bot each time it is found dead."""
    crash_file = run.directory / "crash"
    run.serving()
    timers: list[threading.Timer] = []

    def kill_later(delay: float, why: str) -> None:
        def kill() -> None:
            if run.bot.alive():
                run.kills.append(why)
                run.bot.kill()
        timers.append(threading.Timer(delay, kill))
        timers[-1].start()

    if plan is None or plan.kind.startswith("commit"):
        pass  # armed by new_run()
    elif plan.kind.startswith("okta"):
        method, path = plan.detail.split()
        arm_sandbox(okta, method, MEMBERSHIP if path == "membership" else USER_GROUPS, plan.n,
                    plan.kind.endswith("after"), run)
    elif plan.kind == "slack":
        arm_sandbox(slack, "POST", "/api/" + plan.detail.replace(".", r"\."), plan.n, True, run)

    clicked_by: set[int] = set()  # bots that got Alice's click
    jumped, started, asked_since, revoked_since = False, time.monotonic(), None, None
    try:
        while True:
            if time.monotonic() - started > timeout:
                raise RunFailed(f"stuck: {run.query('SELECT state, lease_until FROM access_request')}")
            if not run.bot.alive():
                if plan and plan.kind.startswith("commit") and not run.kills:
                    run.kills.append(f"at commit {plan.n}")
                if crash_file.exists():
                    crash_file.unlink()
                run.restart()
                continue
            rows = run.query("SELECT id, state, expires_at FROM access_request")
            if len(rows) > 1:
                raise RunFailed(f"one submission, {len(rows)} requests")
            try:
                if not rows:
                    if eventually(lambda: run.query("SELECT 1 FROM catalog_sync")
                                      or not run.bot.alive(), timeout=20) is not True:
                        submit(slack, run.group)  # once the catalog is there to pick from
                    eventually(lambda: run.query("SELECT 1 FROM access_request")
                               or not run.bot.alive(), timeout=5)
                    continue
                request_id, state, expires_at = rows[0]
                if state == "pending" and id(run.bot) not in clicked_by:
                    # Alice clicks the button she was sent; it must come, even after a crash.
                    asked_since = asked_since or time.monotonic()
                    if not approve_button_for(slack, request_id) and \
                            time.monotonic() - asked_since < 3:
                        time.sleep(0.02)
                        continue
                    clicked_by.add(id(run.bot))
                    if approve_button_for(slack, request_id):
                        slack.click(ALICE, "approve", value=request_id)
                    else:  # reported, then worked around so the rest of the run is checked
                        run.findings.append("the approvers were never asked")
                        forge_click(slack, ALICE, "approve", request_id)
                    if plan and plan.kind == "delay-approve" and not run.kills:
                        kill_later(plan.delay, f"{plan.delay * 1000:.0f} ms after the click")
                elif state == "active" and not jumped:
                    behind = (_time(expires_at) - datetime.now(UTC)).total_seconds()
                    run.set_clock(max(run.offset, behind + 1))
                    jumped = True
                    if plan and plan.kind == "delay-expiry" and not run.kills:
                        kill_later(plan.delay, f"{plan.delay * 1000:.0f} ms after the expiry")
                elif state == "revoked":
                    # Done once Carol has heard of the grant and of the revocation.
                    revoked_since = revoked_since or time.monotonic()
                    told = notices(slack, "You now have") > told_before[0] and \
                        notices(slack, "has ended") > told_before[1]
                    owners_told = all(outcome_shown(slack, request_id, owner) for owner in (ALICE, BOB))
                    if told and owners_told:
                        run.stale_buttons = sum(approve_button_for(slack, request_id, owner)
                                                for owner in (ALICE, BOB))
                        return
                    if time.monotonic() - revoked_since > 3:
                        run.findings += ["Carol was not told of the grant and the revocation"] * \
                            (not told) + ["an owner's DM does not show the decision"] * (not owners_told)
                        return
                elif state not in ("pending", "approved", "provisioning", "active", "revoking"):
                    raise RunFailed(f"the request ended {state}")
            except (httpx.TransportError, AssertionError, StopIteration):
                if not run.bot.dies_within(2):
                    raise  # the bot is up, so this is no side effect of a kill
            time.sleep(0.01)
    finally:
        for timer in timers:
            timer.cancel()
        disarm(okta, slack)


def check(run: Run, okta) -> int:
    """Okta, the request and the audit log after a run; returns the repeated (no-op) writes."""
    group, carol = okta.ids[run.group], okta.ids["carol@acme.com"]
    assert carol not in okta.members(group)
    # Replay the accepted writes from "not a member": a write that changed nothing is a repeat.
    member, changes, repeats = False, [], 0
    for call in okta.membership_writes()[run.writes_before:]:
        assert call.path == f"/api/v1/groups/{group}/users/{carol}", call.path
        if (call.method == "PUT") != member:
            changes.append(call.method)
            member = call.method == "PUT"
        else:
            repeats += 1
    assert changes == ["PUT", "DELETE"], f"membership changes {changes}"

    rows = run.query("SELECT id, state, lease_until FROM access_request")
    assert len(rows) == 1 and rows[0][1] == "revoked" and rows[0][2] is None, rows
    events = run.query("SELECT seq, at, actor, action FROM audit_event WHERE request_id = ? "
                       "ORDER BY seq", rows[0][0])
    assert [e[3] for e in events] == EXPECTED_AUDIT, f"audit {[e[3] for e in events]}"
    assert [e[2] for e in events] == [CAROL, ALICE] + ["latchkey"] * 4, events
    times = [_time(e[1]) for e in events]
    assert times == sorted(times), events
    return repeats


def test_sigkill_at_random_points_loses_and_doubles_nothing(chaos, okta_m, slack_m):
    """Given one bot on a fresh SQLite database per run, when it is SIGKILLed at a seeded random
    point of a request's life and restarted, then in every run Okta ends right (granted while
    active, revoked after expiry), no write that changed Okta is repeated, the request ends
    revoked with nothing pending, the audit log is complete and in order, and Carol is told."""
    directory, zygote, env, template = chaos

    def one(run: Run, plan: Plan | None):
        run.writes_before = len(okta_m.membership_writes())
        told_before = (notices(slack_m, "You now have"), notices(slack_m, "has ended"))
        repeats = "-"
        try:
            play(run, slack_m, okta_m, plan, told_before)
            repeats = check(run, okta_m)
        except (RunFailed, AssertionError) as failure:
            run.findings.append(f"{type(failure).__name__}: {failure}")
        finally:
            for bot in run.bots:
                bot.kill()
            with okta_m.lock:  # a failed run must not spoil the next one
                okta_m._members[okta_m.ids[run.group]].discard(okta_m.ids["carol@acme.com"])
        return repeats, run.stale_buttons

    # Run 0 is undisturbed: it counts the commits of a whole life, so crashes can land anywhere.
    calibration = new_run(directory, 0, zygote, env, template, slack_m, None)
    one(calibration, None)
    assert not calibration.findings and not calibration.kills, calibration.findings
    commits = int((calibration.directory / "crash.count").read_text())
    assert commits >= 6, commits

    rng = random.Random(SEED)
    plans = [None] + [draw_plan(rng, number, commits - 2) for number in range(1, RUNS + 1)]
    started, outcomes, failures = time.monotonic(), [], []
    upcoming = new_run(directory, 1, zygote, env, template, slack_m, plans[1])
    for number in range(1, RUNS + 1):
        run, plan = upcoming, plans[number]
        if number < RUNS:  # fork the next run's bot now: it starts while this run plays
            upcoming = new_run(directory, number + 1, zygote, env, template, slack_m,
                               plans[number + 1])
        repeats, stale = one(run, plan)
        outcomes.append((plan, run.kills, len(run.bots) - 1, repeats, stale))
        if run.findings:
            failures.append(f"run {number} {plan} kills={run.kills}: " + "; ".join(run.findings))
    report = "\n".join(f"{p!s:36} restarts={r} repeated writes={w} stale DMs={d} kills={k}"
                       for p, k, r, w, d in outcomes)
    print(f"\n{RUNS} runs, seed {SEED}, {commits} writing commits per undisturbed life, "
          f"{time.monotonic() - started:.1f} s\n{report}")
    assert not failures, f"{len(failures)} of {RUNS} runs went wrong:\n" + "\n".join(failures)
    killed = sum(1 for _, kills, *_ in outcomes if kills)
    assert killed >= RUNS * 0.8, f"only {killed} of {RUNS} runs were killed:\n{report}"

"""Several `latchkey serve` replicas on one PostgreSQL database, all serving Slack and all running
the scheduler: every approval provisions exactly once and every expiry revokes exactly once,
counted at the Okta sandbox.

The replicas are real processes using the real clock, and the shortest duration Latchkey knows
is one minute, so the module waits once: the requests are granted first
(`test_every_approval_provisions_exactly_once`), the tests in between use the replicas while the
minute runs, and `test_every_expiry_revokes_exactly_once` (last in the file) waits for it.
Skipped, saying why, when no PostgreSQL server answers (see tests/support/postgres.py).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import inspect

from storage.audit_log import AuditLog
from storage.catalog import Catalog
from storage.chat import People
from storage.engine import make_engine, upgrade
from storage.request_queries import RequestQueries
from tests.resilience.support import has_button
from tests.support.config import config_text
from tests.support.harness import (
    ALICE,
    BOB,
    BOT_TOKEN,
    DAVE,
    OKTA_TOKEN,
    SIGNING_SECRET,
    eventually,
    free_port,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parents[2]
REPLICAS = 3
REQUESTERS = [f"U0REQ{i:02d}" for i in range(8)]
GROUPS = ["eng-admins", "billing-admins", "data-admins"]
LIFE = ["submitted", "approved", "claim", "activate", "expire", "finish"]


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, postgres_url, okta_m, slack_m):
    """REPLICAS `latchkey serve` processes on one PostgreSQL database (they migrate it at once).

    Yields (Slack URLs, processes, an engine on the database, log files)."""
    for user in REQUESTERS:
        okta_m.ids[user] = okta_m.add_user(f"{user.lower()}@acme.com", user, "Replica")
        slack_m.add_user(user, f"{user.lower()}@acme.com", real_name=user)
    directory = tmp_path_factory.mktemp("replicas")
    (directory / "latchkey.yaml").write_text(config_text(
        okta_m.url, durations=["1m"], max_duration="1m", max_requests_per_hour=1000))
    env = {**os.environ, "SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack_m.url + "/api/", "DATABASE_URL": postgres_url,
           "LATCHKEY_CONFIG": str(directory / "latchkey.yaml"), "OKTA_API_TOKEN": OKTA_TOKEN,
           "LATCHKEY_SWEEP_SECONDS": "1", "LATCHKEY_LOG_LEVEL": "WARNING", "PYTHONFAULTHANDLER": "1"}
    processes, urls, logs = [], [], []
    for number in range(REPLICAS):
        port = free_port()
        logs.append(directory / f"replica-{number}.log")
        processes.append(subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=open(logs[-1], "w")))  # noqa: SIM115
        urls.append(f"http://127.0.0.1:{port}")

    def ready(url):
        try:
            return httpx.get(url + "/readyz").status_code == 200
        except httpx.TransportError:
            return False

    engine = make_engine(postgres_url)
    try:
        for number, (url, process) in enumerate(zip(urls, processes)):
            eventually(lambda url=url, process=process: ready(url) or process.poll() is not None,
                       timeout=60)
            assert process.poll() is None, logs[number].read_text()
        eventually(lambda: Catalog(engine).last_sync("okta"), timeout=30)
        yield [u + "/slack/events" for u in urls], processes, engine, logs
    finally:
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:  # dump every thread's stack to its log, then end it
                process.send_signal(signal.SIGABRT)
                process.wait(timeout=10)
        engine.dispose()


def _request(slack, user: str, group: str, urls: list[str], turn: int) -> None:
    """`user` asks for `group`; the command, the typeahead and the submission each go to
    another replica."""
    slack.via(urls[turn % len(urls)])
    assert slack.command(user, text="").status_code == 200
    eventually(lambda: slack.open_view(user), timeout=10)
    slack.via(urls[(turn + 1) % len(urls)])
    options = [o for g in slack.suggest(user, "entitlement", group)["option_groups"]
               for o in g["options"]]
    choice = next(o for o in options if o["text"]["text"] == group)
    slack.via(urls[(turn + 2) % len(urls)])
    answer = slack.submit(user, {"access": choice, "duration": "1m", "justification": "replicas"})
    assert answer.status_code == 200 and not answer.content, answer.text
    eventually(lambda: slack.open_view(user) is None, timeout=5)


def _path(request) -> str:
    return f"/api/v1/groups/{request.entitlement_id.split(':')[1]}/users/{request.account_id}"


def _writes(okta, method: str, since: int) -> Counter:
    return Counter(c.path for c in okta.membership_writes()[since:] if c.method == method)


@pytest.fixture(scope="module")
def granted(replicas, slack_m, okta_m):
    """24 requests made and approved across the replicas: (active requests, writes before)."""
    urls, _, engine, _ = replicas
    slack, requests = slack_m, RequestQueries(engine)
    writes_before = len(okta_m.membership_writes())
    wanted = [(user, group) for user in REQUESTERS for group in GROUPS]

    def ask(index_and_user):  # each requester asks for every group, in their own thread
        index, user = index_and_user
        for turn, group in enumerate(GROUPS):
            _request(slack, user, group, urls, index + turn)

    with ThreadPoolExecutor(len(REQUESTERS)) as pool:
        list(pool.map(ask, enumerate(REQUESTERS)))
    pending = eventually(lambda: len(requests.in_states("pending")) == len(wanted)
                         and requests.in_states("pending"), timeout=10)
    assert sorted((r.requester, r.entitlement_name) for r in pending) == sorted(wanted)

    # Both owners click Approve at the same moment, each through another replica.
    for request in pending:
        eventually(lambda request=request: all(has_button(slack, o, "approve", request.id)
                                               for o in (ALICE, BOB)), timeout=10)
    clicks = [(owner, request.id, urls[(i + (owner == BOB)) % len(urls)])
              for i, request in enumerate(pending) for owner in (ALICE, BOB)]
    barrier = threading.Barrier(len(clicks))

    def click(args):
        owner, request_id, url = args
        barrier.wait()
        return slack.via(url).click(owner, "approve", value=request_id).status_code

    with ThreadPoolExecutor(len(clicks)) as pool:
        assert set(pool.map(click, clicks)) == {200}
    active = eventually(lambda: len(requests.in_states("active")) == len(wanted)
                        and requests.in_states("active"), timeout=30)
    return active, writes_before


def test_every_approval_provisions_exactly_once(granted, okta_m):
    """Given three replicas on one PostgreSQL database, when 24 requests are made with every
    Slack delivery going to another replica and both owners approve each one at the same moment
    through different replicas, then each membership is written exactly once (one PUT)."""
    active, writes_before = granted
    assert _writes(okta_m, "PUT", writes_before) == Counter({_path(r): 1 for r in active})
    assert _writes(okta_m, "DELETE", writes_before) == Counter()
    for request in active:
        assert request.account_id in okta_m.members(request.entitlement_id.split(":")[1])


def test_migrations_build_the_same_schema_on_sqlite_and_postgresql(tmp_path, replicas):
    """Given the Alembic migrations, when they build an SQLite database and (through the
    replicas, all migrating at once) the PostgreSQL one, then both have the same tables,
    columns and indexes."""
    sqlite = make_engine(f"sqlite:///{tmp_path}/schema.db")
    upgrade(sqlite)

    def shape(engine):
        found = inspect(engine)
        return {table: (sorted(c["name"] for c in found.get_columns(table)),
                        sorted(i["name"] for i in found.get_indexes(table)))
                for table in found.get_table_names()}

    assert shape(sqlite) == shape(replicas[2])
    sqlite.dispose()


def test_an_event_retried_to_another_replica_has_no_second_effect(replicas, slack_m):
    """Given Dave opens App Home through one replica, when Slack retries the same event
    (X-Slack-Retry-Num) and the retry reaches another replica, then the Home is published once."""
    urls = replicas[0]
    published = len(slack_m.calls_to("POST", "/api/views.publish"))
    assert slack_m.via(urls[0]).open_home(DAVE).status_code == 200
    delivery = slack_m.last_delivery()
    eventually(lambda: len(slack_m.calls_to("POST", "/api/views.publish")) == published + 1)
    for retry, url in ((1, urls[1]), (2, urls[2])):
        assert slack_m.deliver_again(delivery, retry_num=retry, url=url).status_code == 200
    time.sleep(0.5)
    assert len(slack_m.calls_to("POST", "/api/views.publish")) == published + 1


def test_a_click_delivered_to_two_replicas_counts_once(replicas, slack_m, okta_m):
    """Given a pending request, when the very same Approve click reaches a second replica while
    the first is still acting on it (it has acknowledged, and grants in the background), then
    Okta gets one membership write and the request one approval."""
    urls, _, engine, _ = replicas
    requests = RequestQueries(engine)
    writes_before = len(okta_m.membership_writes())
    _request(slack_m, DAVE, "eng-admins", urls, 0)
    request = eventually(lambda: requests.in_states("pending"))[0]
    eventually(lambda: has_button(slack_m, ALICE, "approve", request.id))
    slack_m.via(urls[0]).click(ALICE, "approve", value=request.id)
    delivery = slack_m.last_delivery()
    slack_m.deliver_again(delivery, url=urls[1])
    eventually(lambda: requests.get(request.id).state == "active", timeout=10)
    time.sleep(0.5)
    assert requests.get(request.id).decided_by == (ALICE,)
    assert _writes(okta_m, "PUT", writes_before) == Counter({_path(request): 1})


def test_replicas_syncing_and_caching_people_at_once_do_not_collide(replicas):
    """Given several replicas writing the same rows at the same moment (each syncs the catalog
    on start and every sync_interval; each caches the Slack person a request comes from), when
    three catalog syncs and three look-ups of one person run at once, then none fails (on
    PostgreSQL both used to: a duplicate key, and the sync or the person's request was lost)."""
    engine, now = replicas[2], datetime.now(UTC)
    catalog, people = Catalog(engine), People(engine)
    entitlements = [{"id": f"race-{i}", "resource_type": "group", "resource_id": f"g{i}",
                     "name": f"race {i}", "description": "", "requestable": True,
                     "provisionable": True} for i in range(200)]
    errors = []

    def attempt(work):
        try:
            work()
        except Exception as exc:  # collected and shown below
            errors.append(repr(exc)[:200])

    for round_ in range(5):
        work = [lambda: catalog.replace("race", entitlements, [], [], now)] * 3 + \
               [lambda r=round_: people.put(f"U0RACE{r}", "race@acme.com", "Race", now)] * 3
        threads = [threading.Thread(target=attempt, args=(w,)) for w in work]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    assert catalog.last_sync("race").entitlements == 200
    assert people.get("U0RACE4").email == "race@acme.com"


def test_every_expiry_revokes_exactly_once(granted, replicas, okta_m):
    """Given the granted requests, when one replica is SIGKILLed before anything expires, then
    the other replicas' schedulers remove each membership exactly once (one DELETE), every
    request ends revoked, each audit log is complete, and no replica logged an error."""
    active, writes_before = granted
    _, processes, engine, logs = replicas
    requests, audit = RequestQueries(engine), AuditLog(engine)
    first_expiry = min(r.expires_at for r in active)
    time.sleep(max((first_expiry - datetime.now(UTC)).total_seconds() - 5, 0))
    processes[0].send_signal(signal.SIGKILL)
    processes[0].wait()
    wait = (max(r.expires_at for r in active) - datetime.now(UTC)).total_seconds() + 20
    everything = requests.in_states("pending", "approved", "provisioning", "active", "revoking",
                                    "revoked", "failed", "denied", "cancelled")
    eventually(lambda: all(r.state == "revoked" for r in
                           map(requests.get, [r.id for r in everything])), timeout=wait)
    once_each = Counter({_path(r): 1 for r in everything})  # (the granted ones, and Dave's)
    assert len(once_each) == len(everything) > len(active)
    assert _writes(okta_m, "DELETE", writes_before) == once_each
    assert _writes(okta_m, "PUT", writes_before) == once_each
    for request in everything:
        assert request.account_id not in okta_m.members(request.entitlement_id.split(":")[1])
        assert [e.action for e in audit.events(request.id)] == LIFE, request.id
    errors = [line for log in logs for line in log.read_text().splitlines()
              if " ERROR " in line or "Traceback" in line]
    assert not errors, "\n".join(errors)

"""The audit channel: every audit event becomes one line in a Slack channel, in order, once.

Real HTTP against the Slack sandbox (its public channel C0GENERAL stands for the audit
channel); each test runs on SQLite and on PostgreSQL (skipped, saying why, without a server).
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk import WebClient
from sqlmodel import Session

from bot.domain.events import (
    AccessGranted,
    ConfigLoaded,
    DriftFound,
    RequestApproved,
    RequestDenied,
    RequestSubmitted,
)
from bot.slack.app import web_client
from bot.slack.audit_channel import CURSOR, GAP_WAIT, LEASE, MAX_LINES, AuditChannelRelay
from bot.slack.audit_lines import MAX_CHARS, format_line
from sandbox.server import Reply
from storage.audit_log import AuditLog
from storage.engine import make_engine
from storage.relay_cursor import RelayCursors
from storage.requests import Requests
from storage.tables import AuditRow
from tests.support.harness import ALICE, BOB, BOT_TOKEN, CAROL, eventually
from tests.support.stored import stored_request

CHANNEL = "C0GENERAL"


@pytest.fixture
def client(slack) -> WebClient:
    """A client without the SDK's retry handlers, so the relay itself meets every failure."""
    return WebClient(token=BOT_TOKEN, base_url=slack.url + "/api/", timeout=5)


@pytest.fixture
def relays(engine, client, clock):
    made = []

    def make(channel: str = CHANNEL, on=None, using=None, **options) -> AuditChannelRelay:
        options.setdefault("min_interval", 0)
        made.append(AuditChannelRelay(on or engine, using or client, channel, clock, **options))
        return made[-1]

    yield make
    for relay in made:
        relay.stop(drain_for=1)


def lines(slack, channel: str = CHANNEL) -> list[str]:
    messages = slack.messages(channel)
    for message in messages:  # the fallback text and the section say the same
        assert message["blocks"][0]["text"]["text"] == message["text"]
    return [line for message in messages for line in message["text"].split("\n")]


def submitted(audit: AuditLog, clock, request_id: str, why: str, who: str = CAROL) -> None:
    audit.append(RequestSubmitted(request_id=request_id, actor=who, entitlement="group:00g1:member",
                                  connector="okta", duration="4 hours", justification=why), clock.now())


def position(engine) -> int:
    return RelayCursors(engine).get(CURSOR).position


def test_each_event_is_one_line_in_order_with_user_text_escaped(engine, slack, relays, clock):
    """Given a request's story in the audit log, when the relay runs, then the channel gets one
    line per event in order, people as mentions, the request id in backticks, and user text
    that cannot ping, link or break the line."""
    audit = AuditLog(engine)
    Requests(engine).add(stored_request(clock.now(), id="a1b2c3", requester=CAROL,
                                     requester_email="carol@acme.com", duration=timedelta(hours=4),
                                     justification="x"))
    submitted(audit, clock, "a1b2c3", "hotfix <!channel> & <https://evil.example|click>\nsecond line")
    audit.append(RequestApproved(request_id="a1b2c3", actor=ALICE, approvers=(ALICE,)), clock.now())
    audit.append(AccessGranted(request_id="a1b2c3", preexisting=False), clock.now())
    audit.append(RequestDenied(request_id="ffff00", actor=BOB, reason="<@U0ALICE> said *no*"), clock.now())
    audit.append(ConfigLoaded(fingerprint="abcd1234ef567890",
                              shape={"connectors": {"okta": {"token": "**********", "domain": "acme"}}},
                              changed=("connectors.okta", "policy")), clock.now())

    assert relays().relay_once() == 5

    posted = lines(slack)
    assert len(posted) == 5 and len(slack.messages(CHANNEL)) == 1  # one message: a burst
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d UTC"
    assert re.fullmatch(stamp + r" · <@U0CAROL> requested `a1b2c3` · eng-admins \(okta\) · for 4 hours"
                        r" · why: hotfix &lt;!channel&gt; &amp; &lt;https://evil.example\|click&gt; second line",
                        posted[0]), posted[0]
    assert re.fullmatch(stamp + r" · <@U0ALICE> approved `a1b2c3` · eng-admins · approvers: <@U0ALICE>",
                        posted[1]), posted[1]
    assert re.fullmatch(stamp + r" · latchkey granted `a1b2c3` · eng-admins", posted[2]), posted[2]
    assert re.fullmatch(stamp + r" · <@U0BOB> denied `ffff00` · reason: &lt;@U0ALICE&gt; said \*no\*",
                        posted[3]), posted[3]
    assert re.fullmatch(stamp + r" · latchkey: configuration loaded \(fingerprint abcd1234\)"
                        r" · changed: connectors.okta, policy", posted[4]), posted[4]
    everything = "\n".join(posted)
    assert "<!channel>" not in everything and "<https" not in everything
    assert "acme" not in everything and "*****" not in everything and "shape" not in everything
    assert position(engine) == max(e.seq for e in audit.events())


def test_line_format():
    """The exact line for an event at a known time; long text is clipped."""
    at = datetime(2026, 11, 27, 15, 4, 59, tzinfo=UTC)
    row = AuditRow(seq=7, at=at, actor="latchkey", action="revoke_retry", request_id="0a1b",
                   detail=json.dumps({"attempt": 3, "error": "okta said 503 " + "x" * 500}))
    line = format_line(row, "eng-admins")
    assert line.startswith("2026-11-27 15:04 UTC · latchkey will retry revoking `0a1b` · "
                           "eng-admins · attempt 3 · error: okta said 503 xxx")
    assert line.endswith("x…") and len(line) < 300
    timed_out = AuditRow(seq=8, at=at, actor="latchkey", action="time_out", request_id="0a1b")
    assert format_line(timed_out) == "2026-11-27 15:04 UTC · latchkey timed out `0a1b` · nobody decided in time"
    odd = AuditRow(seq=9, at=at, actor="someone <b>", action="brand_new_thing", detail="not json")
    assert format_line(odd) == "2026-11-27 15:04 UTC · someone &lt;b&gt; brand new thing"
    glass = AuditRow(seq=10, at=at, actor=CAROL, action="break_glass", request_id="0a1c",
                     detail=json.dumps({"rule": "oncall", "justification": "prod down",
                                        "reviewers": [ALICE, BOB]}))
    assert format_line(glass, "prod-admins") == (
        "2026-11-27 15:04 UTC · <@U0CAROL> used break-glass for `0a1c` · prod-admins · rule oncall"
        " · why: prod down · to be reviewed by: <@U0ALICE>, <@U0BOB>")
    extended = AuditRow(seq=11, at=at, actor="latchkey", action="extended", request_id="0a1b",
                        detail=json.dumps({"by": "0a1d", "expires_at": str(at + timedelta(hours=2))}))
    assert format_line(extended) == \
        "2026-11-27 15:04 UTC · latchkey extended `0a1b` · by `0a1d` · until 2026-11-27 17:04 UTC"
    rejected = AuditRow(seq=12, at=at, actor="latchkey", action="config_rejected",
                        detail=json.dumps({"error": "token: input_value='xoxb-secret'"}))
    assert "xoxb" not in format_line(rejected) and "rejected" in format_line(rejected)


def test_a_restart_continues_where_the_last_relay_stopped(engine, slack, relays, clock):
    """Given a relay posted three events and went away, when events follow and a new relay
    (a restarted process, with its own engine) runs, then it posts only the new ones."""
    audit = AuditLog(engine)
    for n in range(3):
        submitted(audit, clock, f"r{n}", f"before {n}")
    assert relays().relay_once() == 3
    for n in range(3, 5):
        submitted(audit, clock, f"r{n}", f"after {n}")

    restarted = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        assert relays(on=restarted).relay_once() == 2
    finally:
        restarted.dispose()

    assert [re.search(r"why: (.*)", line).group(1) for line in lines(slack)] == \
        ["before 0", "before 1", "before 2", "after 3", "after 4"]


def test_two_relays_on_one_database_post_each_line_once(engine, slack, relays, clock):
    """Given two replicas relaying from one database while four threads write audit events,
    then every event is posted exactly once, in seq order."""
    other = make_engine(engine.url.render_as_string(hide_password=False))
    try:
        pair = [relays(poll_every=0.02), relays(on=other, poll_every=0.02)]
        for relay in pair:
            relay.start()

        def write(worker: int) -> None:
            audit = AuditLog(engine if worker % 2 else other)
            for n in range(15):
                submitted(audit, clock, f"w{worker}n{n}", f"w{worker}-{n}")
                pair[n % 2].poke()

        writers = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        eventually(lambda: len(lines(slack)) >= 60, timeout=20)
        time.sleep(0.3)  # a doubled line would arrive now
        for relay in pair:
            relay.stop()
    finally:
        other.dispose()

    expected = [json.loads(e.detail)["justification"] for e in AuditLog(engine).events()]
    assert [re.search(r"why: (.*)", line).group(1) for line in lines(slack)] == expected
    assert len(expected) == 60


def test_a_crashed_holders_lease_runs_out(engine, slack, relays, clock):
    """Given a replica took the lease and died, then the others skip until it runs out, and
    then relay everything."""
    audit = AuditLog(engine)
    submitted(audit, clock, "r1", "one")
    assert RelayCursors(engine).take(CURSOR, "crashed", clock.now(), clock.now() + LEASE,
                                     start_before=clock.now() - timedelta(hours=1)) == 0
    relay = relays()
    assert relay.relay_once() == 0
    assert slack.calls_to("POST", "/api/chat.postMessage") == []
    clock.advance(LEASE)
    assert relay.relay_once() == 1
    assert RelayCursors(engine).get(CURSOR).holder is None  # given back after the pass


def test_a_rate_limit_is_waited_out_and_loses_nothing(engine, slack, relays, clock):
    """Given Slack answers 429 with Retry-After: 30, then the relay does not call again before
    30 s have passed, and then posts every line once."""
    audit = AuditLog(engine)
    for n in range(3):
        submitted(audit, clock, f"r{n}", f"line {n}")
    slack.rate_limit("chat.postMessage", times=1, retry_after=30)
    relay = relays()

    assert relay.relay_once() == 0
    assert position(engine) == 0
    calls = len(slack.calls_to("POST", "/api/chat.postMessage"))
    clock.advance(timedelta(seconds=29))
    assert relay.relay_once() == 0
    assert len(slack.calls_to("POST", "/api/chat.postMessage")) == calls  # it waited
    clock.advance(timedelta(seconds=2))
    assert relay.relay_once() == 3
    assert [line.rsplit("why: ", 1)[1] for line in lines(slack)] == ["line 0", "line 1", "line 2"]


def test_the_sdk_retry_handler_of_the_service_client_absorbs_a_short_rate_limit(engine, slack, relays,
                                                                                clock):
    """Given the client the service builds (it waits out Retry-After itself), when Slack
    rate-limits once, then the pass still posts."""
    submitted(AuditLog(engine), clock, "r1", "one")
    slack.rate_limit("chat.postMessage", times=1, retry_after=1)
    assert relays(using=web_client(BOT_TOKEN, slack.url + "/api/")).relay_once() == 1
    assert len(lines(slack)) == 1


def test_server_and_network_errors_back_off_and_lose_nothing(engine, slack, relays, clock):
    """Given Slack answers 500, then 503 with an HTML page, and the network is down for a
    while, then the relay backs off each time, keeps its cursor, and finally posts every line
    once, in order."""
    audit = AuditLog(engine)
    submitted(audit, clock, "r1", "one")
    slack.inject(lambda call: Reply.json(500, {"ok": False, "error": "internal_error"}),
                 path="/api/chat.postMessage")
    slack.inject(lambda call: Reply(503, b"<html>down</html>", {"Content-Type": "text/html"}),
                 path="/api/chat.postMessage")
    unreachable = WebClient(token=BOT_TOKEN, base_url="http://127.0.0.1:9/api/", timeout=2)
    relay = relays(using=unreachable)

    assert relay.relay_once() == 0  # the network is down
    unreachable.base_url = slack.url + "/api/"
    assert relay.relay_once() == 0  # still backing off: no call
    assert slack.calls_to("POST", "/api/chat.postMessage") == []
    submitted(audit, clock, "r2", "two")
    for _ in range(2):  # 500, then 503
        clock.advance(timedelta(minutes=1))
        assert relay.relay_once() == 0
        assert position(engine) == 0
    clock.advance(timedelta(minutes=1))
    assert relay.relay_once() == 2
    assert [line.rsplit("why: ", 1)[1] for line in lines(slack)] == ["one", "two"]
    assert len(slack.calls_to("POST", "/api/chat.postMessage")) == 3


def test_not_in_channel_warns_once_and_posts_once_the_app_is_invited(engine, slack, relays, clock,
                                                                   caplog):
    """Given the app is not in the audit channel, then the operator is told once (invite the
    app), the relay keeps trying, and once it is invited every line arrives."""
    audit = AuditLog(engine)
    submitted(audit, clock, "r1", "one")
    slack.fail("chat.postMessage", "not_in_channel", times=3)
    relay = relays()
    with caplog.at_level(logging.INFO, logger="bot.slack.audit_channel"):
        for _ in range(3):
            assert relay.relay_once() == 0
            submitted(audit, clock, "rx", "later")
            clock.advance(MAX_BACKOFF_PLUS)
        assert relay.relay_once() == 4
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "not_in_channel" in warnings[0] and "/invite" in warnings[0]
    assert len(lines(slack)) == 4


MAX_BACKOFF_PLUS = timedelta(minutes=6)


def test_a_wrong_channel_keeps_the_lines_for_the_right_one(engine, slack, relays, clock, caplog):
    """Given audit_channel names a channel that does not exist, then nothing is lost: once the
    operator corrects it and restarts, the new relay posts every line there."""
    audit = AuditLog(engine)
    submitted(audit, clock, "r1", "one")
    with caplog.at_level(logging.WARNING, logger="bot.slack.audit_channel"):
        assert relays(channel="C0NOSUCH").relay_once() == 0
    assert "channel_not_found" in caplog.text
    submitted(audit, clock, "r2", "two")
    assert relays().relay_once() == 2
    assert len(lines(slack)) == 2


def test_the_channel_can_be_changed_or_turned_off_while_running(engine, slack, relays, clock):
    """Given a relay failing on a wrong channel, when a reloaded config corrects it, then the
    lines go to the right channel at once (no backoff left over); while the channel is None
    nothing is posted, and turning it back on carries on where it stopped."""
    audit = AuditLog(engine)
    submitted(audit, clock, "r1", "one")
    relay = relays(channel="C0NOSUCH")
    assert relay.relay_once() == 0
    relay.channel = CHANNEL
    assert relay.relay_once() == 1
    relay.channel = None
    submitted(audit, clock, "r2", "two")
    assert relay.relay_once() == 0
    relay.channel = CHANNEL
    assert relay.relay_once() == 1
    assert [line.rsplit("why: ", 1)[1] for line in lines(slack)] == ["one", "two"]


def _insert(engine, *seqs: int, at=None) -> None:
    """Audit rows with explicit seqs, as another transaction would commit them."""
    with Session(engine) as session:
        for seq in seqs:
            session.add(AuditRow(seq=seq, at=at or datetime.now(UTC), actor="latchkey",
                                 action="drift", request_id=f"s{seq}", detail=json.dumps({"finding": f"n{seq}"})))
        session.commit()


def _seqs(slack) -> list[int]:
    return [int(re.search(r"finding: n(\d+)", line).group(1)) for line in lines(slack)]


def test_a_gap_that_fills_late_is_not_skipped(engine, slack, relays, clock):
    """Given seq 3 commits before seq 2 (PostgreSQL hands out seqs before commit), then the
    relay waits at the gap instead of passing it, and posts 2 then 3 once 2 is there."""
    relay = relays()
    _insert(engine, 1, 3)
    assert relay.relay_once() == 1
    assert position(engine) == 1
    clock.advance(GAP_WAIT / 2)
    assert relay.relay_once() == 0
    _insert(engine, 2)
    assert relay.relay_once() == 2
    assert _seqs(slack) == [1, 2, 3]


def test_a_gap_that_never_fills_is_passed_after_the_wait(engine, slack, relays, clock):
    """Given seqs that were rolled back (a permanent gap), then the relay passes them once they
    have stayed missing for GAP_WAIT; gaps seen at the same time are waited for together."""
    relay = relays()
    _insert(engine, 1, 3, 5, 8)
    assert relay.relay_once() == 1
    clock.advance(GAP_WAIT - timedelta(seconds=1))
    assert relay.relay_once() == 0
    _insert(engine, 4)  # part of a gap fills in
    clock.advance(timedelta(seconds=1))
    assert relay.relay_once() == 4  # 3, 4, 5, 8: all gaps were seen GAP_WAIT ago
    assert _seqs(slack) == [1, 3, 4, 5, 8]
    assert position(engine) == 8


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)  # SQLite has one writer at a time
def test_postgresql_commits_out_of_seq_order_and_nothing_is_skipped(engine, slack, relays, clock):
    """Given (on PostgreSQL) one transaction takes seq 1 and is still open while another takes
    seq 2 and commits, then the relay does not pass seq 1, and posts 1 then 2 once the first
    transaction commits; a transaction that rolls back leaves a gap that is passed after
    GAP_WAIT."""
    relay = relays()
    relay.relay_once()  # the cursor starts at 0
    slow, fast = Session(engine), Session(engine)
    slow.add(AuditLog.entry(DriftFound(request_id="s1", finding="n1"), clock.now()))
    slow.flush()  # seq 1 is taken, not committed
    fast.add(AuditLog.entry(DriftFound(request_id="s2", finding="n2"), clock.now()))
    fast.commit()
    assert relay.relay_once() == 0
    clock.advance(GAP_WAIT / 2)
    assert relay.relay_once() == 0
    slow.commit()
    assert relay.relay_once() == 2
    assert _seqs(slack) == [1, 2]

    rolled_back, after = Session(engine), Session(engine)
    rolled_back.add(AuditLog.entry(DriftFound(request_id="s3", finding="n3"), clock.now()))
    rolled_back.flush()  # seq 3
    rolled_back.rollback()
    after.add(AuditLog.entry(DriftFound(request_id="s4", finding="n4"), clock.now()))
    after.commit()
    assert relay.relay_once() == 0
    clock.advance(GAP_WAIT)
    assert relay.relay_once() == 1
    assert _seqs(slack) == [1, 2, 4]
    for session in (slow, fast, rolled_back, after):
        session.close()


def test_a_burst_is_batched_within_slacks_limits_and_paced(engine, slack, relays, clock):
    """Given 100 events with long reasons, then they arrive in order in few messages, none over
    40 lines or 3,000 characters, at least `min_interval` apart."""
    audit = AuditLog(engine)
    for n in range(100):
        submitted(audit, clock, f"r{n}", f"{n:03d} " + "because " * 40)
    started = time.monotonic()
    assert relays(min_interval=0.2).relay_once() == 100
    messages = slack.messages(CHANNEL)
    assert time.monotonic() - started >= 0.2 * (len(messages) - 1)
    assert 3 <= len(messages) <= 12  # ~300 characters a line: about ten lines a message
    for message in messages:
        assert len(message["text"].split("\n")) <= MAX_LINES and len(message["text"]) <= MAX_CHARS
    assert [int(line.split("why: ")[1][:3]) for line in lines(slack)] == list(range(100))


def test_turning_the_channel_on_posts_only_recent_history(engine, slack, relays, clock):
    """Given events from last week and from a minute ago, when the audit channel is turned on,
    then only the last hour is posted, not the whole history."""
    audit = AuditLog(engine)
    audit.append(DriftFound(request_id="old", finding="n1"), clock.now() - timedelta(days=7))
    audit.append(DriftFound(request_id="new", finding="n2"), clock.now() - timedelta(minutes=1))
    assert relays().relay_once() == 1
    assert _seqs(slack) == [2]


def test_in_the_background_a_poke_delivers_at_once_and_stop_is_prompt(engine, slack, relays, clock):
    """Given the relay runs in the background with a long poll, when something is audited and
    it is poked, then the line arrives at once; stop() returns promptly."""
    relay = relays(poll_every=60)
    relay.start()
    submitted(AuditLog(engine), clock, "r1", "one")
    relay.poke()
    eventually(lambda: lines(slack), timeout=3)
    started = time.monotonic()
    relay.stop()
    assert time.monotonic() - started < 1

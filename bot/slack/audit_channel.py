"""The audit channel: one line in a Slack channel for every audit event, in order.

`AuditChannelRelay` follows the append-only audit log (`audit_event`, ordered by `seq`) and
posts each event to the configured channel, keeping how far it got in the database
(`relay_cursor`), so a restart continues where the last process stopped.

Delivery is at least once, never silently lossy:

* **Post first, then move the cursor.**  A crash (or a lost database) between Slack accepting a
  message and the cursor moving means those lines are posted again by the next pass; nothing
  else repeats a line.
* **One relay at a time.**  Each pass takes the cursor's lease with a compare-and-set UPDATE; a
  replica that finds it held skips the pass.  Every later write is fenced by the holder, so a
  replica that stalled past its lease cannot move the cursor after another took over.  Every
  pass gives the lease up when it ends (so a restart or another replica carries on at once); a
  crashed holder's lease runs out after `LEASE`.
* **Slack failing delays lines, never drops them.**  The cursor stays put and the pass is
  retried later: after Retry-After on a 429, with capped exponential backoff on 5xx, network
  errors and anything else.  `not_in_channel` / `channel_not_found` log one clear warning (the
  operator must invite the app, or fix `audit_channel`) and are retried every few minutes.
* **Gaps in seq are waited for.**  PostgreSQL hands out seq values when rows are inserted, not
  when they commit: seq 11 can be visible while seq 10's transaction is still committing.  A
  missing seq therefore holds the relay back until it has been seen missing for `GAP_WAIT`;
  only then is it taken for a rolled-back transaction (which leaves a gap for ever) and passed
  over.  SQLite never leaves gaps, and the same code simply never waits there.  (An event
  whose transaction took longer than `GAP_WAIT` to commit after a later one would then miss
  the channel; it stays in the audit log and in `latchkey audit export`.  The app's
  transactions make no network calls, so they take milliseconds.)

Turning the channel on for the first time posts the last `backfill` (an hour) of history, not
all of it; from then on the cursor carries on from where it is, whichever channel is set.

Batching: several events go into one message, up to `MAX_LINES` lines and `MAX_CHARS`
characters (the limit of one section's text), and messages are at least `min_interval`
seconds apart.  Slack allows about one message per second per channel; audit events come in
bursts (one approval writes approved, claim and activate within milliseconds; a sync or an
outage can write dozens), so one message per event would run into 429s and fall behind exactly
when the channel matters, while a batch keeps lines in order and readable as a log.

What each line says is bot/slack/audit_lines.py's business.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from datetime import datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy import Engine

from bot.background import BackgroundLoop
from bot.ports import Clock
from bot.slack.audit_lines import MAX_CHARS, format_line
from storage.relay_cursor import RelayCursors
from storage.tables import AuditRow

log = logging.getLogger(__name__)

CURSOR = "audit_channel"
LEASE = timedelta(minutes=1)  # renewed before every message, so it only has to outlast one post
GAP_WAIT = timedelta(seconds=10)  # how long a missing seq may stay missing before it is passed
BACKFILL = timedelta(hours=1)  # history posted when the channel is first turned on
MAX_LINES = 40
READ_AHEAD = 200  # audit events read per round
MAX_BACKOFF = timedelta(minutes=5)
CHANNEL_RETRY = timedelta(minutes=1)  # first retry after not_in_channel / channel_not_found
CHANNEL_ERRORS = frozenset({"not_in_channel", "channel_not_found", "is_archived"})

class AuditChannelRelay(BackgroundLoop):
    """Posts the audit log to `channel`, one line per event (see the module docstring).

    `start()` runs it in the background (a pass every `poll_every` seconds, or soon after
    `poke()`); `stop()` ends it; `relay_once()` runs one pass on the caller's thread.
    `channel` may be changed while it runs (a reloaded config); while it is None the relay
    does nothing and its cursor waits, so turning it back on carries on where it stopped.
    """

    def __init__(self, engine: Engine, client: WebClient, channel: str | None, clock: Clock,
                 poll_every: float = 2.0, *, min_interval: float = 1.0,
                 gap_wait: timedelta = GAP_WAIT, backfill: timedelta = BACKFILL) -> None:
        super().__init__("audit-channel", poll_every)
        self._cursors = RelayCursors(engine)
        self._client, self._channel, self._clock = client, channel, clock
        self._min_interval = min_interval
        self._gap_wait, self._backfill = gap_wait, backfill
        self._holder = secrets.token_hex(8)  # this relay, in the cursor's lease
        self._holes: dict[tuple[int, int], datetime] = {}  # missing seq range → first seen missing
        self._retry_at: datetime | None = None  # no pass before this time (Slack said wait, or failed)
        self._failures = 0
        self._warned: str | None = None  # the error last warned about, to warn once
        self._last_post = float("-inf")  # time.monotonic() of our last message
        self._pass = threading.Lock()
        self._drain_until = float("inf")  # time.monotonic() after which a stopping pass ends

    # -- running ---------------------------------------------------------------------------
    @property
    def channel(self) -> str | None:
        return self._channel

    @channel.setter
    def channel(self, channel: str | None) -> None:
        """Post to `channel` from the next message on (None: pause); a new channel is tried
        at once, whatever the old one had failed with."""
        if channel != self._channel:
            self._channel, self._retry_at, self._failures, self._warned = channel, None, 0, None
            self.poke()

    def stop(self, drain_for: float = 5.0) -> None:
        """Post what is ready (for up to `drain_for` seconds), then stop."""
        self._drain_until = time.monotonic() + drain_for
        super().stop(drain_for)

    def relay_once(self) -> int:
        """One pass: post every event that is ready, in seq order; return how many lines were
        posted (0 when another replica holds the lease, Slack asked us to wait, or it failed)."""
        with self._pass:
            now = self._clock.now()
            if not self._channel or (self._retry_at is not None and now < self._retry_at):
                return 0
            position = self._cursors.take(CURSOR, self._holder, now, now + LEASE,
                                          start_before=now - self._backfill)
            if position is None:
                return 0  # another replica is relaying
            try:
                return self._relay_from(position)
            finally:
                self._cursors.release(CURSOR, self._holder)

    def _relay_from(self, position: int) -> int:
        posted = 0
        while True:
            rows = self._cursors.events_after(position, READ_AHEAD)
            ready = self._ready(position, [row for row, _ in rows])
            if not ready:
                return posted
            names = {row.seq: name for row, name in rows}
            for batch in _batches([(row, format_line(row, names[row.seq])) for row in ready]):
                if self._stopping.is_set() and time.monotonic() > self._drain_until:
                    return posted  # the rest waits for the next start (or another replica)
                self._pace()
                if not self._cursors.renew(CURSOR, self._holder, self._clock.now() + LEASE):
                    return posted  # our lease ran out and another replica took over
                try:
                    self._post("\n".join(line for _, line in batch))
                except Exception as exc:  # Slack or the network: the cursor stays, retry later
                    self._failed(exc)
                    return posted
                self._succeeded()
                last = batch[-1][0].seq
                if not self._cursors.advance(CURSOR, self._holder, position, last,
                                             self._clock.now() + LEASE):
                    log.warning("audit channel: lost the lease after posting up to seq %d; "
                                "another replica may post those lines again", last)
                    return posted + len(batch)
                position, posted = last, posted + len(batch)

    # -- gaps ------------------------------------------------------------------------------
    def _ready(self, position: int, rows: list[AuditRow]) -> list[AuditRow]:
        """The leading rows that may be posted now: contiguous from `position`, passing only
        over gaps that have been seen missing for `gap_wait`."""
        now = self._clock.now()
        holes: dict[tuple[int, int], datetime] = {}
        expected = position + 1
        for row in rows:
            if row.seq > expected:
                hole = (expected, row.seq - 1)
                # A hole only shrinks as late rows commit: it lies inside the hole it was part
                # of when first seen, so it is as old as that one.
                holes[hole] = min((seen for (lo, hi), seen in self._holes.items()
                                   if lo <= hole[1] and hole[0] <= hi), default=now)
            expected = row.seq + 1
        if rows:  # holes beyond what this round read stay remembered
            holes.update({h: seen for h, seen in self._holes.items() if h[0] > rows[-1].seq})
        self._holes = holes
        ready, expected = [], position + 1
        for row in rows:
            if row.seq > expected:
                if now - holes[(expected, row.seq - 1)] < self._gap_wait:
                    break  # may still commit: wait for it
                log.info("audit channel: seq %d-%d never appeared; passing over it",
                         expected, row.seq - 1)
            ready.append(row)
            expected = row.seq + 1
        return ready

    # -- Slack -----------------------------------------------------------------------------
    def _pace(self) -> None:
        """Keep our messages `min_interval` apart (Slack: about one a second per channel)."""
        wait = self._last_post + self._min_interval - time.monotonic()
        if wait > 0 and not self._stopping.is_set():
            self._stopping.wait(wait)

    def _post(self, text: str) -> None:
        self._client.chat_postMessage(
            channel=self._channel, text=text, unfurl_links=False, unfurl_media=False,
            blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": text}}])
        self._last_post = time.monotonic()

    def _succeeded(self) -> None:
        if self._warned:
            log.info("audit channel %s: posting again", self._channel)
        self._failures, self._warned, self._retry_at = 0, None, None

    def _failed(self, exc: Exception) -> None:
        self._failures += 1
        error, status, retry_after = _describe(exc)
        if retry_after is not None:
            delay = timedelta(seconds=max(retry_after, 1))
        elif error in CHANNEL_ERRORS:
            delay = min(CHANNEL_RETRY * 2 ** (self._failures - 1), MAX_BACKOFF)
        else:
            delay = min(timedelta(seconds=2 ** self._failures), MAX_BACKOFF)
        self._retry_at = self._clock.now() + delay
        if error in CHANNEL_ERRORS:
            if self._warned != error:
                log.warning("audit channel %s: Slack says %s. Invite the Latchkey app to the "
                            "channel (/invite @Latchkey) or correct audit_channel; the audit "
                            "lines are kept and posted once it can post there.",
                            self._channel, error)
            self._warned = error
            return
        if status == 429:
            log.info("audit channel: rate limited by Slack; retrying in %ds", delay.total_seconds())
            return
        log.warning("audit channel %s: could not post (attempt %d, retrying in %ds): %s",
                    self._channel, self._failures, delay.total_seconds(), error)
        self._warned = error

    # -- background ------------------------------------------------------------------------
    run_once = relay_once  # what the background loop repeats

    def _next_wait(self) -> float:
        if self._retry_at is None:
            return self._poll_every
        return max(0.0, min(self._poll_every, (self._retry_at - self._clock.now()).total_seconds()))


def _describe(exc: Exception) -> tuple[str, int | None, float | None]:
    """(error, HTTP status, Retry-After seconds) of a failed post."""
    if not isinstance(exc, SlackApiError) or exc.response is None:
        return f"{type(exc).__name__}: {exc}", None, None
    response = exc.response
    data = response.data if isinstance(response.data, dict) else {}
    error = data.get("error") or f"HTTP {response.status_code}"
    retry_after = None
    if response.status_code == 429 or error == "ratelimited":
        header = next((v for k, v in (response.headers or {}).items()
                       if k.lower() == "retry-after"), None)
        try:
            retry_after = float(header) if header is not None else 1.0
        except (TypeError, ValueError):
            retry_after = 1.0
    return error, response.status_code, retry_after


def _batches(lines: list[tuple[AuditRow, str]]):
    """Consecutive runs of lines that fit one message (MAX_LINES, MAX_CHARS)."""
    batch, size = [], 0
    for item in lines:
        length = len(item[1])
        if batch and (len(batch) >= MAX_LINES or size + 1 + length > MAX_CHARS):
            yield batch
            batch, size = [], 0
        size += length + (1 if batch else 0)
        batch.append(item)
    if batch:
        yield batch

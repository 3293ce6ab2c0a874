"""Following a change feed, in memory: how often the poller reads (the interval, a share of the
target's rate limit, backoff), when it gives up on the feed for a full sync, and the config
defaults that follow from having a feed."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import yaml

from bot.config import parse_config
from bot.domain.events import ChangeFeedGap
from bot.feed_poller import MAX_BACKOFF, RETENTION, FeedPoller
from bot.ports import ShiftedClock
from bot.slack.audit_lines import format_line
from connectors.base import FeedGapError, TransientError
from connectors.changes import ChangePage, MembershipAdded
from storage.tables import AuditRow, FeedCursorRow
from tests.support.config import offline_config_text

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)


class Cursors:
    """FeedCursors in memory: one cursor, leased to whoever asks."""

    def __init__(self, read_through: datetime | None) -> None:
        self.row = None if read_through is None else FeedCursorRow(
            connector_id="okta", position="p0", read_through=read_through, version=3)
        self.released = 0

    def take(self, connector_id, holder, now, lease_until):
        return self.row

    def get(self, connector_id):
        return self.row

    def release(self, connector_id, holder):
        self.released += 1


class Feed:
    feed_name = "System Log"

    def __init__(self, *answers) -> None:
        self.answers, self.asked = list(answers), []

    def read_changes(self, position, since):
        self.asked.append((position, since))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Catalog:
    def __init__(self) -> None:
        self.applied = []

    def apply(self, connector_id, changes, step):
        self.applied.append((changes, step))
        return True


def poller(feed: Feed, cursors: Cursors, every: float = 20.0, resync=lambda cid: "synced"):
    audited = []
    lifecycle = SimpleNamespace(queries=SimpleNamespace(on_pairs=lambda *args: []), catalog=None,
                                audit=SimpleNamespace(append=lambda event, at: audited.append(event)))
    clock = ShiftedClock()
    clock.offset = NOW - datetime.now(UTC)
    found = FeedPoller("okta", feed, Catalog(), cursors, lifecycle, clock, every, resync)  # type: ignore[arg-type]
    return found, audited


def page(limit: int | None = 120, caught_up: bool = True, changes=()) -> ChangePage:
    return ChangePage(list(changes), "p1", newest=NOW, caught_up=caught_up, limit_per_minute=limit)


def test_reads_stay_within_two_percent_of_the_logs_rate_limit():
    """Given Okta allows 120 log reads a minute, then reads come every 27.5 s (2% with 10%
    headroom) although the interval is 20 s; with ten times the limit, every 20 s."""
    found, _ = poller(Feed(page(limit=120), page(limit=1200)), Cursors(NOW))
    assert found.next_read_in() == 20
    found.poll_once()
    assert found.next_read_in() == pytest.approx(27.5)
    found.poll_once()
    assert found.next_read_in() == 20


def test_failed_reads_back_off_doubling_then_one_success_resets():
    outage = TransientError("Okta GET /api/v1/logs answered 500")
    found, audited = poller(Feed(*[outage] * 6, page()), Cursors(NOW))
    waits = []
    for _ in range(6):
        assert found.poll_once() == 0
        waits.append(found.next_read_in())
    assert waits == [40, 80, 160, MAX_BACKOFF, MAX_BACKOFF, MAX_BACKOFF] and audited == []
    found.poll_once()
    assert found.next_read_in() == pytest.approx(27.5)


def test_a_page_applies_with_the_cursor_and_reads_on_while_the_feed_has_more():
    cursors = Cursors(NOW - timedelta(minutes=5))
    added = MembershipAdded("group:g:member", "u")
    found, _ = poller(Feed(page(caught_up=False, changes=[added]), page()), cursors)
    assert found.poll_once() == 1  # more to read: the loop reads again at once
    changes, step = found._catalog.applied[0]
    assert changes == [added] and (step.version, step.position, step.read_through) == (3, "p1", NOW)
    assert found.poll_once() == 0


def test_nothing_is_read_before_the_first_full_sync_wrote_the_cursor():
    feed = Feed()
    found, _ = poller(feed, Cursors(None))
    assert found.poll_once() == 0 and feed.asked == []
    assert found.lag_seconds() == 0


@pytest.mark.parametrize("cursors, feed, why", [
    (Cursors(NOW - RETENTION - timedelta(hours=1)), Feed(), "longer ago than the 90 days"),
    (Cursors(NOW), Feed(FeedGapError("Okta refused to read the System Log on")), "refused"),
])
def test_a_gap_is_replaced_by_a_full_sync_and_said(cursors, feed, why):
    """Given a cursor older than the log keeps, or one Okta refuses, then a full sync runs and
    a ChangeFeedGap is audited saying why; its audit-channel line says "System Log gap: full
    sync"."""
    synced = []
    found, audited = poller(feed, cursors, resync=synced.append)
    assert found.poll_once() == 0
    [gap] = audited
    assert isinstance(gap, ChangeFeedGap) and (gap.connector, gap.feed) == ("okta", "System Log")
    assert why in gap.reason and synced == ["okta"]
    row = AuditRow(at=NOW, actor="latchkey", action=gap.action, detail=json.dumps(gap.detail()))
    assert "ran a full sync of okta · System Log gap: full sync · reason: " in format_line(row)


def test_a_failed_full_sync_after_a_gap_frees_the_lease_and_backs_off():
    cursors = Cursors(NOW - RETENTION - timedelta(days=1))
    found, _ = poller(Feed(), cursors, resync=lambda cid: None)
    found.poll_once()
    assert cursors.released == 1 and found.next_read_in() == 40


def test_the_lag_is_now_minus_how_far_the_feed_was_applied():
    found, _ = poller(Feed(), Cursors(NOW - timedelta(minutes=12)))
    assert found.lag_seconds() == pytest.approx(720, abs=1)


# -- config ---------------------------------------------------------------------------------
def okta_entry(**keys):
    data = yaml.safe_load(offline_config_text(["U0ALICE"], durations=["1h"], max_duration="1h"))
    data["connectors"]["okta"].update(keys)
    return parse_config(yaml.safe_dump(data)).connectors["okta"]


def test_okta_polls_its_system_log_every_20_s_and_syncs_in_full_daily_by_default():
    okta = okta_entry()
    assert okta.change_feed_interval() == 20 and okta.sync_interval == timedelta(days=1)


def test_without_the_system_log_okta_syncs_every_15_minutes_unless_told():
    assert okta_entry(log_poll_interval=0).sync_interval == timedelta(minutes=15)
    assert okta_entry(log_poll_interval=0, sync_interval="1h").sync_interval == timedelta(hours=1)
    assert okta_entry(sync_interval="6h").sync_interval == timedelta(hours=6)

"""The review report's formats, in memory: what CSV, JSON and the HTML page say of each item,
and what they refuse to let user text do (formulas, markup, secrets)."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.domain.reviews import (
    Campaign,
    CampaignSummary,
    OnNoDecision,
    Report,
    ReviewDecision,
    ReviewItem,
    progress,
)
from bot.review_report import ReportFormat, write

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
CAMPAIGN = Campaign("c0ffee", "okta-quarterly", START, START + timedelta(days=7),
                    on_no_decision=OnNoDecision.REVOKE)


def item(item_id: str, holder_email: str = "carol@acme.com", **fields) -> ReviewItem:
    base = ReviewItem(item_id, CAMPAIGN.id, "okta", "00g1", "eng-admins", "00u1", holder_email,
                      "U0CAROL", "U0ALICE")
    return replace(base, **fields)


def kept(item_id: str, days: int, **fields) -> ReviewItem:
    return item(item_id, **{"decision": ReviewDecision.KEEP, "decided_by": "U0ALICE",
                            "decided_at": START + timedelta(days=days), **fields})


def revoked(item_id: str, days: int, **fields) -> ReviewItem:
    return item(item_id, **{"decision": ReviewDecision.REVOKE, "decided_by": "U0ALICE",
                            "decided_at": START + timedelta(days=days), "reason": "left the team", **fields})


def report(*items: ReviewItem, now: datetime = START + timedelta(days=3)) -> Report:
    return Report(CAMPAIGN, list(items), CampaignSummary.of(CAMPAIGN, items, now), progress(CAMPAIGN, items))


def rendered(a_report: Report, fmt: ReportFormat) -> str:
    out = io.StringIO()
    write(a_report, out, fmt, START + timedelta(days=3))
    return out.getvalue()


def csv_rows(a_report: Report) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(rendered(a_report, ReportFormat.CSV))))


def test_csv_has_a_header_and_a_row_per_item_with_just_in_time_access_last():
    """Given a kept, a revoked (verified), an undecided and a just-in-time item, then the CSV
    has one row each, reviewed ones first, saying who decided, when, why and when the removal
    was verified."""
    rows = csv_rows(report(item("jit", just_in_time=True, reviewer=""), kept("k", 1, reason="on call"),
                           revoked("r", 2, revoked_at=START + timedelta(days=2, minutes=3)), item("u")))
    assert [row["id"] for row in rows] == ["k", "r", "u", "jit"]  # the order: by holder, then id
    by_id = {row["id"]: row for row in rows}
    assert {k: by_id["r"][k] for k in ("decision", "decided_by", "decided_at", "reason", "removal",
                                       "revoked_at")} == {
        "decision": "revoke", "decided_by": "U0ALICE", "decided_at": "2026-12-03T09:00:00+00:00",
        "reason": "left the team", "removal": "verified", "revoked_at": "2026-12-03T09:03:00+00:00"}
    assert (by_id["k"]["decision"], by_id["k"]["reason"], by_id["k"]["removal"]) == ("keep", "on call", "")
    assert (by_id["u"]["decision"], by_id["u"]["decided_at"]) == ("", "")
    assert (by_id["jit"]["just_in_time"], by_id["u"]["just_in_time"]) == ("true", "false")
    assert {row["campaign"] for row in rows} == {"okta-quarterly"}  # files of campaigns concatenate


def test_csv_cells_that_a_spreadsheet_would_run_start_with_an_apostrophe():
    """Given user text starting with = + - @ (or a tab), then each such cell is text to a
    spreadsheet; text that merely contains them is untouched."""
    formulas = ["=HYPERLINK(\"http://evil\")", "+1+1", "-2+3", "@SUM(A1)", "\tcmd"]
    rows = csv_rows(report(*(revoked(f"r{n}", 1, reason=text, holder_email=text)
                             for n, text in enumerate(formulas)), kept("k", 1, reason="a=b, c+d")))
    by_id = {row["id"]: row for row in rows}
    for n, text in enumerate(formulas):
        assert by_id[f"r{n}"]["reason"] == by_id[f"r{n}"]["holder_email"] == "'" + text
    assert by_id["k"]["reason"] == "a=b, c+d"


def test_json_is_stable_with_iso_times_the_summary_and_just_in_time_apart():
    """Given the same report written twice, then the JSON is byte for byte the same, its keys
    sorted, every time ISO 8601 in UTC, and the summary
    counts what the items say."""
    a_report = report(kept("k", 1), revoked("r", 2), item("u"),
                      item("jit", just_in_time=True, reviewer=""), now=CAMPAIGN.due_at + timedelta(hours=1))
    text = rendered(a_report, ReportFormat.JSON)
    assert text == rendered(a_report, ReportFormat.JSON)
    document = json.loads(text)
    assert list(document) == sorted(document) and list(document["items"][0]) == sorted(document["items"][0])
    assert document["summary"] == {"items": 3, "decided": 2, "kept": 1, "revoked": 1, "overdue": 1,
                                   "just_in_time": 1}
    assert [i["id"] for i in document["items"]] == ["k", "r", "u"]
    assert [i["id"] for i in document["just_in_time"]] == ["jit"]
    assert document["items"][0]["decided_at"] == "2026-12-02T09:00:00+00:00"
    assert document["items"][1]["removal"] == "pending" and document["items"][1]["revoked_at"] is None
    assert document["campaign"] == {"id": "c0ffee", "name": "okta-quarterly", "on_no_decision": "revoke",
                                    "started_at": "2026-12-01T09:00:00+00:00",
                                    "due_at": "2026-12-08T09:00:00+00:00", "closed_at": None,
                                    "escalated_at": None}
    assert document["progress"] == [{"at": "2026-12-01T09:00:00+00:00", "decided": 0},
                                    {"at": "2026-12-02T09:00:00+00:00", "decided": 1},
                                    {"at": "2026-12-03T09:00:00+00:00", "decided": 2}]


def test_a_removal_still_failing_says_so():
    rows = csv_rows(report(revoked("r", 1, revoke_failing=True)))
    assert (rows[0]["removal"], rows[0]["revoked_at"]) == ("failing, still retried", "")


def test_a_secret_pasted_into_a_reason_is_masked_in_every_format():
    secret = "api_key=sk_live_abcdef123456"
    a_report = report(revoked("r", 1, reason=f"found {secret} in the wiki"))
    for fmt in ReportFormat:
        text = rendered(a_report, fmt)
        assert "sk_live_abcdef123456" not in text and "[redacted]" in text, fmt


def test_the_page_escapes_user_text_and_loads_nothing_from_elsewhere():
    """Given a holder, an entitlement and a reason full of markup, then the page holds them as
    text only, and references no script, style sheet, font or image anywhere."""
    markup = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    page = rendered(report(revoked("r", 1, reason=markup, holder_email=markup + "@acme.com",
                                   entitlement_name=markup)), ReportFormat.HTML)
    assert "<script" not in page and "<img" not in page and "onerror=alert(2)>" not in page
    assert page.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 3
    tags = re.findall(r"<[a-zA-Z][^>]*>", page)
    assert not [tag for tag in tags if re.search(r"(?i)\s(src|href)=|^<(link|script|img|iframe)", tag)]
    assert not re.search(r"(?i)@import|url\(", page)
    assert "default-src 'none'" in page  # and the browser would refuse anything that slipped through


def test_the_chart_has_a_dot_per_moment_something_was_decided_inside_its_frame():
    a_report = report(kept("a", 1), kept("b", 1), revoked("c", 2), item("u"))
    page = rendered(a_report, ReportFormat.HTML)
    dots = re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', page)
    assert len(dots) == len(a_report.progress) == 3  # the start, day 1 (two at once), day 2
    width, height = map(int, re.search(r'viewBox="0 0 (\d+) (\d+)"', page).groups())
    assert all(0 <= float(x) <= width and 0 <= float(y) <= height for x, y in dots)
    ys = [float(y) for _, y in dots]
    assert ys == sorted(ys, reverse=True) and ys[0] > ys[-1]  # climbing: 0, 2, then 3 of 4


def test_the_chart_of_a_large_campaign_keeps_one_dot_per_pixel_column_ending_at_the_total():
    """Given 50,000 decisions a few seconds apart, then the chart draws at most one dot per
    pixel column of its width, and its last dot stands at the final count."""
    many = [kept(f"i{n}", 0, decided_at=START + timedelta(seconds=5 * n)) for n in range(50_000)]
    page = rendered(report(*many), ReportFormat.HTML)
    dots = re.findall(r'<circle class="point" cx="([\d.]+)" cy="([\d.]+)"', page)
    width = int(re.search(r'viewBox="0 0 (\d+)', page).group(1))
    assert 1 < len(dots) <= width
    assert "50000 decided</title></circle></svg>" in page  # the last dot: all of them

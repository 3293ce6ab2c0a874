"""The review report as an auditor gets it: the page opened in a real browser (Debian's
Chromium, headless), and what it shows."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

from selenium.webdriver.common.by import By

from bot.domain.reviews import Campaign, CampaignSummary, Report, ReviewDecision, ReviewItem, progress
from bot.review_report import ReportFormat, write
from tests.support.browser import chromium, open_page

START = datetime(2026, 12, 1, 9, tzinfo=UTC)
CAMPAIGN = Campaign("c0ffee", "okta <quarterly>", START, START + timedelta(days=7))
# A holder whose email a target let through with markup: it must show as text and run nothing.
HOSTILE = ("<script>window.pwned = 1; document.title = 'pwned'</script>"
           "<img src=x onerror=\"window.pwned = 2\">@acme.com")


def decided(item_id: str, email: str, decision: ReviewDecision, days: int, reason: str) -> ReviewItem:
    return ReviewItem(item_id, CAMPAIGN.id, "okta", "00g1", "eng-admins", f"00u{item_id}", email, None,
                      "U0ALICE", decision, "U0ALICE", START + timedelta(days=days), reason,
                      revoked_at=START + timedelta(days=days, minutes=2) if decision is ReviewDecision.REVOKE
                      else None)


def cells(row) -> list[str]:
    return [cell.text for cell in row.find_elements(By.TAG_NAME, "td")]


def test_the_page_shows_the_items_the_summary_and_the_chart_and_runs_no_user_text(tmp_path):
    """Given a campaign with a kept, a revoked, an undecided and a just-in-time item, one holder's
    email full of markup, when the page is opened in Chromium, then the tables show each item
    as text, the summary shows the counts, the chart is drawn with a dot per moment of decision,
    and the markup ran nothing."""
    items = [decided("1", "carol@acme.com", ReviewDecision.KEEP, 1, "still on call"),
             decided("2", HOSTILE, ReviewDecision.REVOKE, 2, "left <b>the</b> team"),
             ReviewItem("3", CAMPAIGN.id, "celigo", "7", "billing flow", "9", "dave@acme.com", "U0DAVE", "U0BOB"),
             ReviewItem("4", CAMPAIGN.id, "okta", "00g2", "ops", "00u1", "carol@acme.com", "U0CAROL", "",
                        just_in_time=True)]
    report = Report(CAMPAIGN, items, CampaignSummary.of(CAMPAIGN, items, START + timedelta(days=3)),
                    progress(CAMPAIGN, items))
    page = io.StringIO()
    write(report, page, ReportFormat.HTML, START + timedelta(days=3))
    with chromium() as browser:
        open_page(browser, page.getvalue(), tmp_path)

        assert browser.title == "Access review: okta <quarterly>"
        assert browser.execute_script("return window.pwned") is None
        rows = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr")
        assert [cells(row) for row in rows] == [
            ["dave@acme.com (U0DAVE)", "billing flow (celigo)", "U0BOB", "undecided", "", "", "", ""],
            [HOSTILE, "eng-admins (okta)", "U0ALICE", "revoke", "U0ALICE", "2026-12-03 09:00 UTC",
             "left <b>the</b> team", "2026-12-03 09:02 UTC"],
            ["carol@acme.com", "eng-admins (okta)", "U0ALICE", "keep", "U0ALICE", "2026-12-02 09:00 UTC",
             "still on call", ""]]
        assert [cells(row) for row in browser.find_elements(By.CSS_SELECTOR, "#just-in-time tbody tr")] == [
            ["carol@acme.com (U0CAROL)", "ops (okta)", "00u1"]]
        summary = {key: browser.find_element(By.CSS_SELECTOR, f"#summary-{key} .number").text
                   for key in ("items", "decided", "kept", "revoked", "overdue", "just-in-time")}
        assert summary == {"items": "3", "decided": "2", "kept": "1", "revoked": "1", "overdue": "0",
                           "just-in-time": "1"}

        chart = browser.find_element(By.ID, "progress-chart")
        assert chart.is_displayed() and chart.size["width"] > 0 and chart.size["height"] > 0
        dots = chart.find_elements(By.CSS_SELECTOR, "circle.point")
        assert len(dots) == len(report.progress) == 3  # the start, then one per day with a decision
        assert all(dot.is_displayed() and dot.size["width"] > 0 for dot in dots)
        heights = [dot.location["y"] for dot in dots]
        assert heights == sorted(heights, reverse=True) and heights[0] > heights[-1]  # climbing

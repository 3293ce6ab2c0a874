"""The review report as an auditor gets it: `latchkey review report` in each format, matching
the decisions made, and the page opened in a real browser (Debian's Chromium, headless)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from typer.testing import CliRunner

from bot.cli import cli
from bot.domain.events import SYSTEM
from bot.domain.reviews import (
    NO_DECISION,
    Campaign,
    CampaignSummary,
    Report,
    ReviewDecision,
    ReviewItem,
    progress,
)
from bot.review_report import ReportFormat, write
from tests.support.browser import chromium, open_page
from tests.support.cli import serve_env
from tests.support.config import config_text
from tests.support.harness import BOB, BOT_TOKEN, OKTA_TOKEN, SIGNING_SECRET, soon
from tests.support.requests import active_request


def when(moment: datetime | None) -> str:
    """A time as the page shows it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if moment else ""


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


REVIEW = {"name": "okta-groups", "scope": [{"connector": "okta"}], "reviewers": ["owners"],
          "fallback": ["alice@acme.com", BOB], "due_in": "7d", "on_no_decision": "keep"}


def test_the_report_in_every_format_matches_the_decisions_made(make_bot, okta, slack, clock, tmp_path):
    """Given a review of the Okta groups where a reviewer keeps one holding, revokes another with a
    reason (taken out of Okta and read back) and leaves a third to the due date (kept, no
    decision), and Carol's access granted just in time, when `latchkey review report` writes CSV,
    JSON and HTML, then every row of each says exactly what was decided, by whom, when and why,
    the just-in-time access is listed apart, and the page in Chromium shows it."""
    ids = okta.ids
    okta.add_member(ids["eng-admins"], ids["dave@acme.com"])
    okta.add_member(ids["billing-admins"], ids["dave@acme.com"])
    bot = make_bot(reviews=[REVIEW]).start()
    just_in_time = active_request(bot, slack)  # Carol's eng-admins, for an hour
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("okta-groups")
    items = {(i.holder_email, i.entitlement_name): i for i in reviews.report(campaign.id).items}
    assert set(items) == {("carol@acme.com", "prod-readers"), ("dave@acme.com", "eng-admins"),
                          ("dave@acme.com", "billing-admins"), ("carol@acme.com", "eng-admins")}
    keep, revoke, silent, granted = (items["carol@acme.com", "prod-readers"], items["dave@acme.com", "eng-admins"],
                                     items["dave@acme.com", "billing-admins"], items["carol@acme.com", "eng-admins"])
    assert granted.just_in_time and just_in_time.state == "active"

    kept = reviews.decide(keep.id, keep.reviewer, ReviewDecision.KEEP)
    revoked = reviews.decide(revoke.id, revoke.reviewer, ReviewDecision.REVOKE, "moved to sales")
    soon(lambda: reviews.item(revoke.id).revoked_at)
    assert ids["dave@acme.com"] not in okta.members(ids["eng-admins"])  # really gone from Okta
    clock.advance(timedelta(days=7, minutes=1))
    reviews.run_due()
    closed = reviews.item(silent.id)
    assert (closed.decision, closed.decided_by, closed.reason) == (ReviewDecision.KEEP, SYSTEM, NO_DECISION)

    removed_at = reviews.item(revoke.id).revoked_at
    expected = {  # id: holder, entitlement, decision, decided by, decided at, reason, verified removal
        keep.id: ("carol@acme.com", "prod-readers", "keep", keep.reviewer, kept.decided_at, None, None),
        revoke.id: ("dave@acme.com", "eng-admins", "revoke", revoke.reviewer, revoked.decided_at,
                    "moved to sales", removed_at),
        silent.id: ("dave@acme.com", "billing-admins", "keep", SYSTEM, closed.decided_at, NO_DECISION, None)}
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET,
           "SLACK_API_URL": slack.url + "/api/", "DATABASE_URL": bot.settings.database_url,
           "LATCHKEY_CONFIG": str(bot.settings.latchkey_config), "OKTA_API_TOKEN": OKTA_TOKEN}

    def report(fmt: str) -> str:  # the command itself, in this process (a new one imports for seconds)
        result = CliRunner().invoke(cli, ["review", "report", "okta-groups", "--format", fmt], env=env)
        assert result.exit_code == 0, result.stderr
        assert "3 items: 3 decided (2 kept, 1 revoked), 1 overdue; 1 just in time" in result.stderr
        return result.stdout

    def iso(moment: datetime | None) -> str | None:
        return moment.isoformat() if moment else None

    def fields(record: dict) -> tuple:
        return tuple(record[key] or None for key in ("holder_email", "entitlement_name", "decision",
                                                     "decided_by", "decided_at", "reason", "revoked_at"))

    as_written = {i: (who, what, d, by, iso(at), why, iso(gone))
                  for i, (who, what, d, by, at, why, gone) in expected.items()}
    rows = list(csv.DictReader(io.StringIO(report("csv"))))
    assert {r["id"]: fields(r) for r in rows if r["just_in_time"] == "false"} == as_written
    assert [r["id"] for r in rows if r["just_in_time"] == "true"] == [granted.id]
    document = json.loads(report("json"))
    assert {i["id"]: fields(i) for i in document["items"]} == as_written
    assert [i["id"] for i in document["just_in_time"]] == [granted.id]
    assert document["summary"] == {"items": 3, "decided": 3, "kept": 2, "revoked": 1, "overdue": 1,
                                   "just_in_time": 1}
    with chromium() as browser:
        open_page(browser, report("html"), tmp_path)
        rows = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr")
        shown = {row.get_attribute("data-item"): cells(row) for row in rows}
        assert {i: (c[0].split(" (")[0], c[1], *c[3:]) for i, c in shown.items()} == {
            i: (who, f"{what} (okta)", d, by, when(at), why or "", when(gone))
            for i, (who, what, d, by, at, why, gone) in expected.items()}
        exact = {row.get_attribute("data-item"): [t.get_attribute("datetime") for t in
                                                  row.find_elements(By.TAG_NAME, "time")] for row in rows}
        assert exact == {i: [iso(at), *([iso(gone)] if gone else [])]  # to the microsecond, as stored
                         for i, (_, _, _, _, at, _, gone) in expected.items()}
        assert [row.get_attribute("data-item") for row in
                browser.find_elements(By.CSS_SELECTOR, "#just-in-time tbody tr")] == [granted.id]
        assert browser.find_element(By.CSS_SELECTOR, "#summary-decided .number").text == "3"
        # The start and the two decisions, a moment apart, share a pixel column: one dot; the
        # due date's decision another, at the top.
        dots = browser.find_elements(By.CSS_SELECTOR, "#progress-chart circle.point")
        assert [dot.get_attribute("textContent").split(": ")[1] for dot in dots] == ["2 decided", "3 decided"]


def test_a_report_of_no_such_review_exits_2_and_an_unreachable_database_1(tmp_path, slack, okta):
    """`latchkey review report` of a review never started, or in a format it does not write, says
    so and exits 2 (bad usage); with the database down it says why, without the password, and
    exits 1; none of them writes a report."""
    env = serve_env(tmp_path, slack.url, config_text(okta.url, reviews=[REVIEW]))
    result = CliRunner().invoke(cli, ["db", "upgrade"], env=env)
    assert result.exit_code == 0, result.stderr
    result = CliRunner().invoke(cli, ["review", "report", "okta-groups"], env=env)
    assert (result.exit_code, result.stdout) == (2, "")
    assert "latchkey: No access review okta-groups has been started." in result.stderr
    result = CliRunner().invoke(cli, ["review", "report", "okta-groups", "--format", "pdf"], env=env)
    said = " ".join(re.sub("[│╭╮╰╯─]", " ", result.stderr).split())  # without typer's box
    assert (result.exit_code, result.stdout) == (2, "") and "'pdf' is not one of 'csv', 'json', 'html'" in said

    down = {**env, "DATABASE_URL": "postgresql+psycopg://latchkey:hunter2@127.0.0.1:9/latchkey"}
    result = CliRunner().invoke(cli, ["review", "report", "okta-groups", "--format", "html"], env=down)
    assert (result.exit_code, result.stdout) == (1, "")
    assert "latchkey: database:" in result.stderr and "hunter2" not in result.stderr


def test_a_machine_without_chromium_fails_the_browser_tests_saying_how_to_install_it(monkeypatch):
    """The page's checks never skip: without the browser they fail, naming the packages."""
    monkeypatch.setattr("tests.support.browser.CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium chromium-driver"), chromium():
        pass

"""Two replicas on one PostgreSQL database, both running the scheduler: a scheduled access
review starts once, a start asked of both at the same moment starts once, and a revoke
removes the access once, counted at the Okta sandbox.  Skipped, saying why, when no
PostgreSQL server answers (tests/support/postgres.py)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from bot.config import parse_config
from bot.domain.reviews import ReviewDecision
from storage.audit_log import AuditLog
from tests.support.config import config_text
from tests.support.harness import DAVE, ERIN, Bot, make_settings, soon
from tests.support.postgres import throwaway_database

pytestmark = pytest.mark.timeout(180)

REVIEWS = [{"name": "scheduled", "schedule": {"every": "90d"}, "scope": [{"connector": "okta"}],
            "reviewers": ["owners"], "fallback": [DAVE, ERIN]},
           {"name": "by-hand", "scope": [{"connector": "okta", "resource": "prod-*"}],
            "reviewers": ["owners"], "fallback": [DAVE, ERIN]}]


@pytest.fixture
def replicas(tmp_path, okta, slack, clock, monkeypatch):
    monkeypatch.setenv("OKTA_API_TOKEN", "okta-test-token")
    text = config_text(okta.url, reviews=REVIEWS)
    (tmp_path / "latchkey.yaml").write_text(text)
    with throwaway_database() as url:
        settings = make_settings(tmp_path, slack.url).model_copy(update={"database_url": url})
        bots = [Bot(settings, parse_config(text), clock, slack) for _ in range(2)]
        try:
            for bot in bots:
                bot.start()
            yield bots
        finally:
            for bot in bots:
                bot.stop()


def test_two_replicas_start_a_review_once_and_revoke_once(replicas, okta):
    first, second = replicas
    # The scheduled review never ran: both replicas' schedulers start it at start-up.
    soon(lambda: first.service.lifecycle.reviews.campaigns())
    with ThreadPoolExecutor(2) as pool:
        started = list(pool.map(lambda bot: bot.service.lifecycle.reviews.start("by-hand"), replicas))
    assert started[0].id == started[1].id
    reviews = first.service.lifecycle.reviews
    assert sorted(c.name for c in reviews.campaigns(open_only=False)) == ["by-hand", "scheduled"]
    audit = AuditLog(first.service.engine)
    assert [row.action for row in audit.stream(datetime(2000, 1, 1, tzinfo=UTC))].count("review_started") == 2

    item, = reviews.report("by-hand").items  # Carol's prod-readers
    second.service.lifecycle.reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "moved to sales")
    soon(lambda: reviews.item(item.id).revoked_at is not None)
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["prod-readers"])
    assert len([c for c in okta.membership_writes() if c.method == "DELETE"]) == 1

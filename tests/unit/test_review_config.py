"""The `reviews:` section is checked when the file is loaded, each problem named by its key."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ConfigError, parse_config
from bot.domain.review_spec import Schedule
from bot.domain.reviews import OnNoDecision
from bot.domain.rules import Match
from tests.support.config import as_yaml

OKTA = {"type": "okta", "domain": "acme.okta.com", "token": "t0ken", "owners": ["alice@acme.com"]}
POLICY = {"durations": ["1h"], "max_duration": "1h"}


def load(**review):
    entry = {"name": "q1", "scope": [{"connector": "okta"}], "reviewers": ["owners"],
             "fallback": ["U0DAVE", "U0ERIN"], **review}
    return parse_config(as_yaml({"connectors": {"okta": OKTA}, "policy": POLICY, "reviews": [entry]}))


def test_a_review_reads_into_its_campaign():
    spec, = load(schedule="0 9 1 */3 *", reviewers=["manager", "owners", "@auditors"],
                 scope=[{"connector": "okta", "type": "group", "resource": "prod-*"}],
                 on_no_decision="escalate", due_in="7d", remind_every=None).campaigns()
    assert spec.scope == (Match("okta", "group", "prod-*"),)
    assert (spec.reviewers, spec.on_no_decision, spec.due_in, spec.remind_every) == (
        ("manager", "owners", "@auditors"), OnNoDecision.ESCALATE, timedelta(days=7), None)
    assert spec.schedule.next_after(datetime(2026, 12, 6, tzinfo=UTC)) == datetime(2027, 1, 1, 9, tzinfo=UTC)
    every, = load(schedule={"every": "90d"}).campaigns()
    assert every.schedule == Schedule(every=timedelta(days=90))


@pytest.mark.parametrize("review, message", [
    ({"reviewers": ["owners", "bob"]}, "reviews.0.reviewers: 'bob' is neither a Slack user id"),
    ({"reviewers": ["owners", "owners"]}, "a reviewer is listed twice"),
    ({"fallback": ["U0DAVE"]}, "name at least two people or a user group"),
    ({"schedule": "0 25 * * *"}, "reviews.0.schedule: '0 25 * * *' is not a cron expression"),
    ({"scope": [{"connector": "celigo"}]}, "scope connector 'celigo' matches no connector"),
    ({"scope": []}, "reviews.0.scope: List should have at least 1 item"),
    ({"on_no_decision": "maybe"}, "reviews.0.on_no_decision: Input should be 'keep', 'revoke' or 'escalate'"),
    ({"due_in": "2w"}, "reviews.0.due_in: '2w' is not a duration"),
    ({"name": "Q1 review"}, "reviews.0.name: String should match pattern"),
])
def test_a_review_that_cannot_work_is_refused_naming_the_key(review, message):
    with pytest.raises(ConfigError, match=message.replace("*", r"\*").replace("(", r"\(").replace(")", r"\)")):
        load(**review)


def test_two_reviews_of_one_name_are_refused():
    entry = {"name": "q1", "scope": [{}], "reviewers": ["owners"], "fallback": ["@auditors"]}
    with pytest.raises(ConfigError, match="review names must be unique: q1"):
        parse_config(as_yaml({"connectors": {"okta": OKTA}, "policy": POLICY, "reviews": [entry, entry]}))

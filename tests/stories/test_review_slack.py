"""Access reviews in Slack: each reviewer's one DM per campaign, the paginated review modal
(Keep, Revoke with a required reason, Keep all on this page, Previous / Next), refusals where the
person clicked, and the Home tab's progress, over real HTTP against the Slack and Okta sandboxes."""

from __future__ import annotations

import pytest

from bot.config import parse_config
from sandbox import blockkit
from tests.support.config import as_yaml, config_data
from tests.support.harness import ALICE, BOB, CAROL, DAVE, eventually
from tests.support.slack import texts

QUARTERLY = {"name": "quarterly", "scope": [{"connector": "okta", "type": "group"}],
             "reviewers": ["owners"], "fallback": [BOB, DAVE], "due_in": "7d"}


@pytest.fixture
def review_bot(make_bot, okta):
    """A bot whose Okta owner is Alice alone, with the `quarterly` review of every Okta group
    (Bob and Dave review Alice's own access)."""
    def build(**review):
        bot = make_bot()
        text = as_yaml({**config_data(okta.url, owners=("alice@acme.com",)),
                        "reviews": [{**QUARTERLY, **review}]})
        bot.settings.latchkey_config.write_text(text)
        bot.config = parse_config(text)
        return bot.start()
    return build


def review_dms(slack, user) -> list[dict]:
    return [m for m in slack.dm(user) if "'review_open'" in str(m.get("blocks"))]


def open_review(slack, user=ALICE) -> dict:
    slack.click(user, "review_open")
    return eventually(lambda: slack.open_view(user))


def test_a_reviewer_gets_one_dm_and_keeps_a_holding(review_bot, slack, okta):
    """Given the campaign started (twice: a second start opens nothing), then Alice gets exactly
    one DM naming how many people hold what and by when; Open review lists Carol's prod-readers
    with Keep / Revoke; Keep records her decision, redraws the row as kept by her, and leaves
    the membership in Okta."""
    bot = review_bot()
    reviews = bot.service.lifecycle.reviews
    campaign = reviews.start("quarterly")
    assert reviews.start("quarterly").id == campaign.id
    dm, = eventually(lambda: review_dms(slack, ALICE))
    assert "quarterly" in texts([dm]) and "1 holding of 1 person" in texts([dm]) and "prod-readers" in texts([dm])

    modal = open_review(slack)
    assert not blockkit.view_problems(modal, "modal")
    assert "carol@acme.com" in texts([modal]) or f"<@{CAROL}>" in texts([modal])
    slack.click(ALICE, "review_keep")
    eventually(lambda: "Kept by" in texts([slack.open_view(ALICE)]))
    item, = reviews.items(campaign.id, ALICE)[0]
    assert (item.decision, item.decided_by) == ("keep", ALICE)
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["prod-readers"])
    assert len(review_dms(slack, ALICE)) == 1

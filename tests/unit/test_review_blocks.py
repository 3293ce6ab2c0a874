"""The review views, drawn without Slack: every page Slack would accept, whatever the names
and however many holdings; user text escaped; the Home tab within its 100 blocks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.domain.request import State
from bot.domain.reviews import Campaign, ReviewDecision, ReviewerWork, ReviewItem
from bot.slack import blocks, review_blocks
from sandbox import blockkit
from tests.support.in_memory import request

NOW = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)
CAMPAIGN = Campaign(id="c0ffee000001", name="quarterly", started_at=NOW, due_at=NOW + timedelta(days=14))
HOSTILE = "<!channel> *admins* & <https://evil.example|click>" + "x" * 400


def item(n: int, **changes) -> ReviewItem:
    fields = dict(id=f"{n:012x}", campaign_id=CAMPAIGN.id, connector_id="okta",
                  entitlement_id=f"group:{n}:member", entitlement_name=f"{HOSTILE} {n}",
                  account_id=f"00u{n}", holder_email=f"holder{n}@acme.com", holder=None, reviewer="U0ALICE")
    return ReviewItem(**{**fields, **changes})


def pages_of(items: list[ReviewItem]) -> list[dict]:
    per = review_blocks.ROWS_PER_PAGE
    pages = max(1, -(-len(items) // per))
    return [review_blocks.review_page(CAMPAIGN, items[i * per:(i + 1) * per], i + 1, pages, notice="x" * 5000)
            for i in range(pages)]


def test_every_page_of_120_holdings_is_a_view_slack_accepts():
    """120 holdings, half decided (a long reason each), make pages of at most 100 blocks that
    Slack accepts, with unique block ids, showing each holding once."""
    items = [item(n, decision=ReviewDecision.REVOKE, decided_by="U0ALICE", decided_at=NOW,
                  reason=HOSTILE * 10) if n % 2 else item(n) for n in range(120)]
    shown = []
    for view in pages_of(items):
        assert blockkit.view_problems(view, "modal") == [] and not blockkit.view_too_large(view)
        shown += [b["block_id"] for b in view["blocks"] if b.get("block_id", "").startswith("item-")]
    assert len(shown) == len(set(shown)) == 60  # an actions block per undecided holding
    assert sum(str(view["blocks"]).count("holds *") for view in pages_of(items)) == 120


def test_user_text_is_escaped_everywhere():
    """Names and reasons cannot ping @channel or forge links in the list, the DM or the form."""
    decided = item(1, decision=ReviewDecision.REVOKE, decided_by="U0ALICE", decided_at=NOW, reason=HOSTILE)
    drawn = str([review_blocks.review_page(CAMPAIGN, [item(0), decided], 1, 1),
                 review_blocks.review_dm(CAMPAIGN, [item(0)]), review_blocks.revoke_modal(item(0), review_blocks.Shown())])
    assert "<!channel>" not in drawn and "<https://evil" not in drawn and "&lt;!channel&gt;" in drawn


def test_the_buttons_say_only_ids_and_pages():
    """Keep and Revoke carry the item id; Keep all the page's undecided ids; Previous / Next the
    page to draw; the list carries its campaign and page for the next click."""
    view = review_blocks.review_page(CAMPAIGN, [item(0), item(1, decision=ReviewDecision.KEEP)], 2, 3)
    values = {(b["action_id"], b["value"]) for block in view["blocks"] if block["type"] == "actions"
              for b in block["elements"]}
    assert values == {("review_keep", item(0).id), ("review_revoke", item(0).id),
                      ("review_keep_page", item(0).id), ("review_previous", "1"), ("review_next", "3")}
    assert review_blocks.read_metadata(view) == (CAMPAIGN.id, 2, False, "")
    assert review_blocks.read_metadata({"private_metadata": "{not json"}) == review_blocks.Shown()
    form = review_blocks.revoke_modal(item(0), review_blocks.read_metadata(view))
    assert review_blocks.read_metadata(form) == (CAMPAIGN.id, 2, False, item(0).id)


def test_the_home_tab_stays_within_100_blocks_with_every_section_full():
    """A Home tab full of requests and approvals still has room for the reviews listed."""
    active = [request(f"group-{n}", State.ACTIVE, id=f"r{n}", expires_at=NOW + timedelta(hours=1))
              for n in range(40)]
    waiting = [request(f"group-{n}", id=f"w{n}") for n in range(40)]
    home = blocks.home(active, waiting, NOW)
    assert len(home["blocks"]) >= 80
    works = [ReviewerWork(CAMPAIGN, 3, 10)] * 9
    home["blocks"] += review_blocks.home_section(works)
    assert blockkit.view_problems(home, "home") == []
    assert str(home).count("review_open") == review_blocks.HOME_LISTED_AT_MOST


def test_the_dm_counts_people_and_names_the_first_entitlements():
    """The DM counts holdings and distinct holders, names ten entitlements and counts the rest,
    leaves out access granted just in time, and says when holdings were handed over."""
    items = [item(n, holder_email=f"holder{n % 3}@acme.com", entitlement_name=f"group-{n:02d}")
             for n in range(14)] + [item(99, just_in_time=True, reviewer="")]
    said = review_blocks.review_dm(CAMPAIGN, items)["text"]
    assert "14 holdings of 3 people" in said and "*group-09*" in said and "and 4 more" in said
    assert "group-10" not in said and "Nobody decided" not in said
    assert "Nobody decided these" in review_blocks.review_dm(CAMPAIGN, items[:1], escalated=True)["text"]

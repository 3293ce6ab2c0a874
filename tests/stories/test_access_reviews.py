"""Access reviews end to end: a campaign started with `latchkey review start` in its own
process against the running bot's database, reviewers told in Slack, and a revoke that really
removes the access in the target (the Okta and Celigo sandboxes), read back, retried and
alerted like any revocation."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from bot.domain.reviews import NO_DECISION, ReviewDecision
from sandbox.celigo import CeligoSandbox
from tests.support.cli import run
from tests.support.harness import ALICE, BOB, CAROL, DAVE, ERIN, MEMBERSHIP, OKTA_TOKEN, eventually, soon
from tests.support.slack import texts

OKTA_REVIEW = {"name": "okta-groups", "scope": [{"connector": "okta", "type": "group"}],
               "reviewers": ["owners"], "fallback": [DAVE, ERIN]}


def cli(bot, *args: str):
    """`latchkey ARGS` as a separate process, on the running bot's database and config file."""
    env = {"SLACK_BOT_TOKEN": "xoxb-test-token", "SLACK_SIGNING_SECRET": "test-signing-secret",
           "SLACK_API_URL": str(bot.settings.slack_api_url), "DATABASE_URL": bot.settings.database_url,
           "LATCHKEY_CONFIG": str(bot.settings.latchkey_config), "OKTA_API_TOKEN": OKTA_TOKEN}
    return run(list(args), env=env)


def items_by_holder(bot, name: str) -> dict[tuple[str, str], object]:
    return {(i.holder_email, i.entitlement_name): i for i in bot.service.lifecycle.reviews.report(name).items}


@pytest.fixture
def okta_review(make_bot, okta):
    """Carol in prod-readers (seeded), Dave in eng-admins, and Alice (an owner) in data-admins."""
    okta.add_member(okta.ids["eng-admins"], okta.ids["dave@acme.com"])
    okta.add_member(okta.ids["data-admins"], okta.ids["alice@acme.com"])
    return make_bot(reviews=[OKTA_REVIEW]).start()


def test_an_okta_review_started_by_cli_keeps_and_revokes_group_memberships(okta_review, okta, slack):
    """Given the Okta review, when it is started from the command line, then the owners are
    told how much they have to review and the owner Alice's own membership goes to the fallback
    Dave; when Bob keeps Dave's eng-admins and revokes Carol's prod-readers, then Carol is out
    of the group in Okta, the item says when that was verified, and the report shows both."""
    bot = okta_review
    bot.service.directory.person(CAROL)  # Carol has used Latchkey: Slack knows her by email
    started = cli(bot, "review", "start", "okta-groups")
    assert started.returncode == 0, started.stderr
    assert "3 holdings of 3 holders" in started.stdout
    assert cli(bot, "review", "start", "okta-groups").stdout.count("okta-groups") == 1  # shown, not started again
    items = items_by_holder(bot, "okta-groups")
    alices = items["alice@acme.com", "data-admins"]
    assert alices.reviewer in (DAVE, ERIN)  # a fallback reviewer: Alice owns Okta
    carols, daves = items["carol@acme.com", "prod-readers"], items["dave@acme.com", "eng-admins"]
    assert (carols.holder, daves.holder) == (CAROL, None)
    for reviewer in {carols.reviewer, daves.reviewer, alices.reviewer}:
        soon(lambda reviewer=reviewer: "Access review okta-groups" in texts(slack.dm(reviewer)))

    reviews = bot.service.lifecycle.reviews
    reviews.decide(daves.id, daves.reviewer, ReviewDecision.KEEP)
    reviews.decide(carols.id, carols.reviewer, ReviewDecision.REVOKE, "moved to sales")
    group, carol = okta.ids["prod-readers"], okta.ids["carol@acme.com"]
    soon(lambda: reviews.item(carols.id).revoked_at is not None)
    assert carol not in okta.members(group)
    assert okta.ids["dave@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert len([c for c in okta.membership_writes() if c.method == "DELETE"]) == 1
    soon(lambda: "was removed after an access review" in texts(slack.dm(CAROL)))
    assert "prod-readers" in texts(slack.dm(CAROL))

    report = cli(bot, "review", "report", "okta-groups", "--format", "csv")
    rows = {(r["holder_email"], r["entitlement_name"]): r for r in csv.DictReader(io.StringIO(report.stdout))}
    assert rows["carol@acme.com", "prod-readers"]["decision"] == "revoke"
    assert rows["carol@acme.com", "prod-readers"]["reason"] == "moved to sales"
    assert rows["carol@acme.com", "prod-readers"]["revoked_at"]
    assert rows["dave@acme.com", "eng-admins"]["decision"] == "keep"
    assert rows["alice@acme.com", "data-admins"]["decision"] == ""


def test_a_revoke_okta_refuses_is_retried_and_the_owners_alerted(okta_review, okta, slack, clock):
    bot = okta_review
    assert cli(bot, "review", "start", "okta-groups").returncode == 0
    carols = items_by_holder(bot, "okta-groups")["carol@acme.com", "prod-readers"]
    okta.fail(status=403, times=3, path=MEMBERSHIP, method="DELETE")
    reviews = bot.service.lifecycle.reviews
    reviews.decide(carols.id, carols.reviewer, ReviewDecision.REVOKE, "moved to sales")
    request_id = reviews.item(carols.id).request_id
    eventually(lambda: reviews.item(carols.id).revoke_failing)
    for attempt in (1, 2, 3):
        eventually(lambda attempt=attempt: bot.request(request_id).attempts == attempt)
        clock.advance(timedelta(minutes=15))
        bot.service.scheduler.wake_at(clock.now())
    soon(lambda: "cannot remove" in texts(slack.dm(ALICE)) and "cannot remove" in texts(slack.dm(BOB)))
    soon(lambda: reviews.item(carols.id).revoked_at is not None)
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["prod-readers"])
    assert not reviews.item(carols.id).revoke_failing


def test_a_restart_mid_campaign_loses_no_decision_and_revokes_once(okta_review, okta, clock):
    """Given a campaign with one kept and one revoke still failing, when the bot stops and a
    new one starts on the same database, then both decisions stand, the revoke completes once,
    and the still-open campaign is not started again."""
    bot = okta_review
    assert cli(bot, "review", "start", "okta-groups").returncode == 0
    items = items_by_holder(bot, "okta-groups")
    carols, daves = items["carol@acme.com", "prod-readers"], items["dave@acme.com", "eng-admins"]
    okta.fail(status=403, times=1, path=MEMBERSHIP, method="DELETE")
    reviews = bot.service.lifecycle.reviews
    reviews.decide(daves.id, daves.reviewer, ReviewDecision.KEEP)
    reviews.decide(carols.id, carols.reviewer, ReviewDecision.REVOKE, "moved to sales")
    eventually(lambda: reviews.item(carols.id).revoke_failing)
    bot.stop()
    bot.start()
    reviews = bot.service.lifecycle.reviews
    assert reviews.item(carols.id).revoked_at is None  # waiting out its backoff
    clock.advance(timedelta(minutes=15))
    bot.service.scheduler.wake_at(clock.now())
    soon(lambda: reviews.item(carols.id).revoked_at is not None)
    assert reviews.item(daves.id).decision is ReviewDecision.KEEP
    assert len([c for c in okta.membership_writes() if c.method == "DELETE"]) == 1
    assert len(reviews.campaigns()) == 1 and reviews.start("okta-groups").id == carols.campaign_id


@pytest.fixture
def celigo():
    with CeligoSandbox(tokens={"celigo-token": "admin"}) as server:
        yield server


def test_a_celigo_review_takes_an_access_level_away(make_bot, celigo, slack):
    """Given Carol is a Celigo 'manage' user with per-integration access, when her reviewer
    revokes the level, then her share has no account-wide level left and keeps the rest."""
    carol = celigo.add_share("carol@acme.com", "Carol", "manage")
    celigo.add_integration("Orders to NetSuite", access={carol: "monitor"})
    before = celigo.share(carol)
    bot = make_bot(connectors={"celigo": {"type": "celigo", "token": "celigo-token", "base_url": celigo.url,
                                          "owners": [ALICE, BOB]}},
                   reviews=[{"name": "celigo-levels", "scope": [{"connector": "celigo", "type": "role"}],
                             "reviewers": ["owners"], "fallback": [DAVE, ERIN]}])
    bot.start()
    started = cli(bot, "review", "start", "celigo-levels")
    assert started.returncode == 0, started.stderr
    item, = bot.service.lifecycle.reviews.report("celigo-levels").items
    assert (item.entitlement_name, item.holder_email) == ("Celigo Manage (all integrations)", "carol@acme.com")
    bot.service.lifecycle.reviews.decide(item.id, item.reviewer, ReviewDecision.REVOKE, "read-only from now")
    soon(lambda: bot.service.lifecycle.reviews.item(item.id).revoked_at is not None)
    after = celigo.share(carol)
    assert after.get("accessLevel") is None
    assert after["integrationAccessLevel"] == before["integrationAccessLevel"]


def test_access_latchkey_may_not_change_is_taken_back_by_the_owners_task(make_bot, okta, slack):
    """Given Okta with provisioning: false, when Carol's prod-readers is revoked in review, then
    the owners get a task to take it back, and the item counts as revoked once one presses Done."""
    bot = make_bot(provisioning=False, reviews=[OKTA_REVIEW]).start()
    reviews = bot.service.lifecycle.reviews
    reviews.start("okta-groups")
    carols, = [i for i in reviews.report("okta-groups").items if i.holder_email == "carol@acme.com"]
    reviews.decide(carols.id, carols.reviewer, ReviewDecision.REVOKE, "moved to sales")
    soon(lambda: "Please take" in texts(slack.dm(ALICE)))
    assert "an access review revoked it" in texts(slack.dm(ALICE))
    assert reviews.item(carols.id).revoked_at is None
    slack.click(ALICE, "task_done")
    soon(lambda: reviews.item(carols.id).revoked_at is not None)
    assert okta.membership_writes() == []  # a person took it back, not Latchkey


def test_the_command_line_names_what_is_wrong_and_writes_json_evidence(okta_review):
    bot = okta_review
    unknown = cli(bot, "review", "start", "okta-group")
    assert unknown.returncode == 2 and "no access review okta-group in the configuration" in unknown.stderr
    assert "configured: okta-groups" in unknown.stderr
    assert cli(bot, "review", "start", "okta-groups").returncode == 0
    evidence = json.loads(cli(bot, "review", "report", "okta-groups", "--format", "json").stdout)
    assert evidence["campaign"]["name"] == "okta-groups" and evidence["summary"]["items"] == 3
    assert evidence["progress"] == [{"at": evidence["campaign"]["started_at"], "decided": 0}]
    assert {i["holder_email"] for i in evidence["items"]} == {"alice@acme.com", "carol@acme.com", "dave@acme.com"}


def test_what_nobody_decided_by_the_due_date_is_revoked_where_the_review_says_so(make_bot, okta, clock):
    """Given a review whose undecided holdings are revoked at the due date, when Dave's
    eng-admins is kept and nobody decides Carol's prod-readers, then at the due date Carol is
    out of the group in Okta, Dave is still in his, and the review is closed."""
    okta.add_member(okta.ids["eng-admins"], okta.ids["dave@acme.com"])
    bot = make_bot(reviews=[{**OKTA_REVIEW, "on_no_decision": "revoke", "due_in": "7d"}]).start()
    reviews = bot.service.lifecycle.reviews
    reviews.start("okta-groups")
    items = items_by_holder(bot, "okta-groups")
    daves, carols = items["dave@acme.com", "eng-admins"], items["carol@acme.com", "prod-readers"]
    reviews.decide(daves.id, daves.reviewer, ReviewDecision.KEEP)
    clock.advance(timedelta(days=7))
    reviews.run_due()
    soon(lambda: reviews.item(carols.id).revoked_at is not None)
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["prod-readers"])
    assert okta.ids["dave@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert reviews.item(carols.id).reason == "no decision by the due date" and reviews.campaigns() == []


def test_what_nobody_decided_by_the_due_date_is_kept_where_the_review_says_so(make_bot, okta, clock):
    """Given a review whose undecided holdings are kept at the due date, when nobody decides
    Carol's prod-readers, then at the due date she is still in the group in Okta, the item is
    kept as "no decision by the due date" by Latchkey, and the review is closed."""
    bot = make_bot(reviews=[{**OKTA_REVIEW, "on_no_decision": "keep", "due_in": "7d"}]).start()
    reviews = bot.service.lifecycle.reviews
    reviews.start("okta-groups")
    carols = items_by_holder(bot, "okta-groups")["carol@acme.com", "prod-readers"]
    clock.advance(timedelta(days=7))
    reviews.run_due()
    kept = reviews.item(carols.id)
    assert (kept.decision, kept.reason, kept.revoked_at) == (ReviewDecision.KEEP, NO_DECISION, None)
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["prod-readers"])
    assert reviews.campaigns() == []


def test_a_holders_okta_manager_reviews_their_access(make_bot, okta):
    """Given Carol's Okta profile names Dave as her manager and Alice has none, when a review
    by manager, else owners, starts, then Dave reviews Carol's access; Alice's falls to the
    owners, who include Alice herself, so a fallback reviewer takes it."""
    okta.set_manager(okta.ids["carol@acme.com"], okta.ids["dave@acme.com"])
    okta.add_member(okta.ids["data-admins"], okta.ids["alice@acme.com"])
    bot = make_bot(reviews=[{**OKTA_REVIEW, "reviewers": ["manager", "owners"]}]).start()
    bot.service.lifecycle.reviews.start("okta-groups")
    items = items_by_holder(bot, "okta-groups")
    assert items["carol@acme.com", "prod-readers"].reviewer == DAVE
    assert items["alice@acme.com", "data-admins"].reviewer in (DAVE, ERIN)


def test_a_review_added_to_the_running_config_can_start_without_a_restart(bot, okta):
    from bot.domain.errors import ReviewNotFoundError
    from tests.support.config import edit_config

    with pytest.raises(ReviewNotFoundError, match="configured: none"):
        bot.service.lifecycle.reviews.start("okta-groups")
    edit_config(bot, okta, reviews=[OKTA_REVIEW])
    assert bot.service.check_config() is True
    assert bot.service.lifecycle.reviews.start("okta-groups").name == "okta-groups"

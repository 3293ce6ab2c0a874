"""Tickets checked in Jira, end to end over Slack HTTP with the Jira sandbox: a request citing
an open ticket assigned to the requester reaches the approvers with the ticket's summary and
status; a resolved ticket, someone else's or an unknown key is refused in the form; a Jira that
cannot answer refuses with "cannot check" and files nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sandbox.jira import JiraSandbox
from sandbox.server import Reply
from tests.support.harness import ALICE, CAROL, eventually
from tests.support.slack import ask, asked, texts

JIRA_EMAIL, JIRA_TOKEN = "latchkey@acme.com", "jira-story-s3cret"


@pytest.fixture
def jira(monkeypatch) -> Iterator[JiraSandbox]:
    monkeypatch.setenv("JIRA_API_TOKEN", JIRA_TOKEN)
    with JiraSandbox({JIRA_EMAIL: JIRA_TOKEN}) as sandbox:
        sandbox.add_user("acc-carol", "carol@acme.com", "Carol")
        sandbox.add_user("acc-dave", "dave@acme.com", "Dave")
        sandbox.add_issue("SEC-1", "Rotate the <prod> keys & certs", "In Review", assignee="acc-carol")
        sandbox.add_issue("SEC-2", "Old outage", "Done", assignee="acc-carol")
        sandbox.add_issue("SEC-3", "Dave's work", "In Progress", assignee="acc-dave")
        yield sandbox


def jira_rule(jira: JiraSandbox, **ticket) -> dict:
    return {"name": "jira-checked", "match": {"resource": "eng-*"},
            "ticket": {"pattern": "SEC-[0-9]+", **ticket,
                       "jira": {"url": jira.url, "email": JIRA_EMAIL, "token": "${JIRA_API_TOKEN}",
                                "must_be_assigned_to_requester": True}}}


def pending_requests(bot) -> list:
    return bot.service.lifecycle.queries.in_states("pending", "approved", "active")


def test_an_open_ticket_assigned_to_the_requester_reaches_the_approvers_with_its_summary_and_status(
        make_bot, slack, jira):
    """Given eng-* needs a SEC ticket checked in Jira, when Carol cites SEC-1 (in review,
    assigned to her), then Alice is asked, her DM linking SEC-1 with its summary (escaped) and
    status."""
    make_bot(rules=[jira_rule(jira)]).start()
    ask(slack, "eng-admins", ticket="SEC-1")
    eventually(lambda: asked(slack, ALICE))
    said = texts(slack.dm(ALICE))
    assert f"<{jira.url}/browse/SEC-1|SEC-1> Rotate the &lt;prod&gt; keys &amp; certs (In Review)" in said
    assert jira.calls_to("GET", "/rest/api/3/issue/SEC-1")


@pytest.mark.parametrize("key, words", [
    ("SEC-2", "SEC-2 is Done: access needs a ticket that is still open."),
    ("SEC-3", "SEC-3 is not assigned to you: access needs a ticket assigned to you."),
    ("SEC-404", "There is no ticket SEC-404, or Latchkey may not see it."),
])
def test_a_resolved_unassigned_or_unknown_ticket_is_refused_in_the_form(make_bot, slack, jira, key, words):
    bot = make_bot(rules=[jira_rule(jira)]).start()
    ask(slack, "eng-admins", ticket=key)
    assert slack.view_errors(CAROL) == {"ticket": words}
    assert pending_requests(bot) == []


def test_jira_down_says_cannot_check_and_files_nothing(make_bot, slack, jira):
    """Given Jira answers 503 however often it is asked, when Carol cites SEC-1, then the form
    says it cannot be checked now, and nothing is filed nor anyone asked."""
    bot = make_bot(rules=[jira_rule(jira)]).start()
    jira.inject(lambda call: Reply.json(503, {"errorMessages": ["down"], "errors": {}}), times=100)
    ask(slack, "eng-admins", ticket="SEC-1")
    assert slack.view_errors(CAROL) == {"ticket": "Cannot check SEC-1 right now; try again in a minute."}
    assert pending_requests(bot) == [] and not asked(slack, ALICE)


def test_access_that_ends_with_its_ticket_is_ended_when_the_ticket_is_resolved(make_bot, slack, okta, jira):
    """Given eng-* access ends with its ticket, when Carol's SEC-1 access is granted and SEC-1
    is then resolved, then the next look at the tickets ends it early through the end-early
    path: revoked in Okta, audited as ticket_resolved, and Carol is told why."""
    bot = make_bot(rules=[jira_rule(jira, end_with_ticket=True)]).start()
    ask(slack, "eng-admins", ticket="SEC-1")
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    request = eventually(lambda: bot.service.lifecycle.queries.in_states("active"))[0]
    assert bot.service.lifecycle.watch_tickets() == []  # still in review: nothing ends
    jira.set_status("SEC-1", "Done")
    assert bot.service.lifecycle.watch_tickets() == [request.id]
    eventually(lambda: bot.request(request.id).state == "revoked", timeout=10)
    assert okta.ids["carol@acme.com"] not in okta.members(okta.ids["eng-admins"])
    assert "ticket_resolved" in [e.action for e in bot.service.lifecycle.audit.events(request.id)]
    eventually(lambda: "its ticket" in texts(slack.dm(CAROL)) and "was resolved" in texts(slack.dm(CAROL)))


def test_a_jira_outage_never_ends_access(make_bot, slack, okta, jira):
    bot = make_bot(rules=[jira_rule(jira, end_with_ticket=True)]).start()
    ask(slack, "eng-admins", ticket="SEC-1")
    eventually(lambda: asked(slack, ALICE))
    slack.click(ALICE, "approve")
    request = eventually(lambda: bot.service.lifecycle.queries.in_states("active"))[0]
    jira.set_status("SEC-1", "Done")
    jira.inject(lambda call: Reply.json(503, {"errorMessages": ["down"], "errors": {}}), times=100)
    assert bot.service.lifecycle.watch_tickets() == []
    assert bot.request(request.id).state == "active"

"""Tickets checked in Jira, in memory: what the ticket rule kind refuses (unknown, resolved,
someone else's) and what a tracker that cannot answer does to the form, with a fake lookup
behind bot/ports.py's `TicketLookup`.  (tests/contract/connectors/test_jira.py proves the
adapter against the Jira sandbox; tests/stories/test_jira_tickets.py the wiring through Slack.)"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import pytest

from bot.config import ConfigError, parse_config
from bot.domain.errors import TicketUncheckableError
from bot.domain.kinds import Ticket
from bot.domain.kinds.ticket import TicketFacts, TicketStatus
from bot.slack import wording
from connectors.masking import mask
from tests.support import in_memory
from tests.support.config import offline_config_text
from tests.support.in_memory import OWNERS, POLICY, Form, rulebook

SITE = "https://acme.atlassian.net"
JIRA = {"url": SITE + "/", "email": "latchkey@acme.com", "token": "jira-s3cret-token"}
CAROL_ACCOUNT = "5b10ac8d82e05b22cc7d4ef5"


def jira_rule(**jira) -> dict:
    return {"name": "jira", "match": {"resource": "eng-*"},
            "ticket": {"pattern": "SEC-[0-9]+", "jira": {**JIRA, **jira}}}


def issue(key: str = "SEC-1", status: TicketStatus = TicketStatus.IN_PROGRESS, email: str | None = "carol@acme.com",
          account: str | None = CAROL_ACCOUNT, name: str = "In Progress") -> TicketFacts:
    return TicketFacts(key=key, summary="Rotate the prod keys", status=name, category=status,
                       url=f"{SITE}/browse/{key}", assignee_account=account, assignee_email=email)


@dataclass
class FakeTickets:
    """Jira as a dict of tickets; `down` makes every call fail as an outage does."""

    found: dict[str, TicketFacts] = field(default_factory=dict)
    accounts: dict[str, str] = field(default_factory=dict)  # email → account id
    down: bool = False
    asked: list[tuple[str, str]] = field(default_factory=list)

    def ticket(self, site: str, key: str) -> TicketFacts | None:
        self.asked.append((site, key))
        if self.down:
            raise TicketUncheckableError("Jira GET /rest/api/3/issue answered 503")
        return self.found.get(key)

    def account_of(self, site: str, email: str) -> str | None:
        if self.down:
            raise TicketUncheckableError("Jira GET /rest/api/3/user/search answered 503")
        return self.accounts.get(email)


def form(*found: TicketFacts, down: bool = False, **jira) -> tuple[Form, FakeTickets]:
    tickets = FakeTickets({facts.key: facts for facts in found}, {"carol@acme.com": CAROL_ACCOUNT}, down)
    return Form(rulebook(rules=[jira_rule(**jira)]), tickets=tickets), tickets


def test_an_open_ticket_passes_and_is_checked_on_the_site_the_rule_names():
    """Given a rule checking tickets in Jira, when Carol cites an open ticket, then the request
    passes, the ticket having been looked up on that site (its URL without a trailing slash)."""
    checked, tickets = form(issue())
    assert checked.problems("eng-admins", ticket="SEC-1") == {}
    assert tickets.asked == [(SITE, "SEC-1")]


@pytest.mark.parametrize("found, words", [
    ((), "There is no ticket SEC-9, or Latchkey may not see it."),
    ((issue("SEC-9", TicketStatus.DONE, name="Closed"),), "SEC-9 is Closed: access needs a ticket that is still open."),
])
def test_an_unknown_or_resolved_ticket_is_refused_in_the_ticket_field(found, words):
    checked, _ = form(*found)
    assert checked.problems("eng-admins", ticket="SEC-9") == {"ticket": words}


def test_a_resolved_ticket_passes_where_the_rule_does_not_ask_for_an_open_one():
    checked, _ = form(issue(status=TicketStatus.DONE), must_be_open=False)
    assert checked.problems("eng-admins", ticket="SEC-1") == {}


def test_the_pattern_is_checked_first_and_a_malformed_reference_never_reaches_jira():
    checked, tickets = form()
    assert "expected SEC-[0-9]+" in checked.problems("eng-admins", ticket="see slack")["ticket"]
    assert tickets.asked == []


def test_no_ticket_given_is_not_looked_up_when_the_rule_does_not_require_one():
    checked, tickets = form()  # `required` defaults to true: make it optional
    checked.rules = rulebook(rules=[{**jira_rule(), "ticket": {"required": False, "jira": JIRA}}])
    assert checked.problems("eng-admins") == {} and tickets.asked == []


@pytest.mark.parametrize("assignee, refused", [
    ({"email": "carol@acme.com", "account": CAROL_ACCOUNT}, False),
    ({"email": "CAROL@acme.com", "account": CAROL_ACCOUNT}, False),  # emails compare without case
    ({"email": "bob@acme.com", "account": "bob-account"}, True),
    ({"email": None, "account": None}, True),  # unassigned
    ({"email": None, "account": CAROL_ACCOUNT}, False),  # email hidden: compared by account id
    ({"email": None, "account": "bob-account"}, True),
])
def test_a_ticket_that_must_be_assigned_to_the_requester(assignee, refused):
    """Given a rule whose tickets must be assigned to the requester, then one assigned to
    someone else, or to nobody, is refused; where Jira hides the assignee's email, Carol's
    account id (found by her email) is compared instead."""
    checked, _ = form(issue(**assignee), must_be_assigned_to_requester=True)
    problems = checked.problems("eng-admins", ticket="SEC-1")
    assert problems == ({"ticket": "SEC-1 is not assigned to you: access needs a ticket assigned to you."}
                        if refused else {})


def test_jira_down_refuses_the_form_with_cannot_check_and_never_lets_the_ticket_through():
    """Given Jira cannot answer, then the form says so under the ticket field: the request is
    not filed with an unchecked ticket."""
    checked, _ = form(down=True)
    assert checked.problems("eng-admins", ticket="SEC-1") == {
        "ticket": "Cannot check SEC-1 right now; try again in a minute."}


def test_a_rule_checking_jira_with_no_lookup_wired_refuses_as_uncheckable():
    checked = Form(rulebook(rules=[jira_rule()]))
    assert "Cannot check SEC-1 right now" in checked.problems("eng-admins", ticket="SEC-1")["ticket"]


def test_the_kind_holds_the_site_and_checks_but_never_the_credentials():
    kind = rulebook(rules=[jira_rule(must_be_assigned_to_requester=True)]).named("jira").kind(Ticket)
    assert kind.tracker is not None and kind.tracker.site == SITE
    assert kind.tracker.must_be_open and kind.tracker.must_be_assigned_to_requester
    assert "s3cret" not in repr(kind) and kind.asked


def test_end_with_ticket_needs_jira():
    with pytest.raises(ConfigError, match="end_with_ticket needs `jira`"):
        parse_config(offline_config_text(OWNERS, **POLICY, ticket={"end_with_ticket": True}))


def test_the_jira_token_is_a_secret_masked_like_the_others():
    parse_config(offline_config_text(OWNERS, **POLICY, rules=[jira_rule(token="jira-0ther-s3cret")]))
    assert mask("Jira said: jira-0ther-s3cret") == "Jira said: [redacted]"


# -- what the approvers see --------------------------------------------------------------------

def test_a_checked_ticket_is_kept_on_the_request_for_the_approvers():
    checked, _ = form(issue())
    request = checked.submit("eng-admins", ticket="SEC-1").request
    assert (request.ticket, request.ticket_summary, request.ticket_status, request.ticket_url) == (
        "SEC-1", "Rotate the prod keys", "In Progress", f"{SITE}/browse/SEC-1")


def test_the_approvers_see_the_ticket_as_a_link_with_its_summary_and_status_all_escaped():
    """Given a ticket whose summary and status are Jira's user text, then they are escaped and
    the link can be neither ended early nor forged."""
    request = replace(in_memory.request(), ticket="SEC-1", ticket_summary="Rotate <!channel> & keys",
                      ticket_status="In <Review>", ticket_url=f"{SITE}/browse/SEC-1|<evil>")
    assert wording.ticket(request) == (f"<{SITE}/browse/SEC-1%7C%3Cevil%3E|SEC-1> Rotate &lt;!channel&gt; "
                                       "&amp; keys (In &lt;Review&gt;)")


def test_an_unchecked_ticket_is_shown_as_typed():
    assert wording.ticket(replace(in_memory.request(), ticket="see <#C1>")) == "see &lt;#C1&gt;"

"""Tickets read from the Jira sandbox over real HTTP by the adapter behind `TicketLookup`
(bot/tickets.py over connectors/jira/client.py): an issue found and mapped, 404 as no ticket,
an account found by email, and every failure (bad credentials, 429 after retries, 5xx, no
server) as "cannot check", with the token never quoted."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.config.policy import JiraConfig
from bot.domain.errors import TicketUncheckableError
from bot.domain.kinds.ticket import TicketStatus
from bot.tickets import JiraTickets
from connectors.jira.client import FORM_MAX_WAIT
from sandbox.jira import JiraSandbox
from sandbox.server import Reply
from tests.support.connectors import url_with_no_listener

EMAIL, TOKEN = "latchkey@acme.com", "jira-s3cret-api-token"


@pytest.fixture
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox({EMAIL: TOKEN}) as sandbox:
        sandbox.add_user("acc-carol", "carol@acme.com", "Carol Danvers")
        sandbox.add_user("acc-dave", "dave@acme.com", "Dave Hidden", email_hidden=True)
        sandbox.add_issue("SEC-1", "Rotate the <prod> keys", "In Review", assignee="acc-carol")
        sandbox.add_issue("SEC-2", "Old work", "Done", assignee="acc-dave")
        sandbox.add_issue("SEC-3", "Nobody's", "To Do")
        yield sandbox


def lookup(url: str, waits: list[float], token: str = TOKEN) -> JiraTickets:
    return JiraTickets({url: JiraConfig(url=url, email=EMAIL, token=token)}, sleep=waits.append)


def test_an_issue_is_read_with_only_the_fields_latchkey_needs_and_mapped(jira, waits):
    facts = lookup(jira.url, waits).ticket(jira.url, "SEC-1")
    assert facts is not None
    assert (facts.key, facts.summary, facts.status, facts.category) == (
        "SEC-1", "Rotate the <prod> keys", "In Review", TicketStatus.IN_PROGRESS)
    assert (facts.assignee_account, facts.assignee_email) == ("acc-carol", "carol@acme.com")
    assert facts.url == f"{jira.url}/browse/SEC-1"
    [call] = jira.calls_to("GET", "/rest/api/3/issue/SEC-1")
    assert call.arg("fields") == "summary,status,assignee"


def test_a_resolved_unassigned_or_hidden_email_issue_maps_as_jira_shows_it(jira, waits):
    tickets = lookup(jira.url, waits)
    done, nobody = tickets.ticket(jira.url, "SEC-2"), tickets.ticket(jira.url, "SEC-3")
    assert done and done.category is TicketStatus.DONE and done.assignee_email is None
    assert done.assignee_account == "acc-dave"
    assert nobody and nobody.assignee_account is None and nobody.category is TicketStatus.TO_DO


def test_an_unknown_key_is_no_ticket(jira, waits):
    assert lookup(jira.url, waits).ticket(jira.url, "SEC-404") is None


def test_an_account_is_found_by_email_even_when_the_profile_hides_it(jira, waits):
    tickets = lookup(jira.url, waits)
    assert tickets.account_of(jira.url, "carol@acme.com") == "acc-carol"
    assert tickets.account_of(jira.url, "dave@acme.com") == "acc-dave"
    assert tickets.account_of(jira.url, "nobody@acme.com") is None


def test_bad_credentials_are_cannot_check_and_the_token_is_never_quoted(jira, waits):
    with pytest.raises(TicketUncheckableError) as raised:
        lookup(jira.url, waits, token="wrong-s3cret-token").ticket(jira.url, "SEC-1")
    assert "401" in str(raised.value) and "You are not authenticated" in str(raised.value)
    assert "s3cret" not in str(raised.value) and waits == []  # 401 is not retried


def test_a_429_or_5xx_is_retried_once_after_a_short_wait(jira, waits):
    """Given Jira answers one 429 asking to retry at once, then one 503, then the tickets are
    read on the second try, each after a wait short enough for someone waiting on the form."""
    jira.rate_limited, jira.retry_after = 1, 0
    assert lookup(jira.url, waits).ticket(jira.url, "SEC-1") is not None
    jira.inject(lambda call: Reply.json(503, {"errorMessages": ["Service unavailable"], "errors": {}}))
    assert lookup(jira.url, waits).ticket(jira.url, "SEC-2") is not None
    assert len(waits) == 2 and all(w <= FORM_MAX_WAIT for w in waits)


def test_a_429_asking_for_a_longer_wait_than_the_form_allows_is_cannot_check_at_once(jira, waits):
    jira.rate_limited, jira.retry_after = 1, 7
    with pytest.raises(TicketUncheckableError, match="429 Rate limit exceeded"):
        lookup(jira.url, waits).ticket(jira.url, "SEC-1")
    assert waits == []


def test_5xx_after_every_retry_is_cannot_check(jira, waits):
    jira.inject(lambda call: Reply.json(503, {"errorMessages": ["Service unavailable"], "errors": {}}),
                times=10)
    with pytest.raises(TicketUncheckableError, match="503 Service unavailable"):
        lookup(jira.url, waits).ticket(jira.url, "SEC-1")
    with pytest.raises(TicketUncheckableError, match="503"):
        lookup(jira.url, waits).account_of(jira.url, "carol@acme.com")
    assert len(waits) == 2  # two tries each: someone waits on the form


def test_no_server_and_an_unconfigured_site_are_cannot_check(waits):
    url = url_with_no_listener()
    with pytest.raises(TicketUncheckableError):
        lookup(url, waits).ticket(url, "SEC-1")
    with pytest.raises(TicketUncheckableError, match="no Jira site"):
        lookup(url, waits).ticket("https://other.atlassian.net", "SEC-1")

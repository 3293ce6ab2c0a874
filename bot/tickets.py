"""The tickets a rule checks, as Jira Cloud shows them: the adapter behind bot/ports.py's
`TicketLookup`, one client per Jira site the policy names.

What a ticket must be is the ticket rule kind's business (bot/domain/kinds/ticket.py); this
only reads Jira and maps its JSON.  A Jira that cannot answer (down, 5xx or 429 after retries,
refusing the credentials) raises TicketUncheckableError: an unchecked ticket never passes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from urllib.parse import quote

from bot.config.policy import JiraConfig, PolicyConfig
from bot.domain.errors import TicketUncheckableError
from bot.domain.kinds.ticket import TicketFacts, TicketStatus
from connectors.base import ConnectorError, NotFoundError
from connectors.jira.client import JiraClient

log = logging.getLogger(__name__)


def jira_sites(policy: PolicyConfig) -> dict[str, JiraConfig]:
    """Every Jira site the policy's rules check tickets in, by URL (the first settings given
    for a site are used for it)."""
    sites: dict[str, JiraConfig] = {}
    for rule in (policy, *policy.rules):
        if rule.ticket and rule.ticket.jira:
            sites.setdefault(rule.ticket.jira.url, rule.ticket.jira)
    return sites


class JiraTickets:
    def __init__(self, sites: dict[str, JiraConfig], sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock, self._sleep = threading.Lock(), sleep
        self._clients: dict[str, tuple[JiraConfig, JiraClient]] = {}
        self.configure(sites)

    def configure(self, sites: dict[str, JiraConfig]) -> None:
        """Use these sites from now on (at start-up and when the config is reloaded)."""
        with self._lock:
            kept = {url: held for url, held in self._clients.items() if sites.get(url) == held[0]}
            for url, (_, client) in self._clients.items():
                if url not in kept:
                    client.close()
            self._clients = {url: kept.get(url) or (jira, self._client_for(jira)) for url, jira in sites.items()}

    def _client_for(self, jira: JiraConfig) -> JiraClient:
        return JiraClient(jira.url, jira.email, jira.token.get_secret_value(), sleep=self._sleep)

    def close(self) -> None:
        self.configure({})

    def ticket(self, site: str, key: str) -> TicketFacts | None:
        try:
            issue = self._client(site).get_issue(key)
        except NotFoundError:
            return None
        except ConnectorError as exc:
            log.warning("cannot check ticket %s: %s", key, exc)
            raise TicketUncheckableError(str(exc)) from exc
        return _facts(site, issue)

    def tickets(self, site: str, keys: Iterable[str]) -> dict[str, TicketFacts | None]:
        """Several tickets of one site, each as `ticket()` finds it."""
        return {key: self.ticket(site, key) for key in keys}

    def account_of(self, site: str, email: str) -> str | None:
        try:
            users = self._client(site).search_users(email)
        except ConnectorError as exc:
            log.warning("cannot look up a Jira account by email: %s", exc)
            raise TicketUncheckableError(str(exc)) from exc
        same = [u for u in users if str(u.get("emailAddress", "")).casefold() == email.casefold()]
        hidden = [u for u in users if "emailAddress" not in u]
        # Where profiles hide emails, only a search that finds one person tells who it is.
        found = same or (hidden if len(users) == 1 else [])
        return found[0].get("accountId") if len(found) == 1 else None

    def _client(self, site: str) -> JiraClient:
        with self._lock:
            held = self._clients.get(site)
        if held is None:
            raise TicketUncheckableError(f"no Jira site {site} is configured")
        return held[1]


def _facts(site: str, issue: dict) -> TicketFacts:
    fields = issue.get("fields") or {}
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    assignee = fields.get("assignee") or {}
    key = str(issue.get("key", ""))
    return TicketFacts(
        key=key, summary=str(fields.get("summary") or ""), status=str(status.get("name") or category or ""),
        # An unknown category (Jira's "undefined") is treated as open: only `done` is resolved.
        category=TicketStatus(category) if category in {s.value for s in TicketStatus} else TicketStatus.TO_DO,
        url=f"{site}/browse/{quote(key, safe='')}", assignee_account=assignee.get("accountId"),
        assignee_email=assignee.get("emailAddress"))

"""Watch tickets: access whose rule ends it with its ticket (`end_with_ticket`) is ended early,
through the end-early path, once the ticket is resolved in its tracker.

Polled (bot/service.py schedules it): each pass reads every distinct ticket of the active
access once.  A tracker that cannot answer ends nothing: the ticket is read again next time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from bot.domain.errors import TicketUncheckableError
from bot.domain.kinds import Ticket
from bot.domain.kinds.ticket import TicketFacts, TicketStatus
from bot.domain.request import AccessRequest, State
from bot.domain.rules import RuleBook
from bot.ports import RequestLookup, TicketLookup
from bot.usecases.revoke import Revoke

log = logging.getLogger(__name__)


class WatchTickets:
    def __init__(self, lookup: RequestLookup, rules: Callable[[], RuleBook], tickets: TicketLookup,
                 revoke: Revoke) -> None:
        self.lookup, self.rules, self.tickets, self.revoke = lookup, rules, tickets, revoke

    def run(self) -> list[str]:
        """End the active access whose ticket is resolved; returns the ids of those ended."""
        watched = self._watched()
        found: dict[tuple[str, str], TicketFacts | None] = {}
        ended = []
        for site, request in watched:
            key = (site, request.ticket or "")
            if key not in found:
                found[key] = self._read(*key)
            facts = found[key]
            if facts is None or facts.category is not TicketStatus.DONE:
                continue
            if self.revoke.end_with_ticket(request.id, facts.status) is not None:
                ended.append(request.id)
        return ended

    def _watched(self) -> list[tuple[str, AccessRequest]]:
        """(tracker site, request) of the active access whose rule ends it with its ticket."""
        rules, watched = self.rules(), []
        for request in self.lookup.in_states(State.ACTIVE.value):
            kind = rules.named(request.rule).kind(Ticket)
            if request.ticket and not request.extends and kind.end_with_ticket and kind.tracker:
                watched.append((kind.tracker.site, request))
        return watched

    def _read(self, site: str, key: str) -> TicketFacts | None:
        try:
            return self.tickets.ticket(site, key)
        except TicketUncheckableError as exc:  # read again at the next pass; nothing ends
            log.warning("cannot check ticket %s for access that ends with it: %s", key, exc)
            return None

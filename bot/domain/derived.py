"""Requests made from other requests: the items an approved bundle becomes, and an extension
of active access."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.events import SYSTEM
from bot.domain.request import AccessRequest, Route, State, new_request_id


def bundle_items(bundle: AccessRequest) -> list[AccessRequest]:
    """The item requests an approved bundle becomes, written with its approval."""
    return [AccessRequest(
        id=new_request_id(), requester=bundle.requester, requester_email=bundle.requester_email,
        account_id=item.account_id, connector_id=item.connector_id,
        entitlement_id=item.entitlement_id, entitlement_name=item.name,
        duration=bundle.duration, justification=bundle.justification,
        state=State.APPROVED, created_at=bundle.created_at, decided_by=bundle.decided_by,
        decided_at=bundle.decided_at, rule=bundle.rule, route=bundle.route, ticket=bundle.ticket,
        ticket_summary=bundle.ticket_summary, ticket_status=bundle.ticket_status, ticket_url=bundle.ticket_url,
        conflict=bundle.conflict, filed_by=bundle.filed_by,
        manual=item.manual, bundle=bundle.id) for item in bundle.items]


def extension_request(original: AccessRequest, person: str, duration: timedelta, justification: str,
                      now: datetime, attention_at: datetime | None, by_people: bool) -> AccessRequest:
    """A request for more time on `original`: pending for people to decide, or else approved
    by Latchkey at once."""
    return AccessRequest(
        id=new_request_id(), requester=person, requester_email=original.requester_email,
        account_id=original.account_id, connector_id=original.connector_id,
        entitlement_id=original.entitlement_id, entitlement_name=original.entitlement_name,
        duration=duration, justification=justification,
        state=State.PENDING if by_people else State.APPROVED,
        created_at=now, rule=original.rule, conflict=original.conflict,
        route=Route.PEOPLE if by_people else Route.AUTO,
        extends=original.id, manual=original.manual, preexisting=original.preexisting,
        attention_at=attention_at if by_people else None,
        decided_by=() if by_people else (SYSTEM,), decided_at=None if by_people else now)

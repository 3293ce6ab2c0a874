"""Requests a test stores directly, to set up what the bot would have stored."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.domain.request import AccessRequest, State


def stored_request(created_at: datetime, state: str = "pending", **fields) -> AccessRequest:
    """A pending one-hour request of U1 for eng-admins on Okta, filed at `created_at`; `state`
    (by its value) and `fields` change any other field."""
    defaults = {"id": "r1", "requester": "U1", "requester_email": "u1@acme.com", "account_id": "00u1",
                "connector_id": "okta", "entitlement_id": "group:00g1:member",
                "entitlement_name": "eng-admins", "duration": timedelta(hours=1), "justification": "deploy"}
    return AccessRequest(**{**defaults, **fields}, state=State(state), created_at=created_at)

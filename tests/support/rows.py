"""Rows a test writes to the database directly, to set up what the bot would have stored."""

from __future__ import annotations

from datetime import datetime

from storage.tables import RequestRow


def request_row(created_at: datetime, **columns) -> RequestRow:
    """A pending one-hour request of U1 for eng-admins on Okta, filed at `created_at`;
    `columns` change any other column."""
    defaults = {"id": "r1", "requester": "U1", "requester_email": "u1@acme.com", "account_id": "00u1",
                "connector_id": "okta", "entitlement_id": "group:00g1:member",
                "entitlement_name": "eng-admins", "duration_seconds": 3600, "justification": "deploy",
                "state": "pending"}
    return RequestRow(**{**defaults, **columns}, created_at=created_at)

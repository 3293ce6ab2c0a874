"""Which requests are in which situation, as SQL conditions: shared by the queries that find
work and the transitions that claim it, so both mean the same by "expired" or "lease over"."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_

from bot.domain.request import Route
from storage.tables import RequestRow

# Requests a worker is granting or revoking through a connector.  Manual ones wait for a
# person to press Done; no lease ever runs out on them.
WORKING_AUTOMATICALLY = RequestRow.state.in_(("provisioning", "revoking")) & RequestRow.manual.is_(False)

LIVE = ("pending", "approved", "provisioning", "active", "revoking")


def granting_on(connector_id: str, account_id: str):
    """Latchkey's own live grants to one account in one connector: being granted or active,
    not held before the request, not an extension (it rides on its original)."""
    return ((RequestRow.connector_id == connector_id) & (RequestRow.account_id == account_id)
            & RequestRow.state.in_(("provisioning", "active")) & RequestRow.extends.is_(None)
            & RequestRow.manual.is_(False) & (RequestRow.route != Route.REVIEW.value)  # it takes away
            & or_(RequestRow.preexisting.is_(None), RequestRow.preexisting.is_(False)))


def lease_over(now: datetime):
    return or_(RequestRow.lease_until.is_(None), RequestRow.lease_until <= now)


def expired(now: datetime):
    return (RequestRow.state == "active") & (RequestRow.expires_at <= now)


def revoking_abandoned(now: datetime):
    """A connector revocation whose worker's lease ran out (it crashed, or waits to retry)."""
    return (RequestRow.state == "revoking") & RequestRow.manual.is_(False) & lease_over(now)

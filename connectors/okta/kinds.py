"""What every Okta resource kind (groups, apps, admin roles) shares beyond connectors/routing.py:
each has exactly one entitlement, named by a fixed slug (`group:00g1abc:member`,
`app:0oa1abc:access`, `role:APP_ADMIN:assigned`).
"""

from __future__ import annotations

from connectors.base import InvalidRequestError


def require_slug(kind: str, expected: str, slug: str) -> None:
    if slug != expected:
        raise InvalidRequestError(
            f"Okta {kind} have only the {expected!r} entitlement, not {slug!r}")

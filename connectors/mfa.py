"""What a connector whose target can confirm a person with a push to their phone (Okta Verify)
offers, for a rule's step-up (found by `push_service`, as connectors/changes.py finds feeds)."""

from __future__ import annotations

from typing import Protocol

from connectors.base import Connector


class PushService(Protocol):
    def send_push(self, email: str) -> str | None:
        """Send the push; where its outcome is polled, or None: no active push factor."""
        ...

    def push_result(self, poll: str) -> str:
        """WAITING, SUCCESS, REJECTED or TIMEOUT (Okta's `factorResult`)."""
        ...


def push_service(connector: Connector) -> PushService | None:
    """The connector as a push service, or None when its target has none."""
    send = getattr(connector, "send_push", None)
    return connector if callable(send) else None  # type: ignore[return-value]

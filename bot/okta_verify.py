"""Step-up pushes through Okta Verify: the adapter behind bot/ports.py's `PushVerifier`, over
the first connector whose target can send a push (connectors/mfa.py; Okta's).

Which factor to use and how to poll is the connector's business; this maps its answers and
errors onto the core's: no push factor is NoPushFactorError, a transaction Okta no longer knows
has timed out, and an Okta that cannot answer is StepUpUnavailableError (a poll is simply tried
again at the next round).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from bot.domain.errors import NoPushFactorError, StepUpUnavailableError
from bot.domain.step_up import PushResult
from bot.ports import NoPushService, PushVerifier
from connectors.base import Connector, ConnectorError, NotFoundError
from connectors.mfa import PushService, push_service

log = logging.getLogger(__name__)


class OktaVerify:
    def __init__(self, service: PushService) -> None:
        self._service = service

    def send_push(self, email: str) -> str:
        try:
            poll = self._service.send_push(email)
        except ConnectorError as exc:
            log.warning("cannot send a step-up push: %s", exc)
            raise StepUpUnavailableError("Okta cannot send the push to your phone right now: "
                                         "please try again in a minute.") from exc
        if poll is None:
            raise NoPushFactorError("This approval must be confirmed with Okta Verify, and you have "
                                    "no active Okta Verify push set up: set it up in Okta (or "
                                    "leave this to another approver).")
        return poll

    def push_result(self, poll: str) -> PushResult:
        try:
            result = self._service.push_result(poll)
        except NotFoundError:
            return PushResult.TIMEOUT  # Okta forgets a transaction once it has expired
        except ConnectorError as exc:
            raise StepUpUnavailableError(str(exc)) from exc
        if result.startswith(PushResult.WAITING.value):  # also "WAITING" with a number challenge
            return PushResult.WAITING
        try:
            return PushResult(result)
        except ValueError:
            raise StepUpUnavailableError(f"Okta answered an unknown factorResult {result[:40]!r}") from None


def push_verifier(connectors: Mapping[str, Connector]) -> PushVerifier:
    """Okta Verify through the first connector that can send a push, else nobody can step up."""
    for connector in connectors.values():
        service = push_service(connector)
        if service is not None:
            return OktaVerify(service)
    return NoPushService()

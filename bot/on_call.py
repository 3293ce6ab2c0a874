"""Who is on call, as PagerDuty and Opsgenie show it: the adapter behind bot/ports.py's `OnCall`,
one client per service the `on_call:` section configures.

What being on call allows is the core's business (bot/domain/on_call.py); this only reads the
services and maps their JSON to shifts.  A service that cannot answer (down, slow, 5xx or 429
after its short retries, refusing the credentials, an unknown schedule) raises
OnCallUnknownError, as does an answer that is not the service's JSON: nobody is ever taken as
on call because a lookup failed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from bot.config.on_call import OnCallConfig
from bot.domain.errors import OnCallUnknownError
from bot.domain.on_call import OnCallShift
from connectors.base import ConnectorError
from connectors.opsgenie.client import OpsgenieClient
from connectors.pagerduty.client import PagerDutyClient

log = logging.getLogger(__name__)

Clients = dict[str, PagerDutyClient | OpsgenieClient]


class OnCallServices:
    def __init__(self, config: OnCallConfig | None, sleep: Callable[[float], None] = time.sleep) -> None:
        self._lock, self._sleep = threading.Lock(), sleep
        self._config: OnCallConfig | None = None
        self._clients: Clients = {}
        self.configure(config)

    def configure(self, config: OnCallConfig | None) -> None:
        """Use these services from now on (at start-up and when the config is reloaded)."""
        with self._lock:
            if config == self._config:
                return
            old, self._config, self._clients = self._clients, config, self._built(config)
        for client in old.values():
            client.close()

    def _built(self, config: OnCallConfig | None) -> Clients:
        clients: Clients = {}
        if config and config.pagerduty:
            clients["pagerduty"] = PagerDutyClient(config.pagerduty.url, config.pagerduty.token.get_secret_value(),
                                                   sleep=self._sleep)
        if config and config.opsgenie:
            clients["opsgenie"] = OpsgenieClient(config.opsgenie.url, config.opsgenie.api_key.get_secret_value(),
                                                 sleep=self._sleep)
        return clients

    def close(self) -> None:
        self.configure(None)

    def on_call(self, source: str, schedules: tuple[str, ...] = (),
                escalation_policies: tuple[str, ...] = ()) -> list[OnCallShift]:
        with self._lock:
            client = self._clients.get(source)
        try:
            if isinstance(client, PagerDutyClient):
                # One question per kind: PagerDuty's filters, given together, must both match.
                found = [*(client.on_calls(schedules, ()) if schedules else ()),
                         *(client.on_calls((), escalation_policies) if escalation_policies else ())]
                return [shift for on_call in found if (shift := _pagerduty_shift(on_call)) is not None]
            if isinstance(client, OpsgenieClient):
                return [OnCallShift(email, source, schedule) for schedule in schedules
                        for email in client.on_call_recipients(schedule)]
        except (ConnectorError, ValueError) as exc:  # ValueError: an answer that is not its JSON
            log.warning("cannot learn who is on call in %s: %s", source, exc)
            raise OnCallUnknownError(str(exc) or type(exc).__name__) from exc
        raise OnCallUnknownError(f"no on-call service {source} is configured")


def _pagerduty_shift(on_call: dict) -> OnCallShift | None:
    """A PagerDuty on-call as a shift; None for one without an email (users not included)."""
    email = (on_call.get("user") or {}).get("email")
    if not email:
        return None
    return OnCallShift(email=str(email), source="pagerduty",
                       schedule=(on_call.get("schedule") or {}).get("id"),
                       escalation_policy=(on_call.get("escalation_policy") or {}).get("id"),
                       level=int(on_call.get("escalation_level") or 1))

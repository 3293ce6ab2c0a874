"""The PagerDuty rota the on-call tests share, in its sandbox."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sandbox.pagerduty import Level, PagerDutySandbox


@contextmanager
def pagerduty_rota(token: str, emails: Iterable[str]) -> Iterator[PagerDutySandbox]:
    """PRIMARY has Carol on call; OPS escalates PRIMARY, then SECONDARY (Dave), then Erin."""
    with PagerDutySandbox({token}) as sandbox:
        for email in emails:
            sandbox.add_user(email)
        sandbox.add_schedule("PRIMARY", "carol@acme.com")
        sandbox.add_schedule("SECONDARY", "dave@acme.com")
        sandbox.add_policy("OPS", Level(schedules=["PRIMARY"]), Level(schedules=["SECONDARY"]),
                           Level(users=[sandbox.user_id("erin@acme.com")]))
        yield sandbox

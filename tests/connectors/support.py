"""Helpers every connector's tests share (fixtures are in conftest.py)."""

from __future__ import annotations

import socket
from collections.abc import Callable

from connectors.base import Page, Prior

NOTHING_HELD = Prior(held=False)  # the account had none of it before the grant
MAX_ATTEMPTS = 4  # tries per call the tests' clients make: enough to see backoff, quick to exhaust


def drain(fetch: Callable[[str | None], Page]) -> list:
    """Every item of a paged list, following the cursor to the end."""
    items, cursor = [], None
    while True:
        page = fetch(cursor)
        items += page.items
        cursor = page.next_cursor
        if cursor is None:
            return items


def url_with_no_listener() -> str:
    """A loopback URL whose port was free a moment ago and has no listener now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"

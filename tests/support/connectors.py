"""Helpers every connector's tests share (fixtures are in tests/contract/connectors/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.base import ConnectorError, Page, Prior
from tests.support.harness import free_port

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
    return f"http://127.0.0.1:{free_port()}"


def error_texts(failures: list[Callable[[], object]]) -> list[str]:
    """Each call in `failures` must raise a ConnectorError: what it and its cause say when shown
    or logged, for a test to look for secrets in."""
    texts = []
    for failure in failures:
        with pytest.raises(ConnectorError) as raised:
            failure()
        texts += [str(raised.value), repr(raised.value), repr(raised.value.__cause__)]
    return texts

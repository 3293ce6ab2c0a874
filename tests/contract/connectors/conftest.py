"""Fixtures every connector's tests share; each test module adds its sandbox and its org."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from connectors.base import Connector


@pytest.fixture
def waits() -> list[float]:
    """The waits a client asked for: handed to it as `sleep`, so retries cost no real time."""
    return []


@pytest.fixture
def closing() -> Iterator[Callable[[Connector], Connector]]:
    """Hands a connector back and closes it when the test ends."""
    opened: list[Connector] = []

    def keep(connector):
        opened.append(connector)
        return connector

    yield keep
    for connector in opened:
        connector.close()

"""Reading a running bot's Prometheus metrics."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families


def scrape(bot) -> dict[tuple[str, tuple], float]:
    """Every sample `GET /metrics` shows, by name and sorted labels."""
    answer = httpx.get(bot.url + "/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(answer.text) for s in family.samples}


def value(samples, name: str, **labels) -> float:
    """One sample of `scrape`'s result; a series never written counts as 0."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)

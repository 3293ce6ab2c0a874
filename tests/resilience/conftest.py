"""Module-scoped sandboxes and bot for the resilience tests, and a throw-away PostgreSQL database.

The property-based tests send hundreds of requests; starting a bot per example would take
minutes, so each module shares one Okta sandbox, one Slack sandbox and one running bot.
"""

from __future__ import annotations

import pytest

from bot.ports import ShiftedClock
from sandbox.okta import OktaSandbox
from tests.resilience.support import RoutedSlack, build_bot
from tests.support.harness import BOT_TOKEN, OKTA_TOKEN, SIGNING_SECRET, Bot, seed_okta, seed_slack
from tests.support.postgres import throwaway_database


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: takes tens of seconds (still part of the default run)")


@pytest.fixture(scope="module")
def okta_m():
    with OktaSandbox(page_size=3, tokens={OKTA_TOKEN: "super_admin"}) as server:
        server.ids = seed_okta(server)
        yield server


@pytest.fixture(scope="module")
def slack_m():
    with RoutedSlack(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as server:
        seed_slack(server)
        yield server


@pytest.fixture(scope="module")
def clock_m():
    return ShiftedClock()


@pytest.fixture(scope="module")
def make_bot_m(tmp_path_factory, okta_m, slack_m, clock_m):
    """Build (not start) a module-wide bot; keyword arguments change the YAML config."""
    bots = []

    def build(**options) -> Bot:
        bots.append(build_bot(tmp_path_factory.mktemp("bot"), okta_m, slack_m, clock_m, **options))
        return bots[-1]

    yield build
    for bot in bots:
        bot.stop()


@pytest.fixture(scope="module")
def postgres_url():
    """A fresh PostgreSQL database for the module; skipped, saying why, when there is no server."""
    with throwaway_database() as url:
        yield url

"""Fixtures: sandbox Slack and Okta servers, and the bot wired to them over real HTTP."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.config import parse_config
from bot.ports import ShiftedClock
from sandbox.okta import OktaSandbox
from sandbox.slack import SlackSandbox
from storage.engine import make_engine, upgrade
from tests.support.config import config_text
from tests.support.harness import (
    BOT_TOKEN,
    OKTA_TOKEN,
    SIGNING_SECRET,
    Bot,
    make_settings,
    seed_okta,
    seed_slack,
)
from tests.support.postgres import throwaway_database


@pytest.fixture
def okta():
    with OktaSandbox(page_size=3, tokens={OKTA_TOKEN: "super_admin"}) as server:
        server.ids = seed_okta(server)
        yield server


@pytest.fixture
def slack():
    with SlackSandbox(bot_token=BOT_TOKEN, signing_secret=SIGNING_SECRET) as server:
        seed_slack(server)
        yield server


@pytest.fixture
def clock():
    return ShiftedClock()


@pytest.fixture(scope="session")
def migrated_database(tmp_path_factory) -> Path:
    """An empty SQLite database at the newest schema, copied for each bot (migrating every time
    would add ~0.4 s to each of the many tests that start one)."""
    path = tmp_path_factory.mktemp("template") / "latchkey.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file we copy
    return path


@pytest.fixture
def make_bot(tmp_path, slack, okta, clock, monkeypatch, migrated_database):
    """Build (not start) a bot; keyword arguments change the YAML config."""
    monkeypatch.setenv("OKTA_API_TOKEN", OKTA_TOKEN)
    okta.system_log.clock = lambda: clock.now().timestamp()  # Okta's time and the bot's agree
    shutil.copy(migrated_database, tmp_path / "latchkey.db")
    bots = []

    def build(sweep_seconds: float = 0.3, **config) -> Bot:
        text = config_text(okta.url, **config)
        (tmp_path / "latchkey.yaml").write_text(text)
        bot = Bot(make_settings(tmp_path, slack.url, sweep_seconds), parse_config(text), clock, slack)
        bots.append(bot)
        return bot

    yield build
    for bot in bots:
        bot.stop()


@pytest.fixture
def bot(make_bot):
    return make_bot().start()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request, tmp_path, migrated_database):
    """An empty, migrated database per test: SQLite always, PostgreSQL when the server is there."""
    if request.param == "sqlite":
        shutil.copy(migrated_database, tmp_path / "test.db")
        engine = make_engine(f"sqlite:///{tmp_path}/test.db")
        yield engine
        engine.dispose()
        return
    with throwaway_database() as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()

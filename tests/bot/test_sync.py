"""Catalog sync: what a token may not read is skipped and said, the rest still syncs."""

from __future__ import annotations

import logging

from bot.ports import SystemClock
from bot.sync import sync_catalog
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from sandbox.okta import OktaSandbox
from storage.engine import make_engine, upgrade
from storage.repositories import Catalog


def test_types_the_token_cannot_read_are_skipped_with_a_warning(tmp_path, caplog):
    """Given a group-and-app admin token (no admin-role reads), when syncing, then groups, apps
    and users arrive, roles are skipped, and the log says why."""
    with OktaSandbox(tokens={"limited": "group_app_admin"}) as okta:
        carol = okta.add_user("carol@acme.com", "Carol")
        group = okta.add_group("eng-admins")
        okta.add_member(group, carol)
        okta.add_app("Grafana")
        engine = make_engine(f"sqlite:///{tmp_path}/c.db")
        upgrade(engine)
        connector = OktaConnector(OktaClient(okta.url, "limited", max_attempts=1))
        with caplog.at_level(logging.WARNING):
            summary = sync_catalog("okta", connector, Catalog(engine), SystemClock())
    catalog = Catalog(engine)
    assert summary.accounts == 1 and summary.holdings == 1
    assert [row.name for row in catalog.search("")] == ["Grafana", "eng-admins"]
    assert "cannot sync" in caplog.text and "role" in caplog.text.lower()
    assert "E0000006" in caplog.text

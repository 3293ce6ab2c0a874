"""Catalog sync: what a token may not read is skipped and said, the rest still syncs."""

from __future__ import annotations

import logging

import pytest
from prometheus_client import CollectorRegistry

from bot.metrics import CATALOG_TYPES_SKIPPED
from bot.ports import SystemClock
from bot.sync import sync_catalog
from connectors.base import PermissionDeniedError, TransientError
from connectors.okta.app_keys import load_app_key
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.oauth import OktaOAuth
from connectors.okta.oauth_capabilities import DEFAULT_SCOPES
from sandbox.okta import OktaSandbox
from storage.catalog import Catalog
from storage.engine import make_engine, upgrade
from tests.support.okta_oauth import pem, public_jwk, rsa_key

REGISTRY = CollectorRegistry()
REGISTRY.register(CATALOG_TYPES_SKIPPED)


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


def okta_org(okta: OktaSandbox) -> None:
    carol = okta.add_user("carol@acme.com", "Carol")
    group = okta.add_group("eng-admins")
    okta.add_member(group, carol)
    okta.add_app("Grafana")


def skipped(connector_id: str, resource_type: str, error: str) -> float:
    return REGISTRY.get_sample_value("latchkey_catalog_types_skipped_total", {
        "connector": connector_id, "resource_type": resource_type, "error": error}) or 0.0


@pytest.mark.parametrize("status, error", [(404, "NotFoundError"), (400, "InvalidRequestError")])
def test_a_type_that_fails_to_list_is_skipped_and_reported(tmp_path, caplog, status, error):
    """Given Okta answers 404 (or 400) when listing apps, when syncing, then groups and users
    still arrive, apps are skipped, and the log and the metric say which type and why."""
    with OktaSandbox(tokens={"t": "super_admin"}) as okta:
        okta_org(okta)
        okta.fail(status, path="/api/v1/apps")
        engine = make_engine(f"sqlite:///{tmp_path}/c.db")
        upgrade(engine)
        before = skipped("okta-404", "app", error)
        with caplog.at_level(logging.WARNING):
            summary = sync_catalog("okta-404", OktaConnector(OktaClient(okta.url, "t", max_attempts=1)),
                                   Catalog(engine), SystemClock())
    assert summary.accounts == 1 and summary.holdings == 1
    names = [row.name for row in Catalog(engine).search("")]
    assert "eng-admins" in names and "Super Administrator" in names and "Grafana" not in names
    assert "cannot sync Okta application" in caplog.text
    assert skipped("okta-404", "app", error) == before + 1


def test_a_target_that_is_down_keeps_the_previous_catalog(tmp_path):
    """Given Okta answers 503 (retries exhausted) when listing apps, then the sync fails as a
    whole and the catalog read before stays, rather than losing the apps for a while."""
    with OktaSandbox(tokens={"t": "super_admin"}) as okta:
        okta_org(okta)
        engine = make_engine(f"sqlite:///{tmp_path}/c.db")
        upgrade(engine)
        connector = OktaConnector(OktaClient(okta.url, "t", max_attempts=1))
        sync_catalog("okta", connector, Catalog(engine), SystemClock())
        before = [row.name for row in Catalog(engine).search("")]
        okta.fail(503, path="/api/v1/apps")
        with pytest.raises(TransientError):
            sync_catalog("okta", connector, Catalog(engine), SystemClock())
    assert "Grafana" in before and [row.name for row in Catalog(engine).search("")] == before


def test_a_service_app_that_sees_no_users_fails_the_sync_and_keeps_the_catalog(tmp_path):
    """Given an org synced once through a service app, when the app loses its admin role (Okta
    then shows it no users, with a 200), then the sync fails saying so, and the catalog read
    before stays: an org without users is not taken for an empty org."""
    with OktaSandbox() as okta:
        okta_org(okta)
        app = okta.add_service_app({"k1": public_jwk(rsa_key("app"), "k1")})
        auth = OktaOAuth(okta.url, app, [load_app_key(pem(rsa_key("app")), "k1")], DEFAULT_SCOPES)
        connector = OktaConnector(OktaClient(okta.url, auth, max_attempts=1))
        engine = make_engine(f"sqlite:///{tmp_path}/c.db")
        upgrade(engine)
        sync_catalog("okta", connector, Catalog(engine), SystemClock())
        before = Catalog(engine).search("")
        okta.oauth.apps[app].roles.clear()
        with pytest.raises(PermissionDeniedError, match="sees no users: it probably has no admin role"):
            sync_catalog("okta", connector, Catalog(engine), SystemClock())
        connector.close()
    assert before and Catalog(engine).search("") == before

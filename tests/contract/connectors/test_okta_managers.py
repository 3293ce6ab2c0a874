"""Who manages whom, read from the Okta sandbox over real HTTP through the Okta connector: the
profile's `managerId` names the manager by user id, read afresh at every check; an Okta outage
is an answer nobody passes on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bot.domain.errors import ManagerUncheckableError
from bot.managers import OktaManagers
from connectors.http import FORM_ATTEMPTS
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.settings import OktaSettings
from sandbox.okta import OktaSandbox
from tests.support.connectors import MAX_ATTEMPTS

TOKEN = "okta-managers-secret-91c3"


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    with OktaSandbox(tokens={TOKEN: "super_admin"}) as sandbox:
        yield sandbox


@pytest.fixture
def people(okta: OktaSandbox) -> dict[str, str]:
    ids = {name: okta.add_user(f"{name}@example.com", name.title(), "Example")
           for name in ("mona", "ray", "other")}
    okta.set_manager(ids["ray"], ids["mona"])
    return ids


@pytest.fixture
def managers(okta, waits, closing) -> OktaManagers:
    client = OktaClient(okta.url, TOKEN, max_attempts=MAX_ATTEMPTS, sleep=waits.append)
    return OktaManagers(closing(OktaConnector(client)))


def test_the_manager_named_by_manager_id_is_the_manager(okta, people, managers):
    """Given Ray's profile names Mona's user id as managerId, then Mona manages Ray, and nobody else does."""
    assert managers.is_manager("Mona@Example.com", "ray@example.com")
    assert not managers.is_manager("other@example.com", "ray@example.com")
    assert not managers.is_manager("ray@example.com", "mona@example.com")  # not the other way round


def test_the_profile_holds_the_manager_as_okta_does(okta, people, waits):
    """Given a manager set, then the user object (GET /api/v1/users/{id}) carries managerId (a user id) and manager (a display name)."""
    client = OktaClient(okta.url, TOKEN, max_attempts=MAX_ATTEMPTS, sleep=waits.append)
    profile = client.get_user(people["ray"])["profile"]
    client.close()
    assert profile["managerId"] == people["mona"]
    assert profile["manager"] == "Mona Example"


def test_a_manager_changed_in_okta_counts_at_the_next_check(okta, people, managers):
    """Given Mona managed Ray, when Okta names someone else, then the next check says Mona is not his manager."""
    assert managers.is_manager("mona@example.com", "ray@example.com")
    okta.set_manager(people["ray"], people["other"])
    assert not managers.is_manager("mona@example.com", "ray@example.com")
    assert managers.is_manager("other@example.com", "ray@example.com")


def test_nobody_manages_someone_without_a_manager_or_an_account(okta, people, managers):
    """Given Mona has no manager, and nobody has the email stranger@, then nobody is their manager."""
    assert not managers.is_manager("ray@example.com", "mona@example.com")
    assert not managers.is_manager("mona@example.com", "stranger@example.com")


def test_an_okta_outage_is_uncheckable_never_a_pass(okta, people, managers):
    """Given Okta answers 503 every time, when checking, then ManagerUncheckableError, not a yes or a no."""
    okta.fail(503, times=MAX_ATTEMPTS, path="/api/v1/users")
    with pytest.raises(ManagerUncheckableError):
        managers.is_manager("mona@example.com", "ray@example.com")


def test_the_lookup_a_form_waits_on_gives_up_within_the_forms_seconds(okta, people):
    """Given Okta answers 503 however often it is asked, when the form's lookup (the settings'
    build_for_forms) checks a manager, then it is uncheckable after two short tries, within
    Slack's 3 seconds for a form."""
    settings = OktaSettings.model_validate({"type": "okta", "domain": okta.url, "token": TOKEN})
    managers = OktaManagers(settings.build_for_forms())
    okta.fail(503, times=100, path="/api/v1/users")
    with pytest.raises(ManagerUncheckableError):
        managers.is_manager("mona@example.com", "ray@example.com")
    assert len(okta.calls_to("GET", "/api/v1/users")) == FORM_ATTEMPTS


def test_a_reviews_manager_is_the_one_the_profile_names_by_email(okta, people, managers):
    """Given Ray's managerId names Mona, then an access review finds Mona's email as his
    manager, nobody for Mona, and nobody for an email without an account."""
    assert managers.manager_of("Ray@Example.com") == "mona@example.com"
    assert managers.manager_of("mona@example.com") is None
    assert managers.manager_of("stranger@example.com") is None
    okta.fail(503, times=MAX_ATTEMPTS, path="/api/v1/users")
    with pytest.raises(ManagerUncheckableError):
        managers.manager_of("ray@example.com")

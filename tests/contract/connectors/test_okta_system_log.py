"""The Okta connector's change feed against the sandbox's System Log over real HTTP: each kind of
change made by hand becomes the change a sync would agree with (the same entitlement ids),
reads page on from the next link, and an expired cursor, a 429 and an outage each end as the
poller needs them to."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from connectors.base import FeedGapError, InvalidRequestError, TransientError
from connectors.changes import (
    AccountActivated,
    AccountDeactivated,
    ChangePage,
    EntitlementAppeared,
    EntitlementGone,
    MembershipAdded,
    MembershipRemoved,
    change_feed,
)
from connectors.okta.client import LOG_PAGE, OktaClient
from connectors.okta.connector import OktaConnector
from connectors.okta.roles import STANDARD_ROLES
from connectors.okta.system_log import EVENT_TYPES, FILTER
from sandbox.okta import OktaSandbox
from tests.support.connectors import MAX_ATTEMPTS, drain

TOKEN = "okta-feed-token"
LOGS = "/api/v1/logs"


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    with OktaSandbox(page_size=3, tokens={TOKEN: "super_admin"}) as sandbox:
        yield sandbox


@pytest.fixture
def org(okta) -> dict[str, str]:
    return {"ada": okta.add_user("ada@example.com", "Ada", "Lovelace"),
            "bob": okta.add_user("bob@example.com", "Bob", "Builder"),
            "eng": okta.add_group("eng-admins"), "sales": okta.add_group("Sales"),
            "app": okta.add_app("Salesforce")}


@pytest.fixture
def connector(okta, waits, closing) -> OktaConnector:
    return closing(OktaConnector(OktaClient(okta.url, TOKEN, max_attempts=MAX_ATTEMPTS,
                                            sleep=waits.append)))


def started() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


def synced_id(connector: OktaConnector, kind: str, resource_id: str) -> str:
    """The entitlement id a full sync gives the resource."""
    resource = next(r for r in drain(lambda c: connector.list_resources(kind, c)) if r.id == resource_id)
    [entitlement] = connector.list_entitlements(resource)
    return entitlement.id


def read_all(connector: OktaConnector) -> ChangePage:
    return connector.read_changes(None, started())


def test_okta_is_a_change_feed_named_as_okta_names_it(connector):
    assert change_feed(connector) is connector and connector.feed_name == "System Log"


def test_memberships_changed_by_hand_are_the_memberships_a_sync_would_list(okta, org, connector):
    """Given a user added to one group and removed from another by hand, then the feed says so
    in the order it happened, with the ids a sync uses."""
    okta.add_member(org["sales"], org["bob"])
    okta.console.add_member(org["eng"], org["ada"])
    okta.console.remove_member(org["sales"], org["bob"])
    page = read_all(connector)
    assert page.changes == [MembershipAdded(synced_id(connector, "group", org["eng"]), org["ada"]),
                            MembershipRemoved(synced_id(connector, "group", org["sales"]), org["bob"])]
    assert page.caught_up and page.entries == 2 and page.limit_per_minute == 120


def test_a_read_goes_on_from_the_position_the_last_one_gave(okta, org, connector):
    okta.console.add_member(org["eng"], org["ada"])
    first = read_all(connector)
    assert connector.read_changes(first.position, started()).changes == []
    okta.console.remove_member(org["eng"], org["ada"])
    later = connector.read_changes(first.position, started())
    assert [type(c) for c in later.changes] == [MembershipRemoved] and later.position != first.position
    asked = okta.calls_to("GET", LOGS)
    assert [c.arg("since") is not None for c in asked] == [True, False, False]
    assert {c.arg("after") for c in asked[1:]} == {first.position}
    assert {(c.arg("sortOrder"), c.arg("filter"), c.arg("limit"), c.arg("until")) for c in asked} == {
        ("ASCENDING", FILTER, str(LOG_PAGE), None)}


def test_only_the_event_types_it_translates_are_asked_for_and_failures_are_ignored(okta, org, connector):
    okta.system_log.record("user.session.start", {"id": org["ada"], "type": "User"}, [])
    okta.system_log.record("group.user_membership.add", {"id": "x", "type": "User"},
                           [{"id": org["ada"], "type": "User"}, {"id": org["eng"], "type": "UserGroup"}],
                           outcome="FAILURE")
    page = read_all(connector)
    assert page.changes == [] and page.entries == 1  # the sign-in is never even read
    assert set(EVENT_TYPES) >= {"group.user_membership.add", "application.user_membership.remove",
                                "user.account.privilege.grant", "group.lifecycle.create",
                                "user.lifecycle.deactivate"}


def test_a_group_created_by_hand_appears_as_a_sync_would_list_it_and_goes(okta, org, connector):
    group = okta.console.create_group("incident-responders", description="paged at night")
    page = read_all(connector)
    resource = next(r for r in drain(lambda c: connector.list_resources("group", c)) if r.id == group)
    assert page.changes == [EntitlementAppeared(e) for e in connector.list_entitlements(resource)]
    assert page.changes[0].entitlement.requestable
    okta.console.delete_group(group)
    assert connector.read_changes(page.position, started()).changes == [
        EntitlementGone(f"group:{group}:member")]


def test_app_assignments_are_read_back_direct_or_through_a_group(okta, org, connector):
    """Given a direct assignment and one that a group brings, then each is reported as it is
    now (direct or not, as a sync marks it); an unassignment as a removal."""
    okta.assign_app_group(org["app"], org["sales"])
    access = synced_id(connector, "app", org["app"])
    okta.console.assign_app(org["app"], org["ada"])
    okta.console.add_member(org["sales"], org["bob"])
    page = read_all(connector)
    assert set(page.changes) >= {MembershipAdded(access, org["ada"], direct=True),
                                 MembershipAdded(access, org["bob"], direct=False)}
    okta.console.unassign_app(org["app"], org["ada"])
    assert connector.read_changes(page.position, started()).changes == [
        MembershipRemoved(access, org["ada"])]


def test_admin_roles_are_read_back_for_every_standard_role_of_the_user(okta, org, connector):
    okta.assign_role(org["ada"], "REPORT_ADMIN")
    okta.console.grant_role(org["ada"], "HELP_DESK_ADMIN")
    changes = read_all(connector).changes
    held = {c.entitlement_id for c in changes if isinstance(c, MembershipAdded)}
    assert held == {synced_id(connector, "role", "HELP_DESK_ADMIN"),
                    synced_id(connector, "role", "REPORT_ADMIN")}
    assert len(changes) == len(STANDARD_ROLES) and {c.account_id for c in changes} == {org["ada"]}


def test_users_deactivated_and_activated_by_hand(okta, org, connector):
    okta.console.deactivate_user(org["bob"])
    page = read_all(connector)
    assert page.changes == [AccountDeactivated(org["bob"])]
    okta.console.activate_user(org["bob"])
    [activated] = connector.read_changes(page.position, started()).changes
    assert isinstance(activated, AccountActivated)
    assert (activated.account.id, activated.account.email, activated.account.active) == (
        org["bob"], "bob@example.com", True)


def test_a_full_page_says_there_is_more(okta, org, connector):
    for n in range(LOG_PAGE + 5):
        (okta.console.add_member if n % 2 == 0 else okta.console.remove_member)(org["eng"], org["ada"])
    first = read_all(connector)
    assert not first.caught_up and first.entries == LOG_PAGE
    rest = connector.read_changes(first.position, started())
    assert rest.caught_up and rest.entries == 5


# -- what the poller must tell apart ----------------------------------------------------------
def test_an_expired_cursor_is_a_gap_and_a_bad_first_read_is_not(okta, org, connector):
    page = read_all(connector)
    okta.system_log.expire_cursors()
    with pytest.raises(FeedGapError, match="from where Latchkey stopped"):
        connector.read_changes(page.position, started())
    with pytest.raises(InvalidRequestError) as raised:
        connector.read_changes(None, datetime.now(UTC) - timedelta(days=200))
    assert not isinstance(raised.value, FeedGapError)


def test_a_429_is_waited_out_as_okta_says(okta, org, connector, waits):
    okta.rate_limit(times=1, path=LOGS, reset_in=3)
    okta.console.add_member(org["eng"], org["ada"])
    assert len(read_all(connector).changes) == 1
    assert len(waits) == 1 and 2 <= waits[0] <= 4.5


def test_an_outage_outlasting_the_retries_is_transient(okta, org, connector, waits):
    okta.system_log.down = True
    began = time.monotonic()
    with pytest.raises(TransientError):
        read_all(connector)
    assert len(waits) == MAX_ATTEMPTS - 1 and time.monotonic() - began < 5

"""One whole Slack story per connector type, through the bot, against each sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.celigo import CeligoSandbox
from sandbox.percipio import DEFAULT_ORGANIZATION, PercipioSandbox
from sandbox.slack_forms import buttons
from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.slack import request_access, texts


@pytest.fixture
def celigo():
    with CeligoSandbox(tokens={"celigo-token": "admin"}) as server:
        yield server


@pytest.fixture
def percipio():
    with PercipioSandbox(tokens={"percipio-token": "user-management,content-discovery,reporting"}) as server:
        yield server


def test_celigo_administrator_for_a_while_then_back_to_monitor(make_bot, slack, celigo, clock):
    """Given Carol is a Celigo 'monitor' with access to one integration, when she is granted the
    administrator role and it expires, then her share is exactly as it was before."""
    carol = celigo.add_share("carol@acme.com", "Carol", "monitor", accountMFARequired=True)
    celigo.add_share("alice@acme.com", "Alice", "administrator")
    celigo.add_integration("Orders to NetSuite", access={carol: "manage"})
    before = celigo.share(carol)
    celigo_bot(make_bot, celigo)

    request_access(slack, search="Celigo Admin", pick="Celigo Administrator")
    eventually(lambda: slack.dm(ALICE))
    slack.click(ALICE, "approve")
    eventually(lambda: celigo.share(carol)["accessLevel"] == "administrator")
    assert celigo.share(carol)["integrationAccessLevel"] == before["integrationAccessLevel"]
    eventually(lambda: "You now have" in texts(slack.dm(CAROL)))

    clock.advance(timedelta(hours=5))
    eventually(lambda: celigo.share(carol)["accessLevel"] == "monitor")
    after = celigo.share(carol)
    assert {k: v for k, v in after.items() if k != "lastModified"} == \
        {k: v for k, v in before.items() if k != "lastModified"}
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))


def celigo_bot(make_bot, celigo):
    return make_bot(connectors={"celigo": {"type": "celigo", "token": "celigo-token", "base_url": celigo.url,
                                           "owners": ["U0ALICE"]}}).start()


def grant_on_top(bot, slack, first: str, then: str) -> tuple:
    """Carol asks for `first` for 1 h, Alice approves; then for `then` for 4 h, Alice approves.
    Returns both requests once both are active (the shorter first)."""
    for pick, duration in ((first, "1h"), (then, "4h")):
        request_access(slack, search="Celigo", pick=pick, duration=duration)
        eventually(lambda: [m for m in slack.dm(ALICE) if pick in texts([m]) and any(
            b.get("action_id") == "approve" for b in buttons(m))])
        slack.click(ALICE, "approve")
        eventually(lambda: [r for r in bot.service.lifecycle.of_requester(CAROL)
                            if r.state.value == "active" and r.entitlement_name.endswith(pick)])
    return tuple(sorted(bot.service.lifecycle.of_requester(CAROL), key=lambda r: r.duration))


def test_celigo_manage_then_administrator_on_top_ends_at_monitor_again(make_bot, slack, celigo, clock):
    """Given Carol is a Celigo 'monitor', when she gets Manage for 1 h and then Administrator for
    4 h on top, then the level is Administrator while it lasts, still Administrator when Manage
    ends, and back to monitor (not Latchkey's own Manage) when Administrator ends."""
    carol = celigo.add_share("carol@acme.com", "Carol", "monitor")
    bot = celigo_bot(make_bot, celigo)

    manage, admin = grant_on_top(bot, slack, "Celigo Manage (all integrations)",
                                 "Celigo Administrator")
    assert celigo.share(carol)["accessLevel"] == "administrator"

    clock.advance(timedelta(minutes=90))  # Manage ends; Administrator is still granted
    eventually(lambda: bot.request(manage.id).state == "revoked")
    assert celigo.share(carol)["accessLevel"] == "administrator"

    clock.advance(timedelta(hours=3))  # Administrator ends too
    eventually(lambda: bot.request(admin.id).state == "revoked")
    assert celigo.share(carol)["accessLevel"] == "monitor"


def test_celigo_administrator_then_manage_keeps_manage_until_it_ends(make_bot, slack, celigo, clock):
    """Given Carol is a Celigo 'monitor', when she gets Administrator for 1 h and then Manage for
    4 h, then Manage writes nothing while Administrator lasts, the level drops to Manage (not
    monitor) when Administrator ends, and to monitor when Manage ends; a sync meanwhile reports no
    drift, since the wider level includes Manage."""
    carol = celigo.add_share("carol@acme.com", "Carol", "monitor")
    bot = celigo_bot(make_bot, celigo)

    admin, manage = grant_on_top(bot, slack, "Celigo Administrator",
                                 "Celigo Manage (all integrations)")
    assert celigo.share(carol)["accessLevel"] == "administrator"
    clock.advance(timedelta(minutes=1))
    bot.service.sync("celigo")

    clock.advance(timedelta(minutes=90))  # Administrator ends; Manage is still granted
    eventually(lambda: bot.request(admin.id).state == "revoked")
    assert celigo.share(carol)["accessLevel"] == "manage"

    clock.advance(timedelta(hours=3))
    eventually(lambda: bot.request(manage.id).state == "revoked")
    assert celigo.share(carol)["accessLevel"] == "monitor"
    bot.service.notifier.close()
    assert "Drift" not in texts(slack.dm(ALICE))


def test_percipio_course_becomes_a_task_for_the_owners(make_bot, slack, percipio, clock):
    """Given Percipio cannot be provisioned, when Carol's course request is approved, then Bob
    gets a task with Done; the access starts when he presses it, and at expiry he is asked to
    take it back. Carol sees the difference."""
    percipio.add_user("carol@acme.com", "Carol", "Acme")
    percipio.add_course("Kubernetes Security")
    make_bot(connectors={"learning": {"type": "percipio", "token": "percipio-token", "base_url": percipio.url,
                                      "organization_id": DEFAULT_ORGANIZATION, "owners": ["U0BOB"]}}).start()

    request_access(slack, search="Kubernetes", pick="Kubernetes Security (completed)")
    eventually(lambda: slack.dm(BOB))
    slack.click(BOB, "approve")
    eventually(lambda: "Please give" in texts(slack.dm(BOB)))
    eventually(lambda: "grant it by hand" in texts(slack.dm(CAROL)))
    slack.click(BOB, "task_done")
    eventually(lambda: "granted you" in texts(slack.dm(CAROL)))
    clock.advance(timedelta(hours=5))
    eventually(lambda: "Please take" in texts(slack.dm(BOB)))
    slack.click(BOB, "task_done")
    eventually(lambda: "taken it back" in texts(slack.dm(CAROL)))
    # Latchkey never wrote to Percipio: its only POSTs ask for the read-only activity report.
    assert all("/report-requests/" in c.path for c in percipio.calls_to("POST", ".*"))


@pytest.fixture
def segment():
    from sandbox.segment import SegmentSandbox

    with SegmentSandbox(tokens={"segment-token": "workspace_owner"}) as server:
        yield server


def test_segment_role_on_one_source_then_back(make_bot, slack, segment, clock):
    """Given Carol already holds a role on another source, when she is granted 'Source Admin' on
    the checkout source and it expires, then her permissions are exactly as before."""
    carol = segment.add_user("carol@acme.com", "Carol")
    admin = segment.add_role("Source Admin", "Edit the source")
    reader = segment.add_role("Source Read-only")
    segment.add_source("checkout-web")
    billing = segment.add_source("billing-api")
    segment.set_permissions(carol, [{"roleId": reader, "resources": [{"id": billing, "type": "SOURCE"}]}])
    before = segment.permissions(carol)
    make_bot(connectors={"segment": {"type": "segment", "token": "segment-token", "base_url": segment.url,
                                     "owners": ["U0ALICE"]}}).start()

    request_access(slack, search="checkout", pick="Source Admin on checkout-web")
    eventually(lambda: slack.dm(ALICE))
    slack.click(ALICE, "approve")
    eventually(lambda: any(p["roleId"] == admin for p in segment.permissions(carol)))
    assert [p for p in segment.permissions(carol) if p["roleId"] == reader] == before
    eventually(lambda: "You now have" in texts(slack.dm(CAROL)))  # recorded as active
    clock.advance(timedelta(hours=5))
    eventually(lambda: segment.permissions(carol) == before)
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))


@pytest.mark.parametrize("group_assigned", ["before the last sync", "after the last sync"])
def test_okta_app_access_held_through_a_group_is_granted_directly_either_way(
        make_bot, slack, okta, clock, group_assigned):
    """Given Carol uses Salesforce through a group assigned to the app (before or after the
    last sync), when she asks for Salesforce, then the form accepts it both times, a direct
    assignment is made, and at expiry it goes back to the group's (GROUP scope), which stays."""
    app, carol = okta.add_app("Salesforce"), okta.ids["carol@acme.com"]
    assign_group = lambda: okta.assign_app_group(app, okta.ids["prod-readers"])  # noqa: E731
    if group_assigned == "before the last sync":
        assign_group()
    bot = make_bot().start()
    if group_assigned == "after the last sync":
        assign_group()
    assert okta.app_users(app) == {carol: "GROUP"}

    _, answer = request_access(slack, search="Salesforce", pick="Salesforce", duration="1h")
    assert answer.status_code == 200 and not answer.content, answer.text  # no "You already have"
    eventually(lambda: slack.dm(ALICE))
    slack.click(ALICE, "approve")
    eventually(lambda: okta.app_users(app) == {carol: "USER"})
    [request] = bot.service.lifecycle.of_requester(CAROL)
    eventually(lambda: bot.request(request.id).state == "active")

    clock.advance(timedelta(hours=2))
    eventually(lambda: bot.request(request.id).state == "revoked")
    assert okta.app_users(app) == {carol: "GROUP"}

"""The whole loop over real HTTP: /request-access → owner approval → Okta membership → expiry."""

from __future__ import annotations

from datetime import timedelta

from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.slack import request_access, texts


def test_request_approve_grant_and_expire(bot, slack, okta, clock):
    """Given a synced Okta org, when Carol asks for eng-admins and Alice approves, then Carol is
    added to the group, everyone is told, and at expiry the membership is removed again."""
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]

    _, answer = request_access(slack)
    assert answer.status_code == 200 and not answer.content  # the modal closes
    assert slack.open_view(CAROL) is None

    approval = eventually(lambda: [m for m in slack.dm(ALICE) if "Approve" in str(m["blocks"])])[0]
    eventually(lambda: [m for m in slack.dm(BOB) if "Approve" in str(m["blocks"])])
    assert "<@U0CAROL>" in texts([approval]) and "eng-admins" in texts([approval])
    assert "Deploy the INC-42 hotfix" in texts([approval]) and "4 hours" in texts([approval])
    eventually(lambda: "Cancel request" in texts(slack.dm(CAROL)))
    assert carol not in okta.members(group)

    assert slack.click(ALICE, "approve").status_code == 200
    eventually(lambda: carol in okta.members(group))
    eventually(lambda: "You now have" in texts(slack.dm(CAROL)))
    for owner in (ALICE, BOB):  # every owner's DM shows who decided, and no buttons remain
        eventually(lambda: "Approved by <@U0ALICE>" in texts(slack.dm(owner))
                   and "'approve'" not in texts(slack.dm(owner)))
    request_id = bot.service.lifecycle.queries.in_states("active")[0].id

    clock.advance(timedelta(hours=4, seconds=1))
    eventually(lambda: carol not in okta.members(group))
    eventually(lambda: "has ended" in texts(slack.dm(CAROL)))
    assert [e.action for e in bot.service.lifecycle.audit.events(request_id)] == [
        "submitted", "approved", "claim", "activate", "expire", "finish"]

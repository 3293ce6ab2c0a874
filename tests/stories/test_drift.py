"""Drift: after a sync, access that no longer matches what Latchkey did is reported to the owners."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.support.harness import ALICE, OKTA_TOKEN, eventually
from tests.support.requests import approved
from tests.support.slack import texts


def okta_admin(okta, method: str, group: str, user: str) -> None:
    """Someone changes the membership in Okta directly, outside Latchkey."""
    response = httpx.request(method, f"{okta.url}/api/v1/groups/{group}/users/{user}",
                             headers={"Authorization": f"SSWS {OKTA_TOKEN}"})
    assert response.status_code == 204


def test_access_removed_outside_latchkey_is_reported_once(bot, slack, okta, clock):
    """Given active access that an Okta admin removed by hand, when the catalog is synced, then
    the owners are told once, the audit log records it, and a second sync does not repeat it."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    group, carol = okta.ids["eng-admins"], okta.ids["carol@acme.com"]
    okta_admin(okta, "DELETE", group, carol)
    clock.advance(timedelta(minutes=1))
    bot.service.sync("okta")
    eventually(lambda: "no longer shows it" in texts(slack.dm(ALICE)))
    bot.service.sync("okta")
    bot.service.notifier.close()  # wait until anything queued has been sent
    assert len([m for m in slack.dm(ALICE) if "Drift" in texts([m])]) == 1
    assert [e.action for e in bot.service.lifecycle.audit.events(request.id)].count("drift") == 1


def test_access_put_back_after_revocation_is_reported(bot, slack, okta, clock):
    """Given Latchkey revoked access and someone re-added it in Okta, then the next sync reports it."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    clock.advance(timedelta(hours=5))
    eventually(lambda: bot.request(request.id).state == "revoked")
    okta_admin(okta, "PUT", okta.ids["eng-admins"], okta.ids["carol@acme.com"])
    clock.advance(timedelta(minutes=1))
    bot.service.sync("okta")
    eventually(lambda: "still shows it" in texts(slack.dm(ALICE)))


def test_a_fresh_grant_is_not_drift(bot, slack, okta):
    """Given access granted after the snapshot began, then it is not reported as missing."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    assert bot.service.sync("okta") is not None
    bot.service.notifier.close()
    assert "Drift" not in texts(slack.dm(ALICE))

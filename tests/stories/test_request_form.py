"""The request form: typeahead, pre-filled search, and every validation answered in the modal."""

from __future__ import annotations

import pytest

from tests.support.harness import ALICE, CAROL, ERIN, eventually
from tests.support.slack import assert_refused, option_for, options, request_access, submit_form


def test_typeahead_offers_only_requestable_okta_groups(bot, slack):
    """Given Okta has OKTA_GROUP, APP_GROUP and BUILT_IN groups, then only OKTA_GROUPs are offered."""
    slack.command(CAROL)
    eventually(lambda: slack.open_view(CAROL))
    assert options(slack, CAROL, "ADMINS") == ["eng-admins", "data-admins", "billing-admins"]
    assert options(slack, CAROL, "Salesforce") == []
    assert options(slack, CAROL, "Everyone") == []


def test_text_after_the_command_prefills_the_search(bot, slack):
    """Given `/request-access eng-admins`, then the form opens with eng-admins chosen; given
    `/request-access admins`, then the empty typeahead already lists the matches."""
    slack.command(CAROL, text="eng-admins")
    modal = eventually(lambda: slack.open_view(CAROL))
    assert modal["blocks"][0]["element"]["initial_option"]["text"]["text"] == "eng-admins"
    slack.command(ALICE, text="admins")
    eventually(lambda: slack.open_view(ALICE))
    assert options(slack, ALICE, "") == ["eng-admins", "data-admins", "billing-admins"]


@pytest.mark.parametrize("where", ["command text", "channel name", "team domain", "user name"])
def test_the_word_payload_anywhere_in_a_command_opens_the_form(bot, slack, where):
    """Given "payload" in the command text, the channel's name, the workspace's domain or the
    user's name, when they type `/request-access`, then the form opens as for anyone else."""
    user, text, channel = CAROL, "admins", "C0GENERAL"
    if where == "command text":
        text = "payload-admins"
    elif where == "channel name":
        channel = "C0PAYLOAD"
        slack.add_channel(channel, "payload-team")
    elif where == "team domain":
        slack.workspace.team_domain = "payloadco"
    else:
        user = "U0PAYLOAD"
        slack.add_user(user, "payload.fan@acme.com")
    response = slack.command(user, text=text, channel_id=channel)
    assert response.status_code == 200, response.text
    modal = eventually(lambda: slack.open_view(user))
    assert text in modal["private_metadata"]


def test_a_workspace_named_payload_can_request_and_approve(bot, slack):
    """Given the workspace `payloadco`, then the whole story works: command, typeahead,
    submission, the owner's Approve click."""
    slack.workspace.team_domain = "payloadco"
    request_access(slack)
    eventually(lambda: slack.dm(ALICE))
    slack.click(ALICE, "approve")
    request = bot.service.lifecycle.queries.in_states("pending", "approved", "provisioning", "active")[0]
    eventually(lambda: bot.request(request.id).state == "active")


def test_durations_are_capped_by_the_policy(bot, slack):
    """Given durations [1h, 4h, 8h, 1d] and a maximum of 8h, then 1d is not offered."""
    slack.command(CAROL)
    modal = eventually(lambda: slack.open_view(CAROL))
    offered = [o["value"] for o in modal["blocks"][1]["element"]["options"]]
    assert offered == ["1h", "4h", "8h"]


def test_duration_over_the_maximum_is_refused(bot, slack):
    """Given a tampered submission of 1d, then the modal says the longest allowed is 8 hours."""
    slack.command(CAROL)
    eventually(lambda: slack.open_view(CAROL))
    with slack.lock:  # a modified client adds a choice the bot never offered
        slack.workspace.top_modal(CAROL)["blocks"][1]["element"]["options"].append(
            {"text": {"type": "plain_text", "text": "1 day"}, "value": "1d"})
    slack.submit(CAROL, {"access": option_for(bot, "eng-admins"), "duration": "1d",
                         "justification": "need it"})
    assert_refused(bot, slack, CAROL, "duration", "8 hours")


def test_empty_justification_is_refused(bot, slack):
    """Given only spaces as the reason, then the modal asks for one."""
    submit_form(slack, access=option_for(bot, "eng-admins"), why="   ")
    assert_refused(bot, slack, CAROL, "justification", "why")


def test_unknown_item_is_refused(bot, slack):
    """Given an item id that is not in the catalog (tampered), then the modal refuses it."""
    forged = {"text": {"type": "plain_text", "text": "root"}, "value": "okta|group:00gNOPE:member"}
    submit_form(slack, access=forged)
    assert_refused(bot, slack, CAROL, "access", "not something you can request")


def test_app_group_cannot_be_requested_even_by_a_forged_value(bot, slack, okta):
    """Given the id of an APP_GROUP (synced, but Okta manages its members), then it is refused."""
    gid = okta.ids["Salesforce users"]
    assert bot.service.catalog.entitlement("okta", f"group:{gid}:member") is not None
    forged = {"text": {"type": "plain_text", "text": "Salesforce users"},
              "value": f"okta|group:{gid}:member"}
    submit_form(slack, access=forged)
    assert_refused(bot, slack, CAROL, "access", "not something you can request")


def test_requester_without_okta_account_is_refused(bot, slack):
    """Given Erin has no Okta account, then her request is refused in the modal, naming her email."""
    submit_form(slack, user=ERIN, access=option_for(bot, "eng-admins"))
    assert_refused(bot, slack, ERIN, "access", "erin@acme.com")


def test_access_already_held_is_refused(bot, slack):
    """Given Carol is already in prod-readers, then asking for it is refused (we would never
    revoke access she had before)."""
    submit_form(slack, access=option_for(bot, "prod-readers"))
    assert_refused(bot, slack, CAROL, "access", "already have prod-readers")


def test_identical_pending_request_is_refused(bot, slack):
    """Given a pending request for eng-admins, when Carol asks again, then the second is refused."""
    request_access(slack)
    eventually(lambda: slack.dm(ALICE))
    submit_form(slack, access=option_for(bot, "eng-admins"))
    errors = slack.view_errors(CAROL)
    assert "waiting" in errors["access"]
    assert len(bot.service.lifecycle.queries.in_states("pending")) == 1
    assert len(slack.dm(ALICE)) == 1


def test_help_answers_ephemerally(bot, slack):
    """Given `/request-access help`, then only the requester sees how to use it; no modal opens."""
    slack.command(CAROL, text="help")
    assert "request-access" in str(slack.responses(CAROL)[-1])
    assert slack.open_view(CAROL) is None


def test_requests_per_person_are_rate_limited(make_bot, slack):
    """Given a limit of 2 requests an hour, when Carol asks a third time, then the form refuses
    it and no approver is bothered."""
    bot = make_bot(max_requests_per_hour=2).start()
    for name in ("eng-admins", "billing-admins"):
        submit_form(slack, access=option_for(bot, name))
        assert slack.open_view(CAROL) is None
    eventually(lambda: len(slack.dm(ALICE)) == 2)
    submit_form(slack, access=option_for(bot, "data-admins"))
    assert "2 requests in the last hour" in slack.view_errors(CAROL)["access"]
    assert len(bot.service.lifecycle.queries.in_states("pending")) == 2

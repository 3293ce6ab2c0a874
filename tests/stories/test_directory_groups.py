"""SlackDirectory.members_of_group against the Slack sandbox over HTTP, wired as in the service."""

from __future__ import annotations

import shutil

import pytest
from slack_sdk.errors import SlackApiError

from bot.slack.app import web_client
from bot.slack.directory import FRESH_FOR, RECHECK_MISS_AFTER, SlackDirectory
from storage.chat import People
from storage.engine import make_engine
from tests.support.harness import ALICE, BOB, BOT_TOKEN, CAROL


@pytest.fixture
def directory(slack, clock, tmp_path, migrated_database):
    shutil.copy(migrated_database, tmp_path / "latchkey.db")
    engine = make_engine(f"sqlite:///{tmp_path / 'latchkey.db'}")
    yield SlackDirectory(web_client(BOT_TOKEN, slack.url + "/api/"), People(engine), clock)
    engine.dispose()


def lists(slack) -> int:
    """usergroups.list calls so far (slack_sdk sends them as POST, though Slack also takes GET)."""
    return sum(len(slack.calls_to(verb, "/api/usergroups.list")) for verb in ("GET", "POST"))


def test_a_group_is_found_by_handle_with_or_without_at_and_by_id(slack, directory):
    group_id = slack.add_user_group("security-team", [ALICE, BOB])
    for name in ("@security-team", "security-team", group_id, "@Security-Team", " @security-team "):
        assert directory.members_of_group(name) == [ALICE, BOB], name


def test_unknown_and_disabled_groups_are_none(slack, directory):
    disabled_id = slack.add_user_group("old-team", [ALICE], disabled=True)
    for name in ("@nobody", "S0NOSUCH", "@old-team", disabled_id, ""):
        assert directory.members_of_group(name) is None, name


def test_members_are_read_afresh_and_the_handle_map_is_kept_for_fresh_for(slack, directory, clock):
    """Someone taken out of the group stops counting at once; the group list is fetched hourly."""
    group_id = slack.add_user_group("security-team", [ALICE, BOB])
    assert directory.members_of_group("@security-team") == [ALICE, BOB]
    slack.set_user_group_members(group_id, [CAROL])
    assert directory.members_of_group("@security-team") == [CAROL]
    assert lists(slack) == 1
    clock.advance(FRESH_FOR)
    assert directory.members_of_group("@security-team") == [CAROL]
    assert lists(slack) == 2


def test_a_group_made_after_the_list_was_read_is_found_within_a_minute(slack, directory, clock):
    """A miss is looked up again, at most once per RECHECK_MISS_AFTER: usergroups.list is Tier 2."""
    slack.add_user_group("security-team", [ALICE])
    assert directory.members_of_group("@security-team") == [ALICE]
    slack.add_user_group("dba", [BOB])
    assert directory.members_of_group("@dba") is None
    assert directory.members_of_group("@dbaa") is None
    assert lists(slack) == 1
    clock.advance(RECHECK_MISS_AFTER)
    assert directory.members_of_group("@dba") == [BOB]
    assert lists(slack) == 2


def test_a_group_disabled_after_the_list_was_read_is_none(slack, directory):
    group_id = slack.add_user_group("security-team", [ALICE])
    assert directory.members_of_group("@security-team") == [ALICE]
    slack.disable_user_group(group_id)
    assert directory.members_of_group("@security-team") is None
    assert directory.members_of_group(group_id) is None


@pytest.mark.parametrize("method", ["usergroups.list", "usergroups.users.list"])
@pytest.mark.parametrize("error", ["fatal_error", "missing_scope"])
def test_slack_failures_reach_the_caller(slack, directory, method, error):
    """An outage, or an install made before usergroups:read was added, is not "no such group"."""
    slack.add_user_group("security-team", [ALICE])
    slack.fail(method, error=error)
    with pytest.raises(SlackApiError) as raised:
        directory.members_of_group("@security-team")
    assert raised.value.response["error"] == error
    assert directory.members_of_group("@security-team") == [ALICE]

"""Approval channels in the config: where a rule's approvers are asked, validated at load."""

from __future__ import annotations

import pytest

from bot.config import ConfigError, parse_config
from bot.domain.notify import Notify, NotifyMode
from tests.support.config import offline_config_text


def rules_of(**policy):
    text = offline_config_text(("U0ALICE", "U0BOB"), durations=["1h"], max_duration="1h", **policy)
    book = parse_config(text).policy.to_rulebook()
    return {rule.name: rule.notify for rule in (book.default, *book.rules)}


def test_approvers_are_asked_by_dm_unless_a_rule_says_otherwise():
    assert rules_of() == {"default": Notify(NotifyMode.DM, None)}


def test_a_rule_takes_the_policys_channel_and_may_change_how_it_is_used():
    """Given the policy posts in C0APPROVE, when a rule says `both` and another `dm`, then each
    keeps the channel and asks as it says."""
    notify = rules_of(approval_channel="C0APPROVE", notify="channel", rules=[
        {"name": "loud", "notify": "both"}, {"name": "quiet", "notify": "dm"},
        {"name": "elsewhere", "approval_channel": "C0OTHER"}])
    assert notify == {"default": Notify(NotifyMode.CHANNEL, "C0APPROVE"),
                      "loud": Notify(NotifyMode.BOTH, "C0APPROVE"),
                      "quiet": Notify(NotifyMode.DM, "C0APPROVE"),
                      "elsewhere": Notify(NotifyMode.CHANNEL, "C0OTHER")}
    assert notify["quiet"].in_channel is False and notify["loud"].by_dm is True
    assert notify["default"].by_dm is False


@pytest.mark.parametrize("mode", ["channel", "both"])
def test_asking_in_a_channel_without_naming_one_is_refused_at_load(mode):
    with pytest.raises(ConfigError, match=f"policy: notify: {mode} needs `approval_channel`"):
        rules_of(notify=mode)


def test_a_rule_that_asks_in_a_channel_nobody_named_is_refused_by_name():
    with pytest.raises(ConfigError, match="rule 'ops': notify: channel needs `approval_channel`"):
        rules_of(rules=[{"name": "ops", "notify": "channel"}])


@pytest.mark.parametrize("setting", [{"approval_channel": "#approvals"}, {"approval_channel": "U0ALICE"},
                                     {"notify": "email"}])
def test_a_channel_name_a_user_id_or_an_unknown_mode_is_refused(setting):
    with pytest.raises(ConfigError, match="approval_channel|notify"):
        rules_of(**setting)

"""`latchkey check` verifies each approval channel (conversations.info) before a request needs it."""

from __future__ import annotations

from bot.check import OK, PROBLEM, run_checks
from bot.config import parse_config
from tests.support.config import config_text
from tests.support.harness import OKTA_TOKEN, make_settings


def channel_rows(tmp_path, slack, okta, monkeypatch) -> dict[str, tuple[str, str]]:
    monkeypatch.setenv("OKTA_API_TOKEN", OKTA_TOKEN)
    rules = [{"name": "ops", "approval_channel": "C0NOBOT", "notify": "both"},
             {"name": "gone", "approval_channel": "C0GONE", "notify": "channel"},
             {"name": "quiet", "approval_channel": "C0QUIET", "notify": "dm"}]  # never posted in
    config = parse_config(config_text(okta.url, policy={"approval_channel": "C0APPROVE", "notify": "channel"},
                                      rules=rules))
    return {f.what: (f.status, f.detail) for f in run_checks(make_settings(tmp_path, slack.url), config)
            if f.what.startswith("approval channel")}


def test_each_approval_channel_gets_a_row_saying_whether_the_app_can_post_there(tmp_path, slack, okta,
                                                                              monkeypatch):
    """Given channels the app is in, was never invited to, and that do not exist, then each
    channel a rule posts in has a row: ok, or a problem saying what to do."""
    slack.add_channel("C0APPROVE", "access-approvals")
    slack.add_channel("C0NOBOT", "ops-approvals", bot=False)
    rows = channel_rows(tmp_path, slack, okta, monkeypatch)
    assert rows == {
        "approval channel C0APPROVE": (OK, "#access-approvals: the app can post requests there"),
        "approval channel C0GONE": (PROBLEM, "Slack answered channel_not_found: no such channel, "
                                             "or a private one the app is not in"),
        "approval channel C0NOBOT": (PROBLEM, "the app is not in #ops-approvals: invite it there "
                                              "(/invite @Latchkey); until then its requests are asked by DM"),
    }

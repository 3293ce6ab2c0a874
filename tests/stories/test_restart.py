"""What a restart records: the configuration it starts with, when that changed."""

from __future__ import annotations

import json

from bot.config import parse_config
from tests.support.config import config_text
from tests.support.harness import OKTA_TOKEN


def test_a_changed_config_is_audited_without_its_secrets(make_bot, okta):
    """Given a bot restarted first with the same config and then with another approvals count,
    then the audit log records the first start and the change to `policy`, never the token."""
    bot = make_bot().start()
    bot.restart()  # same config: nothing new to record
    bot.stop()
    bot.config = parse_config(config_text(okta.url, approvals=2))
    bot.start()
    loaded = [e for e in bot.service.lifecycle.audit.events() if e.action == "config_loaded"]
    assert [json.loads(e.detail)["changed"] for e in loaded] == [
        ["connectors.okta", "policy"], ["policy"]]
    assert all(OKTA_TOKEN not in e.detail for e in loaded)

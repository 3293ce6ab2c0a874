"""The YAML config file is reloaded while Latchkey runs: the policy and owners change at once,
a bad file is refused (and audited) while the running config stays, connector settings wait for
a restart, and no secret reaches the audit log on the way."""

from __future__ import annotations

import json
import logging
import os
from datetime import timedelta

from bot.config import parse_config
from bot.reload import ConfigWatcher
from tests.support.config import as_yaml, config_data, config_text, edit_config
from tests.support.harness import ALICE, BOB, CAROL, DAVE, ERIN, OKTA_TOKEN, eventually, forge_click
from tests.support.requests import pending_request
from tests.support.slack import assert_refused, ephemeral_answers, option_for


def open_form(slack, user) -> dict:
    """/request-access, and the modal that opened for it (not one left open from before)."""
    before = (slack.open_view(user) or {}).get("id")
    slack.command(user)
    return eventually(lambda: (v := slack.open_view(user)) and v["id"] != before and v)


def offered(modal) -> list[str]:
    block = next(b for b in modal["blocks"] if b.get("block_id") == "duration")
    return [o["value"] for o in block["element"]["options"]]


def audited(bot, action: str) -> list[dict]:
    return [json.loads(e.detail) for e in bot.service.lifecycle.audit.events() if e.action == action]


def test_new_durations_apply_without_a_restart(make_bot, slack, okta):
    """Given durations [1h, 4h, 8h, 1d] up to 8h, when the file changes to [30m, 1h, 2h, 1d] up to
    2h and is checked, then the form offers 30m, 1h and 2h, and a tampered 4h is refused."""
    bot = make_bot().start()
    assert offered(open_form(slack, CAROL)) == ["1h", "4h", "8h"]
    edit_config(bot, okta, durations=["30m", "1h", "2h", "1d"], max_duration="2h")
    assert bot.service.check_config() is True
    assert bot.service.check_config() is False  # nothing changed since
    assert offered(open_form(slack, CAROL)) == ["30m", "1h", "2h"]
    with slack.lock:  # a client still showing the old choices
        slack.workspace.top_modal(CAROL)["blocks"][1]["element"]["options"].append(
            {"text": {"type": "plain_text", "text": "4 hours"}, "value": "4h"})
    slack.submit(CAROL, {"access": option_for(bot, "eng-admins"), "duration": "4h",
                         "justification": "need it"})
    assert_refused(bot, slack, CAROL, "duration", "2 hours")
    assert audited(bot, "config_loaded")[-1]["changed"] == ["policy"]
    assert bot.service.config.policy.max_duration == timedelta(hours=2)


def test_the_file_is_checked_on_a_schedule(make_bot, slack, okta):
    """Given LATCHKEY_RELOAD_SECONDS=0.1, when the file changes, then the new policy applies by
    itself."""
    bot = make_bot()
    bot.settings = bot.settings.model_copy(update={"latchkey_reload_seconds": 0.1})
    bot.start()
    edit_config(bot, okta, durations=["1h", "2h"], max_duration="2h")
    eventually(lambda: bot.service.lifecycle.rules.default.policy.max_duration == timedelta(hours=2))
    assert offered(open_form(slack, CAROL)) == ["1h", "2h"]


def test_a_broken_file_is_refused_and_the_old_policy_keeps_working(make_bot, slack, okta):
    """Given a running bot, when the file stops being YAML and then has a bad max_duration, then
    each is audited as config_rejected naming the problem, once, requests still go through under
    the old policy, and fixing the file applies it."""
    bot = make_bot().start()
    path = bot.settings.latchkey_config
    path.write_text("policy: [durations: 1h\n")
    assert bot.service.check_config() is False
    edit_config(bot, okta, max_duration="8 hours")
    assert bot.service.check_config() is False
    assert bot.service.check_config() is False  # the same bad content is not tried again
    rejected = [d["error"] for d in audited(bot, "config_rejected")]
    assert len(rejected) == 2
    assert "not valid YAML" in rejected[0]
    assert "policy.max_duration" in rejected[1] and "'8 hours' is not a duration" in rejected[1]

    assert bot.service.ready()
    assert offered(open_form(slack, ALICE)) == ["1h", "4h", "8h"]
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")

    edit_config(bot, okta, durations=["1h", "2h"], max_duration="2h")
    assert bot.service.check_config() is True
    assert offered(open_form(slack, ALICE)) == ["1h", "2h"]
    assert len(audited(bot, "config_rejected")) == 2


def test_a_new_owner_can_approve_a_new_request(make_bot, slack, okta):
    """Given owners Alice and Bob, when the file makes Dave the only owner, then Carol's next
    request goes to Dave alone and his approval grants it."""
    bot = make_bot().start()
    edit_config(bot, okta, owners=(DAVE,))
    assert bot.service.check_config() is True
    request = pending_request(bot, slack, approvers=(DAVE,))
    assert slack.dm(ALICE) == [] and slack.dm(BOB) == []
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])
    assert audited(bot, "config_loaded")[-1]["changed"] == ["connectors.okta"]


def test_a_pending_request_survives_the_removal_of_its_rule(make_bot, slack, okta):
    """Given a rule sending eng-* requests to Dave and Carol's request pending under it, when the
    rule is removed from the file, then the request falls back to the default rule: Dave may no
    longer decide it, and an owner's approval grants it."""
    bot = make_bot(rules=[{"name": "eng", "match": {"resource": "eng-*"}, "approvers": ["U0DAVE"]}]).start()
    request = pending_request(bot, slack, approvers=(DAVE,))
    assert request.rule == "eng"
    edit_config(bot, okta)
    assert bot.service.check_config() is True
    forge_click(slack, DAVE, "approve", request.id)
    eventually(lambda: "not an approver" in ephemeral_answers(slack, DAVE))
    assert bot.request(request.id).state == "pending"
    forge_click(slack, ALICE, "approve", request.id)
    eventually(lambda: bot.request(request.id).state == "active")
    assert okta.ids["carol@acme.com"] in okta.members(okta.ids["eng-admins"])


def test_connector_changes_wait_for_a_restart(make_bot, slack, okta, caplog):
    """Given a running okta connector, when the file changes its domain (and its owners), then a
    warning says a restart is needed, the connector keeps talking to the old domain, and the
    owners change at once."""
    bot = make_bot().start()
    connector = bot.service.connectors["okta"]
    bot.settings.latchkey_config.write_text(config_text("http://127.0.0.1:9", owners=(DAVE,)))
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        assert bot.service.check_config() is True
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("restart" in w and "okta (domain)" in w for w in warnings), warnings
    assert bot.service.connectors["okta"] is connector
    assert bot.service.config.connectors["okta"].domain == okta.url
    assert bot.service.config.connectors["okta"].owners == [DAVE]
    request = pending_request(bot, slack, approvers=(DAVE,))
    slack.click(DAVE, "approve")
    eventually(lambda: bot.request(request.id).state == "active")  # granted through the old domain


def test_added_and_removed_connectors_wait_for_a_restart(make_bot, slack, okta, caplog):
    """Given one okta connector, when the file renames it, then the warning names both ids and
    the running connector stays as it was."""
    bot = make_bot().start()
    renamed = config_data(okta.url)
    renamed["connectors"] = {"okta2": renamed["connectors"]["okta"]}
    bot.settings.latchkey_config.write_text(as_yaml(renamed))
    with caplog.at_level(logging.WARNING, logger="bot.service"):
        assert bot.service.check_config() is True
    assert any("okta (removed)" in r.getMessage() and "okta2 (added)" in r.getMessage()
               for r in caplog.records)
    assert list(bot.service.config.connectors) == ["okta"]
    assert list(bot.service.lifecycle.approvers.owners) == ["okta"]


def test_no_secret_reaches_the_audit_log_or_the_logs(make_bot, slack, okta, caplog, monkeypatch):
    """Given the Okta token in the environment, when reloads are accepted (a new token, new
    owners) and rejected (the token where an owner should be, which the validation message would
    quote), then neither the old nor the new token appears in any audit row or log line."""
    new_token = "okta-rotated-secret-value"
    monkeypatch.setenv("NEW_OKTA_TOKEN", new_token)
    bot = make_bot().start()
    caplog.set_level(logging.DEBUG)
    edit_config(bot, okta, owners=('"${OKTA_API_TOKEN}"',))
    assert bot.service.check_config() is False
    edit_config(bot, okta, owners=(DAVE, ERIN))
    bot.settings.latchkey_config.write_text(bot.settings.latchkey_config.read_text().replace(
        "${OKTA_API_TOKEN}", "${NEW_OKTA_TOKEN}"))
    assert bot.service.check_config() is True
    edit_config(bot, okta, owners=("${NEW_OKTA_TOKEN}",))
    assert bot.service.check_config() is False

    rejected = [d["error"] for d in audited(bot, "config_rejected")]
    assert len(rejected) == 2 and all("connectors.okta.owners" in r for r in rejected)
    assert "${OKTA_API_TOKEN}" in rejected[0] and "${NEW_OKTA_TOKEN}" in rejected[1]
    assert any("okta (token)" in r.getMessage() for r in caplog.records)
    assert audited(bot, "config_loaded")[-1]["changed"] == ["connectors.okta"]
    for row in bot.service.lifecycle.audit.events():
        assert OKTA_TOKEN not in row.detail and new_token not in row.detail, row.action
    for record in caplog.records:
        assert OKTA_TOKEN not in record.getMessage() and new_token not in record.getMessage()


# -- the watcher on its own ---------------------------------------------------------------


def watcher_on(path, env):
    applied, rejected = [], []
    return ConfigWatcher(path, applied.append, rejected.append, env=env), applied, rejected


def test_an_edit_that_keeps_size_and_mtime_is_noticed(tmp_path, okta):
    """mtime has a coarse resolution and editors can preserve it: the content decides."""
    path, env = tmp_path / "latchkey.yaml", {"OKTA_API_TOKEN": OKTA_TOKEN}
    path.write_text(config_text(okta.url, approvals=1))
    stat = path.stat()
    watcher, applied, rejected = watcher_on(path, env)
    assert watcher.check() is False and applied == []  # the content the process started with
    path.write_text(config_text(okta.url, approvals=2))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size
    assert watcher.check() is True and applied[0].policy.approvals == 2 and rejected == []


def test_a_configmap_style_symlink_swap_is_noticed(tmp_path, okta):
    """Kubernetes mounts latchkey.yaml -> ..data/latchkey.yaml and swaps the ..data symlink
    to a new directory atomically; the file itself is never written."""
    env = {"OKTA_API_TOKEN": OKTA_TOKEN}
    for name, approvals in (("..2024_01", 1), ("..2024_02", 3)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "latchkey.yaml").write_text(config_text(okta.url, approvals=approvals))
    (tmp_path / "..data").symlink_to("..2024_01")
    (tmp_path / "latchkey.yaml").symlink_to("..data/latchkey.yaml")
    watcher, applied, rejected = watcher_on(tmp_path / "latchkey.yaml", env)
    (tmp_path / "..data_tmp").symlink_to("..2024_02")
    os.replace(tmp_path / "..data_tmp", tmp_path / "..data")
    assert watcher.check() is True and applied[0].policy.approvals == 3


def test_bad_content_is_rejected_once_and_a_missing_file_too(tmp_path, okta):
    path, env = tmp_path / "latchkey.yaml", {"OKTA_API_TOKEN": OKTA_TOKEN}
    good = config_text(okta.url)
    path.write_text(good)
    watcher, applied, rejected = watcher_on(path, env)
    path.write_text(config_text(okta.url, approvals="many"))
    assert watcher.check() is False and watcher.check() is False
    assert len(rejected) == 1 and "policy.approvals" in rejected[0]
    path.unlink()
    assert watcher.check() is False and watcher.check() is False
    assert len(rejected) == 2 and "cannot read config file" in rejected[1]
    path.write_text(good)  # back to what runs: applied again, harmlessly
    assert watcher.check() is True and applied == [parse_config(good, env=env)]


def test_a_config_that_cannot_be_applied_is_tried_again(tmp_path, okta):
    """Applying can fail for reasons outside the file (the audit log's database is down): the
    same content is tried again at the next check instead of being taken for refused."""
    path, env = tmp_path / "latchkey.yaml", {"OKTA_API_TOKEN": OKTA_TOKEN}
    path.write_text(config_text(okta.url))
    failures, applied, rejected = [RuntimeError("database is down")], [], []

    def apply(config):
        if failures:
            raise failures.pop()
        applied.append(config)

    watcher = ConfigWatcher(path, apply, rejected.append, env=env)
    path.write_text(config_text(okta.url, approvals=2))
    assert watcher.check() is False and applied == [] and rejected == []
    assert watcher.check() is True and applied[0].policy.approvals == 2
    assert watcher.check() is False

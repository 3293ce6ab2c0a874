"""`latchkey check` asks the on-call services who is on call for each schedule and policy the
rules name: who it found, nobody (a note), or a service that cannot answer (a problem), never
with the service's key."""

from __future__ import annotations

from bot.check import INFO, OK, PROBLEM, run_checks
from bot.config import parse_config
from sandbox.pagerduty import Level, PagerDutySandbox
from tests.support.config import config_text
from tests.support.harness import OKTA_TOKEN, make_settings

PD_TOKEN = "pd-check-s3cret"


def test_each_on_call_lookup_is_a_row_of_who_it_found_or_why_it_cannot(tmp_path, slack, okta, monkeypatch):
    monkeypatch.setenv("OKTA_API_TOKEN", OKTA_TOKEN)
    monkeypatch.setenv("PAGERDUTY_TOKEN", PD_TOKEN)
    with PagerDutySandbox({PD_TOKEN}) as pagerduty:
        pagerduty.add_user("carol@acme.com")
        pagerduty.add_schedule("PRIMARY", "carol@acme.com")
        pagerduty.add_schedule("EMPTY")
        pagerduty.add_policy("OPS", Level(schedules=["PRIMARY"]), Level(schedules=["EMPTY"]))
        on_call = {"pagerduty": {"token": "${PAGERDUTY_TOKEN}", "url": pagerduty.url}}
        rules = [{"name": "auto", "auto_approve": {"on_call": {"source": "pagerduty", "escalation_policies": ["OPS"]}}},
                 {"name": "routed", "approvers": ["on_call:pagerduty/EMPTY"]}]
        config = parse_config(config_text(okta.url, on_call=on_call, rules=rules))
        rows = {f.what: (f.status, f.detail) for f in run_checks(make_settings(tmp_path, slack.url), config)
                if f.subject == "on_call"}
        assert rows == {"pagerduty OPS": (OK, "on call now: carol@acme.com"),
                        "pagerduty EMPTY": (INFO, "nobody is on call now")}
        pagerduty.tokens = {"rotated-elsewhere"}
        rows = {f.what: (f.status, f.detail) for f in run_checks(make_settings(tmp_path, slack.url), config)
                if f.subject == "on_call"}
    assert {status for status, _ in rows.values()} == {PROBLEM}
    assert "401 Unauthorized" in rows["pagerduty OPS"][1] and PD_TOKEN not in str(rows)

"""On call, in memory: which shift approves a requester at once (schedules, escalation policies,
levels), what an on-call service that cannot answer does (people decide, and it is recorded),
and approvals routed to whoever a schedule has on call, never the requester.  A fake lookup
stands behind bot/ports.py's `OnCall`; tests/contract/connectors/test_on_call.py proves the
adapter against the sandboxes, tests/stories/test_on_call.py the wiring through Slack."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from bot.config import ConfigError, parse_config
from bot.domain.errors import OnCallUnknownError
from bot.domain.events import AutoApproved, OnCallUnknown, RequestSubmitted
from bot.domain.kinds import AutoApproval
from bot.domain.on_call import OnCallCheck, OnCallEntry, OnCallShift
from bot.domain.request import Route, State
from bot.invariants import Invariants
from bot.slack.audit_lines import format_line
from bot.usecases.core import Core
from bot.usecases.submit import Submit
from connectors.masking import mask
from storage.tables import AuditRow
from tests.support.config import offline_config_text
from tests.support.harness import ALICE, CAROL, DAVE
from tests.support.in_memory import OWNERS, POLICY, T0, Form, rulebook

PAGERDUTY = {"pagerduty": {"token": "pd-s3cret-token"}}
CAROL_EMAIL = "carol@acme.com"


def shift(email: str = CAROL_EMAIL, level: int = 1, schedule: str | None = "PRIMARY",
          policy: str | None = "OPS", source: str = "pagerduty") -> OnCallShift:
    return OnCallShift(email, source, schedule, policy, level)


@dataclass
class FakeOnCall:
    """An on-call service as a list of shifts; `down` makes every lookup fail as an outage does."""

    shifts: list[OnCallShift] = field(default_factory=list)
    down: bool = False
    asked: list[tuple] = field(default_factory=list)

    def on_call(self, source: str, schedules: tuple[str, ...] = (),
                escalation_policies: tuple[str, ...] = ()) -> list[OnCallShift]:
        self.asked.append((source, schedules, escalation_policies))
        if self.down:
            raise OnCallUnknownError("PagerDuty GET /oncalls answered 503")
        return [s for s in self.shifts if s.source == source
                and (s.schedule in schedules or s.escalation_policy in escalation_policies)]


def on_call_rule(**check: Any) -> dict:
    return {"name": "on-call", "match": {"resource": "eng-*"},
            "auto_approve": {"on_call": {"source": "pagerduty", "escalation_policies": ["OPS"], **check}}}


def form(*shifts: OnCallShift, down: bool = False, **policy: Any) -> Form:
    return Form(rulebook(on_call=PAGERDUTY, **policy), on_call=FakeOnCall(list(shifts), down))


# -- which shift approves -----------------------------------------------------------------
@pytest.mark.parametrize("max_level, levels, found", [
    (None, [3], 3), (2, [1], 1), (2, [2], 2), (2, [3], None), (2, [3, 1], 1), (1, [], None)])
def test_only_a_shift_at_or_below_the_highest_level_qualifies_and_the_lowest_is_taken(max_level, levels, found):
    check = OnCallCheck("pagerduty", escalation_policies=("OPS",), max_level=max_level)
    qualifying = check.shift_of(CAROL_EMAIL, [shift(level=level) for level in levels])
    assert (qualifying.level if qualifying else None) == found


def test_a_shift_counts_only_for_its_person_its_source_and_the_schedules_or_policies_named():
    check = OnCallCheck("pagerduty", schedules=("PRIMARY",))
    assert check.shift_of("Carol@ACME.com", [shift()]) == shift()  # emails compare without case
    assert check.shift_of(CAROL_EMAIL, [shift(email="dave@acme.com")]) is None
    assert check.shift_of(CAROL_EMAIL, [shift(source="opsgenie")]) is None
    assert check.shift_of(CAROL_EMAIL, [shift(schedule="OTHER", policy="OPS")]) is None
    assert check.shift_of("", [shift(email="")]) is None  # no email: never anyone's shift


def test_an_approver_entry_names_a_source_and_a_schedule():
    assert OnCallEntry.parse("on_call:pagerduty/P1ABCD") == OnCallEntry("pagerduty", "P1ABCD")
    assert str(OnCallEntry.parse("on_call:opsgenie/ops-primary")) == "on_call:opsgenie/ops-primary"
    assert OnCallEntry.parse("alice@acme.com") is None and OnCallEntry.parse("@oncall") is None


def test_a_bundle_auto_approving_more_on_call_people_than_its_item_is_weaker():
    item = AutoApproval(on_call=OnCallCheck("pagerduty", escalation_policies=("OPS",), max_level=1))
    assert AutoApproval(on_call=OnCallCheck("pagerduty", escalation_policies=("OPS",), max_level=1)).within(item)
    for wider in (OnCallCheck("pagerduty", escalation_policies=("OPS",)),
                  OnCallCheck("pagerduty", escalation_policies=("OPS", "DEV"), max_level=1),
                  OnCallCheck("opsgenie", schedules=("OPS",))):
        assert not AutoApproval(on_call=wider).within(item)
    assert not AutoApproval(on_call=item.on_call).within(AutoApproval())


# -- the form ------------------------------------------------------------------------------
def test_a_requester_on_call_within_the_levels_is_approved_at_once_with_the_shift_that_did_it():
    draft = form(shift(level=2), rules=[on_call_rule(max_level=2)]).submit("eng-admins")
    assert draft.request.route == Route.AUTO
    assert draft.auto.shift == shift(level=2) and draft.auto.unknown is None


def test_a_requester_on_call_at_level_3_goes_to_people_where_the_rule_stops_at_level_2():
    draft = form(shift(level=3), rules=[on_call_rule(max_level=2)]).submit("eng-admins")
    assert draft.request.route == Route.PEOPLE and draft.approvers and draft.auto.unknown is None


def test_an_on_call_service_that_cannot_answer_never_approves_and_says_why():
    draft = form(shift(), down=True, rules=[on_call_rule()]).submit("eng-admins")
    assert draft.request.route == Route.PEOPLE and draft.approvers
    assert draft.auto.unknown == "PagerDuty GET /oncalls answered 503"


def test_the_service_is_not_asked_where_the_rule_does_not_look_at_on_call():
    checked = form(shift(), rules=[on_call_rule()])
    checked.submit("data-admins")
    assert checked.on_call.asked == []  # type: ignore[attr-defined]


# -- filing ----------------------------------------------------------------------------------
@dataclass
class Filed:
    """The requests store as filing sees it: what a submission writes, and how many times the
    rule's auto-approval was used already."""

    auto_used: int = 0
    written: list[Any] = field(default_factory=list)

    def guarded(self, requester: str, decide: Any) -> list:
        ledger = SimpleNamespace(live=lambda: [], asked_since=lambda since: 0,
                                 routed_since=lambda rule, route, since: self.auto_used)
        added, _ = decide(ledger)
        self.written += added
        return []

    def events(self) -> list[Any]:
        return [row[1] for row in self.written if isinstance(row, tuple) and row[0] == "audit"]


def file(checked: Form, filed: Filed) -> Any:
    notifier = SimpleNamespace(message=lambda event: ("message", event), wake=lambda: None)
    core = Core(filed, None, SimpleNamespace(entry=lambda event, at: ("audit", event)),  # type: ignore[arg-type]
                notifier, SimpleNamespace(now=lambda: T0), lambda: checked.rules,
                wake=lambda when: None, workers=SimpleNamespace(submit=lambda fn, arg: None))  # type: ignore[arg-type]
    submit = Submit(core, checked.intake, Invariants(lambda: checked.rules, checked.catalog), checked.routing)
    return submit._file(checked.submit("eng-admins"))


def test_an_on_call_auto_approval_is_audited_with_its_source_policy_schedule_and_level():
    filed = Filed()
    request = file(form(shift(level=2), rules=[on_call_rule(max_level=2)]), filed)
    assert request.state is State.APPROVED and request.route == Route.AUTO
    approved = next(e for e in filed.events() if isinstance(e, AutoApproved))
    assert (approved.source, approved.escalation_policy, approved.schedule, approved.level) == \
        ("pagerduty", "OPS", "PRIMARY", 2)


def test_a_lookup_failure_files_the_request_for_people_with_on_call_unknown_audited_and_told():
    filed = Filed()
    request = file(form(down=True, rules=[on_call_rule()]), filed)
    assert request.state is State.PENDING and request.route == Route.PEOPLE
    unknown = [e for e in filed.events() if isinstance(e, OnCallUnknown)]
    assert [(e.source, e.rule) for e in unknown] == [("pagerduty", "on-call")]
    assert ("message", unknown[0]) in filed.written  # the requester is told
    assert next(e for e in filed.events() if isinstance(e, RequestSubmitted)).approvers


def test_an_on_call_requester_past_the_rules_cap_goes_to_people():
    filed = Filed(auto_used=2)
    capped = on_call_rule()
    capped["auto_approve"]["max_uses"] = 2
    request = file(form(shift(), rules=[capped]), filed)
    assert request.route == Route.PEOPLE
    assert not [e for e in filed.events() if isinstance(e, AutoApproved)]


# -- approvals routed to whoever is on call --------------------------------------------------
def routed(*shifts: OnCallShift, down: bool = False, **rule: Any) -> Form:
    return form(*shifts, down=down, rules=[{"name": "on-call-approves", "match": {"resource": "eng-*"},
                                            "approvers": ["on_call:pagerduty/PRIMARY"], **rule}])


def test_whoever_the_schedule_has_on_call_is_asked_and_re_asked_after_a_handover():
    checked = routed(shift(email="dave@acme.com"))
    draft = checked.submit("eng-admins")
    assert draft.approvers == [DAVE]
    checked.on_call.shifts[:] = [shift(email="alice@acme.com")]  # type: ignore[attr-defined]
    assert checked.routing.deciders(draft.request, {}) == [ALICE]  # resolved at every call


def test_the_requester_on_call_is_never_their_own_approver_and_the_fallback_steps_in():
    checked = routed(shift(), fallback=[ALICE])
    draft = checked.submit("eng-admins")
    assert draft.approvers == [ALICE] and CAROL not in checked.routing.deciders(draft.request, {})


def test_the_requester_alone_on_call_with_no_fallback_is_refused_in_the_form():
    assert routed(shift()).problems("eng-admins") == {
        "access": "Nobody but you can approve this, and nobody approves their own request."}


def test_an_on_call_service_that_cannot_answer_asks_nobody_through_it():
    checked = routed(shift(email="dave@acme.com"), down=True, fallback=[ALICE])
    draft = checked.submit("eng-admins")
    assert draft.approvers == [ALICE]
    assert checked.routing.on_call_unknown(draft.request) == (  # what Dave is told if he clicks
        "Latchkey cannot learn who is on call for PRIMARY right now, so whoever is cannot be asked "
        "or decide. Try again in a minute.")


def test_with_nobody_else_to_ask_the_form_says_who_is_on_call_cannot_be_learnt_now():
    assert routed(shift(email="dave@acme.com"), down=True).problems("eng-admins") == {
        "access": "Latchkey cannot learn who is on call for PRIMARY right now, so whoever is cannot "
                  "be asked or decide. Try again in a minute."}


# -- the config ----------------------------------------------------------------------------
def config(on_call: dict | None = None, **policy: Any):
    return parse_config(offline_config_text(OWNERS, on_call=on_call, **{**POLICY, **policy}))


@pytest.mark.parametrize("on_call, rules, words", [
    (None, [on_call_rule()], "rule 'on-call' asks pagerduty who is on call, but `on_call:` does not configure pagerduty"),
    ({"opsgenie": {"api_key": "og-key-1234"}}, [{"name": "r", "approvers": ["on_call:pagerduty/P1"]}],
     "does not configure pagerduty"),
    (PAGERDUTY, [on_call_rule(schedules=[], escalation_policies=[])], "name at least one of schedules"),
    ({"opsgenie": {"api_key": "og-key-1234"}},
     [{"name": "r", "auto_approve": {"on_call": {"source": "opsgenie", "escalation_policies": ["X"]}}}],
     "opsgenie is asked by schedule"),
    (PAGERDUTY, [{"name": "r", "approvers": ["on_call:victorops/P1"]}], "on-call schedule"),
])
def test_a_config_naming_an_unconfigured_or_unusable_on_call_source_is_refused(on_call, rules, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(")):
        config(on_call, rules=rules)


def test_the_on_call_section_keeps_its_secret_out_of_the_rules_and_out_of_every_text():
    loaded = config(PAGERDUTY, rules=[on_call_rule(max_level=1)])
    kind = loaded.policy.to_rulebook().named("on-call").kind(AutoApproval)
    assert kind.on_call == OnCallCheck("pagerduty", (), ("OPS",), 1)
    assert "pd-s3cret-token" not in repr(loaded)
    assert mask("PagerDuty said: key pd-s3cret-token is revoked") == "PagerDuty said: key [redacted] is revoked"


# -- what people read ------------------------------------------------------------------------
def test_the_audit_channel_line_names_where_and_at_which_level_the_requester_was_on_call():
    at = T0
    approved = AuditRow(seq=1, at=at, actor="latchkey", action="auto_approved", request_id="0a1b", detail=json.dumps(
        {"rule": "on-call", "source": "pagerduty", "schedule": "PRIMARY", "escalation_policy": "OPS", "level": 2}))
    assert format_line(approved, "eng-admins") == (
        "2026-12-06 09:00 UTC · latchkey auto-approved `0a1b` · its rule approves it without people"
        " · eng-admins · rule on-call · on call in pagerduty PRIMARY OPS at level 2")
    unknown = AuditRow(seq=2, at=at, actor="latchkey", action="on_call_unknown", request_id="0a1b", detail=json.dumps(
        {"rule": "on-call", "source": "pagerduty", "reason": "PagerDuty GET /oncalls answered 503 <down>"}))
    assert format_line(unknown) == (
        "2026-12-06 09:00 UTC · latchkey could not learn who is on call for `0a1b` · people decide it"
        " instead · rule on-call · asked pagerduty · reason: PagerDuty GET /oncalls answered 503 &lt;down&gt;")


def test_who_is_on_call_is_remembered_for_showing_a_request_and_asked_afresh_for_a_decision():
    """Given a request routed to whoever PRIMARY has on call, then redraws within seconds ask
    the service once, and a decision (forget_on_call) asks it again and sees a handover."""
    checked = routed(shift(email="dave@acme.com"))
    service = checked.on_call
    draft = checked.submit("eng-admins")
    routing = checked.routing  # one routing, as the service has
    assert routing.deciders(draft.request, {}) == [DAVE]
    asked_before = len(service.asked)  # type: ignore[attr-defined]
    for _ in range(3):
        assert routing.deciders(draft.request, {}) == [DAVE]
    assert len(service.asked) == asked_before  # type: ignore[attr-defined]
    service.shifts[:] = [shift(email="alice@acme.com")]  # type: ignore[attr-defined]
    routing.approvers.forget_on_call()
    assert routing.deciders(draft.request, {}) == [ALICE]

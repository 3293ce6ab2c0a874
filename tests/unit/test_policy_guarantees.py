"""The policy's guarantees as rules and config checks, in memory: what the config alone can
break is refused at load, and the pieces the run-time checks are built from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import ConfigError, parse_config
from bot.domain.kinds import AutoApproval, BreakGlass, ExtensionApproval, Ticket
from bot.domain.policy import Policy
from bot.domain.request import AccessRequest, State
from bot.domain.rules import BUNDLE, ApprovalStep, Bundle, Rule, RuleBook, Target
from bot.invariants import Invariants
from tests.support.config import offline_config_text

POLICY = Policy(durations=(timedelta(hours=1), timedelta(hours=8)), max_duration=timedelta(hours=8))
T0 = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def config(policy: dict, owners: tuple[str, ...] = ("U0ALICE", "U0BOB")) -> str:
    return offline_config_text(owners, durations=["1h", "8h"], max_duration="8h", **policy)


# -- refused at load --------------------------------------------------------------------------

def test_steps_under_policy_need_no_approvals_key():
    """Given `policy.steps` and no `approvals`, then the file loads and the default rule has
    those steps."""
    loaded = parse_config(config({"steps": [{"approvers": ["U0ALICE"]}, {"approvers": ["U0BOB"], "approvals": 1}]}))
    steps = loaded.policy.to_rulebook().default.steps
    assert steps == (ApprovalStep(("U0ALICE",), 1), ApprovalStep(("U0BOB",), 1))


def test_steps_and_approvals_together_are_still_refused():
    with pytest.raises(ConfigError, match="use either `steps` or `approvers`/`approvals`"):
        parse_config(config({"approvals": 2, "steps": [{"approvers": ["U0ALICE"]}]}))


def test_break_glass_only_the_requester_could_review_is_refused():
    """Given break-glass on a connector with one owner and no fallback, then the file is
    refused, saying who alone could review it."""
    with pytest.raises(ConfigError, match="rule 'default' allows break_glass, but only U0ALICE could review it"):
        parse_config(config({"break_glass": True}, owners=("U0ALICE",)))


@pytest.mark.parametrize("policy, owners", [
    ({"break_glass": True, "fallback": ["U0DAVE"]}, ("U0ALICE",)),  # someone besides the owner
    ({"break_glass": True}, ("U0ALICE", "U0BOB")),  # two owners review each other
    ({"break_glass": True}, ("@security",)),  # a group: checked when a request is made
])
def test_break_glass_with_a_second_reviewer_loads(policy, owners):
    assert parse_config(config(policy, owners=owners)).policy.break_glass


ENG_NEEDS_TWO = {"name": "eng", "match": {"resource": "eng-*"}, "approvals": 2}
KIT = {"name": "kit", "items": ["okta:eng-admins", "okta:data-admins"]}


def test_a_bundle_weaker_than_its_item_is_refused():
    """Given eng-* needing two approvals and a bundle holding eng-admins under the default rule,
    then the file is refused, naming the bundle, the item and what is missing."""
    with pytest.raises(ConfigError, match=r"bundle 'kit' is weaker than its item okta:eng-admins: "
                                          r"its rule 'default' asks less than rule 'eng'"):
        parse_config(config({"rules": [ENG_NEEDS_TWO], "bundles": [KIT]}))


def test_a_bundle_rule_at_least_as_strict_loads():
    kits = {"name": "kits", "match": {"type": "bundle"}, "steps": [{"approvals": 2}], "max_duration": "1h"}
    loaded = parse_config(config({"rules": [ENG_NEEDS_TWO, kits], "bundles": [KIT]}))
    assert loaded.policy.to_rulebook().rule_for(Target(BUNDLE, BUNDLE, "kit")).name == "kits"


def test_a_bundle_naming_an_unknown_connector_stops_start_up():
    """Given a bundle item on a connector that does not exist, then the config names it."""
    with pytest.raises(ConfigError, match="policy.bundles 'oncall': no connector 'celigo'"):
        on_celigo = {"name": "oncall", "description": "What the on-call engineer needs",
                     "items": ["okta:eng-admins", "celigo:admins"]}
        parse_config(config({"bundles": [on_celigo]}))


def test_max_total_duration_below_max_duration_is_refused():
    with pytest.raises(ConfigError, match="`max_total_duration` is shorter than `max_duration`"):
        parse_config(config({"max_total_duration": "4h"}))


# -- rules ------------------------------------------------------------------------------------

def test_a_rule_governs_a_bundle_only_when_it_says_type_bundle():
    by_name = Rule("by-name", POLICY, resource="oncall-*")
    by_type = Rule("by-type", POLICY, resource_type="bundle", resource="oncall-*")
    bundle = Target(BUNDLE, BUNDLE, "oncall-kit")
    assert not by_name.matches(bundle) and by_type.matches(bundle)
    assert by_name.matches(Target("okta", "group", "oncall-admins"))


@pytest.mark.parametrize("item, weakness", [
    (Rule("x", POLICY, steps=(ApprovalStep(approvals=2),)), "approval step of the owners (2 approvals)"),
    (Rule("x", POLICY, steps=(ApprovalStep(), ApprovalStep(("U0SEC",)))), "approval step of U0SEC"),
    (Rule("x", POLICY, kinds=(Ticket(required=True),)), "same ticket"),
    (Rule("x", Policy(POLICY.durations, timedelta(hours=1))), "max_duration is longer"),
    (Rule("x", Policy(POLICY.durations, POLICY.max_duration, max_total=timedelta(hours=9))) ,
     None),
    (Rule("x", POLICY), "its max_total_duration is longer"),
])
def test_what_makes_a_rule_weaker(item, weakness):
    bundle_rule = Rule("bundles", Policy(POLICY.durations, POLICY.max_duration, max_total=timedelta(hours=9)))
    found = bundle_rule.weaker_than(item)
    assert (weakness is None and found == []) or any(weakness in w for w in found), found


def test_auto_approval_and_break_glass_make_a_bundle_weaker():
    strict = Rule("strict", POLICY)
    assert "it allows break-glass" in Rule("b", POLICY, kinds=(BreakGlass(allowed=True),)).weaker_than(strict)
    assert "it lets extensions through without approval" in Rule(
        "b", POLICY, kinds=(ExtensionApproval(needed=False),)).weaker_than(strict)
    auto = Rule("b", POLICY, kinds=(AutoApproval(slack_groups=("@sre",)),))
    assert any("automatically" in w for w in auto.weaker_than(strict))
    capped = Rule("i", POLICY, kinds=(AutoApproval(slack_groups=("@sre", "@ops"), max_uses=2),))
    assert any("automatically" in w for w in auto.weaker_than(capped))  # no cap where the item has one
    assert Rule("b", POLICY, kinds=(AutoApproval(slack_groups=("@sre",), max_uses=1),)).weaker_than(capped) == []


# -- the access window ------------------------------------------------------------------------

def granted(hours: float) -> AccessRequest:
    return AccessRequest(id="r1", requester="U0CAROL", requester_email="carol@acme.com", account_id="00u1",
                         connector_id="okta", entitlement_id="g", entitlement_name="eng-admins",
                         duration=timedelta(hours=hours), justification="INC-9", state=State.ACTIVE,
                         created_at=T0, granted_at=T0, expires_at=T0 + timedelta(hours=hours))


@pytest.mark.parametrize("held, more, total, exceeded", [
    (4, 4, None, False),  # 8h in all: exactly the maximum
    (8, 1, None, True),  # an extension of an extension past max_duration
    (8, 1, 12, False),  # within a longer max_total_duration
    (11, 2, 12, True),
])
def test_the_whole_window_counts_from_the_first_grant(held, more, total, exceeded):
    rule = Rule("r", Policy(POLICY.durations, POLICY.max_duration,
                            max_total=timedelta(hours=total) if total else None))
    assert Invariants.window_exceeded(granted(held), timedelta(hours=more), rule) is exceeded


def test_conflicts_are_found_in_bundles_and_pending_requests_only_at_submission():
    """Given a conflict between eng-admins and billing-admins, then a pending billing-admins
    request counts against a new eng-admins request, but not against approving one."""
    from bot.domain.rules import Conflict, EntitlementPattern

    conflict = Conflict("build-and-pay", EntitlementPattern("okta", "eng-admins"),
                        EntitlementPattern("okta", "billing-admins"))
    book = RuleBook(Rule("default", POLICY), conflicts=(conflict,),
                    bundles=(Bundle("kit", (("okta", "eng-admins"),)),))

    class Catalog:
        def held_by_email(self, email):
            return []

        def entitlement(self, connector_id, entitlement_id):
            return None

    class Ledger:
        def __init__(self, *live):
            self._live = list(live)

        def live(self):
            return self._live

    other = granted(1)
    pending_billing = AccessRequest(**{**other.__dict__, "id": "r2", "entitlement_name": "billing-admins",
                                       "state": State.PENDING})
    invariants = Invariants(lambda: book, Catalog())
    eng = AccessRequest(**{**other.__dict__, "id": "r3", "state": State.PENDING})
    assert invariants.conflicts(eng, Ledger(pending_billing)) == [conflict]
    assert invariants.uncarried(eng, Ledger(pending_billing)) == []
    approved_billing = AccessRequest(**{**pending_billing.__dict__, "state": State.APPROVED})
    assert invariants.uncarried(eng, Ledger(approved_billing)) == [conflict]


def test_null_in_a_rule_inherits_what_the_policy_cannot_leave_empty():
    """Given a rule with `durations: null` and `remind_after: null`, then the file loads: the rule
    offers the policy's durations and sends no reminders."""
    rules = parse_config(config({"rules": [{
        "name": "quiet", "match": {"resource": "eng-*"},
        "durations": None, "max_duration": None, "remind_after": None}]})).policy.to_rulebook()
    quiet = rules.named("quiet").policy
    assert quiet.offered_durations() == (timedelta(hours=1), timedelta(hours=8))
    assert quiet.remind_after is None

"""Requests for someone else, in memory: who may file (managers, approvers, anyone; nobody by
default), that a bundle allowing more is weaker, what the form refuses, and that neither the
filer nor the person it is for may decide it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import SimpleNamespace

import pytest

from bot.config import ConfigError
from bot.domain.errors import InvalidRequestError, ManagerUncheckableError, SelfApprovalError
from bot.domain.kinds import Filer, FilerStanding, RequestFor
from bot.domain.request import Route, State
from bot.intake import Draft, Intake
from bot.invariants import Invariants
from bot.ports import Person, SystemClock
from bot.usecases.decide import Decide
from tests.support.harness import ALICE, BOB, CAROL, DAVE, PEOPLE
from tests.support.in_memory import Catalog, Form, NoOtherRequests, request, rulebook

MANAGER, APPROVER, NEITHER = (FilerStanding(manager=True, approver=False),
                              FilerStanding(manager=False, approver=True),
                              FilerStanding(manager=False, approver=False))
UNCHECKABLE = FilerStanding(manager=None, approver=False)


# -- who may file ---------------------------------------------------------------------------
@pytest.mark.parametrize("filers, standing, allowed", [
    ((), MANAGER, False),  # the default: nobody files for anyone
    ((Filer.MANAGERS,), MANAGER, True),
    ((Filer.MANAGERS,), APPROVER, False),
    ((Filer.MANAGERS,), NEITHER, False),
    ((Filer.APPROVERS,), APPROVER, True),
    ((Filer.APPROVERS,), MANAGER, False),
    ((Filer.MANAGERS, Filer.APPROVERS), APPROVER, True),
    ((Filer.ANYONE,), NEITHER, True),
])
def test_who_may_file_for_someone_else(filers, standing, allowed):
    """Given a rule's request_for and what the filer is to the beneficiary, then filing is allowed exactly when the rule names what they are."""
    assert (RequestFor(frozenset(filers)).refusal(standing) is None) is allowed


def test_a_manager_okta_cannot_confirm_is_refused_with_try_again():
    """Given request_for: [managers] and Okta unable to answer, then the filer is refused, told to try again: never let through."""
    refusal = RequestFor(frozenset({Filer.MANAGERS})).refusal(UNCHECKABLE)
    assert refusal is not None and "try again" in refusal


@pytest.mark.parametrize("bundle, item, weaker", [
    ({Filer.ANYONE}, {Filer.MANAGERS}, True),
    ({Filer.MANAGERS, Filer.APPROVERS}, {Filer.MANAGERS}, True),
    ({Filer.MANAGERS}, set(), True),
    ({Filer.MANAGERS}, {Filer.MANAGERS, Filer.APPROVERS}, False),
    ({Filer.APPROVERS}, {Filer.ANYONE}, False),
    (set(), set(), False),
])
def test_a_bundle_letting_more_people_file_for_others_is_weaker(bundle, item, weaker):
    """Given a bundle's and an item's request_for, then the bundle is weaker when it lets someone file whom the item's rule does not."""
    found = RequestFor(frozenset(bundle)).weaker_than(RequestFor(frozenset(item)))
    assert (found is not None) is weaker


def test_a_bundle_weaker_in_request_for_is_refused_at_load():
    """Given a bundle whose rule lets anyone file for others over an item whose rule does not, then the config is refused naming it."""
    with pytest.raises(ConfigError, match="lets anyone request for someone else"):
        rulebook(rules=[{"name": "kit-rule", "match": {"type": "bundle"}, "request_for": ["anyone"]}],
                 bundles=[{"name": "kit", "items": ["okta:eng-admins", "okta:data-admins"]}])


def test_an_unknown_kind_of_filer_is_refused_at_load():
    with pytest.raises(ConfigError, match="request_for"):
        rulebook(request_for=["colleagues"])


# -- the form --------------------------------------------------------------------------------
@dataclass
class Managers:
    """Okta's word on who manages whom: (manager email, report email) pairs, or an outage."""

    pairs: tuple[tuple[str, str], ...] = ()
    down: bool = False

    def is_manager(self, manager_email: str, report_email: str) -> bool:
        if self.down:
            raise ManagerUncheckableError("Okta is down")
        return (manager_email, report_email) in self.pairs


def filing(book, managers: Managers, filer: str, beneficiary: str = CAROL, **form) -> Draft:
    """What `filer` filing eng-admins for `beneficiary` comes to."""
    shape = Form(book)
    intake = Intake(NoOtherRequests(), shape.catalog, lambda: book, shape.routing, shape.approvers,
                    Invariants(lambda: book, shape.catalog, managers), SystemClock(), {"okta": True},
                    {"okta": "okta"})
    entitlement = Catalog().entitlement_named("okta", "eng-admins")
    assert entitlement is not None
    return intake.validate(Person(beneficiary, PEOPLE[beneficiary]), "okta", entitlement.id,
                           book.default.policy.offered_durations()[0], "Starts Monday",
                           form.get("ticket", ""), form.get("break_glass", False),
                           Person(filer, PEOPLE[filer]))


def problems(*args, **kwargs) -> dict[str, str]:
    try:
        filing(*args, **kwargs)
    except InvalidRequestError as error:
        return error.problems
    return {}


MANAGED = Managers(((PEOPLE[DAVE], PEOPLE[CAROL]),))


def test_a_manager_files_for_their_report_who_becomes_the_requester():
    """Given Dave manages Carol and managers may file, when Dave files for Carol, then the request is Carol's, filed by Dave, for people to decide."""
    draft = filing(rulebook(request_for=["managers"]), MANAGED, DAVE)
    assert (draft.request.requester, draft.request.filed_by) == (CAROL, DAVE)
    assert draft.request.account_id  # Carol's Okta account gets it
    assert draft.request.route is Route.PEOPLE


def test_nobody_files_for_someone_else_by_default():
    """Given no request_for, when Dave (her manager) files for Carol, then the form refuses it under the person picker."""
    assert "for someone else" in problems(rulebook(), MANAGED, DAVE)["for"]


def test_someone_who_is_not_the_manager_is_refused_in_the_form():
    """Given managers may file, when Alice (not Carol's manager) files for Carol, then the picker says only their manager may."""
    assert "Only their manager" in problems(rulebook(request_for=["managers"]), MANAGED, ALICE)["for"]


def test_an_okta_outage_refuses_the_form_never_passes():
    """Given managers may file and Okta is down, when Dave files for Carol, then the picker says to try again."""
    assert "try again" in problems(rulebook(request_for=["managers"]), Managers(down=True), DAVE)["for"]


def test_an_approver_of_the_rule_may_file_when_approvers_may():
    """Given approvers may file, then Bob (an owner, so an approver) may file for Carol, and Dave may not."""
    book = rulebook(request_for=["approvers"])
    assert filing(book, Managers(), BOB).request.filed_by == BOB
    assert "for" in problems(book, Managers(), DAVE)


def test_break_glass_is_never_for_someone_else():
    """Given a rule allowing break-glass and anyone to file for others, when filing for Carol with break-glass, then the box is refused."""
    book = rulebook(request_for=["anyone"], break_glass=True)
    assert "only for your own access" in problems(book, Managers(), DAVE, break_glass=True)["break_glass"]


def test_auto_approval_does_not_apply_to_a_request_filed_for_someone_else():
    """Given a rule that auto-approves Carol's group, when Dave files for Carol, then people decide it."""
    book = rulebook(request_for=["anyone"], auto_approve={"slack_groups": ["@oncall"]})
    shape = Form(book, directory=replace(Form(book).directory, groups={"oncall": [CAROL]}))
    intake = Intake(NoOtherRequests(), shape.catalog, lambda: book, shape.routing, shape.approvers,
                    Invariants(lambda: book, shape.catalog), SystemClock(), {"okta": True}, {"okta": "okta"})
    entitlement = Catalog().entitlement_named("okta", "eng-admins")
    assert entitlement is not None
    hour = book.default.policy.offered_durations()[0]
    mine = intake.validate(Person(CAROL, PEOPLE[CAROL]), "okta", entitlement.id, hour, "x", "", False)
    assert mine.request.route is Route.AUTO  # her own request would be approved at once
    theirs = intake.validate(Person(CAROL, PEOPLE[CAROL]), "okta", entitlement.id, hour, "x", "", False,
                             Person(DAVE, PEOPLE[DAVE]))
    assert theirs.request.route is Route.PEOPLE


# -- nobody decides their own ------------------------------------------------------------------
def _decide(book, filed) -> Decide:
    shape = Form(book, owners=(DAVE, CAROL, BOB))
    core = SimpleNamespace(get=lambda request_id: filed, lookup=SimpleNamespace(approvals=lambda i: {}))
    return Decide(core, shape.routing, Invariants(lambda: book, shape.catalog), extend=None)  # type: ignore[arg-type]


@pytest.mark.parametrize("who, said", [(DAVE, "they filed for someone else"), (CAROL, "their own request")])
def test_neither_the_filer_nor_the_beneficiary_may_decide(who, said):
    """Given Dave filed for Carol and both are owners, when either clicks Approve or Deny, then it is refused as deciding their own."""
    book = rulebook(owners=(DAVE, CAROL, BOB), request_for=["anyone"])
    filed = request(state=State.PENDING, requester=CAROL, filed_by=DAVE)
    with pytest.raises(SelfApprovalError, match=said):
        _decide(book, filed).check_decidable(filed.id, who)
    assert _decide(book, filed).check_decidable(filed.id, BOB) is filed


def test_the_filer_is_never_among_those_asked():
    """Given Dave filed for Carol and both are owners, then only Bob is asked to decide."""
    book = rulebook(owners=(DAVE, CAROL, BOB), request_for=["anyone"])
    filed = request(state=State.PENDING, requester=CAROL, filed_by=DAVE)
    assert Form(book, owners=(DAVE, CAROL, BOB)).routing.approvers_of(filed) == [BOB]


def test_the_filing_right_is_checked_again_against_the_rule_in_force():
    """Given a request Dave filed as Carol's manager, when Okta no longer says so, or the rule no longer lets managers file, then it is refused."""
    book = rulebook(request_for=["managers"])
    invariants = Invariants(lambda: book, Catalog())
    filed = request(requester=CAROL, filed_by=DAVE)
    assert invariants.filing_problem(filed, MANAGER) is None
    assert invariants.filing_problem(filed, NEITHER) is not None
    book = rulebook()
    assert invariants.filing_problem(filed, MANAGER) is not None
    assert invariants.filing_problem(request(requester=CAROL), NEITHER) is None  # her own: nothing to check


# -- the form's person picker -------------------------------------------------------------------
def _blocks(view: dict) -> list[str]:
    return [block.get("block_id", "") for block in view["blocks"]]


def test_the_person_picker_is_shown_only_where_some_rule_allows_filing_for_others():
    """Given no rule lets anyone file for others, then the form has no picker; given one does,
    then the form opens with it, and a redraw for an item keeps it only under such a rule, or
    when someone is picked already (so the submission says why, not files for the filer)."""
    from bot.slack import blocks

    plain = rulebook()
    assert blocks.FOR not in _blocks(blocks.request_modal(plain))
    some = rulebook(rules=[{"name": "team", "match": {"resource": "team-*"}, "request_for": ["managers"]}])
    assert blocks.FOR in _blocks(blocks.request_modal(some))
    assert blocks.FOR in _blocks(blocks.request_modal_for(some.rules[0]))
    assert blocks.FOR not in _blocks(blocks.request_modal_for(some.default))
    assert blocks.FOR in _blocks(blocks.request_modal_for(some.default, someone_picked=True))
    picker = next(b for b in blocks.request_modal(some)["blocks"] if b.get("block_id") == blocks.FOR)
    assert picker["element"]["type"] == "users_select" and picker["optional"]

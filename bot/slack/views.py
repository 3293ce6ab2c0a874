"""Modal submissions: the request form, the extension form and the deny reason.

Every problem with a submission is answered inside the form (`response_action: errors`), under
the field it concerns: the form stays open with what the person entered.
"""

from __future__ import annotations

import re

from slack_bolt import App
from slack_sdk.errors import SlackApiError

from bot.domain.errors import InvalidRequestError, LatchkeyError
from bot.domain.policy import format_duration, parse_duration
from bot.domain.rules import RuleBook
from bot.ports import Person
from bot.refusals import Refusal
from bot.slack import blocks, wording
from bot.slack.context import Deps
from bot.slack.errors import explain, guarded
from bot.slack.options import still_reading


def _selected(values: dict, block_id: str, action_id: str) -> str | None:
    state = (values.get(block_id) or {}).get(action_id) or {}
    option = state.get("selected_option") or {}
    return option.get("value") if isinstance(option, dict) else None


def _typed(values: dict, block_id: str) -> str:
    state = (values.get(block_id) or {}).get(block_id) or {}
    return state.get("value") or ""


def _checked(values: dict, block_id: str) -> bool:
    state = (values.get(block_id) or {}).get(block_id) or {}
    return any(isinstance(o, dict) and o.get("value") == "yes" for o in state.get("selected_options") or [])


def _picked_user(values: dict, block_id: str) -> str | None:
    state = (values.get(block_id) or {}).get(block_id) or {}
    return state.get("selected_user") or None


def _beneficiary(values: dict, person: str, directory) -> Person | None:
    """The person a request is filed for, when the form names someone other than the filer."""
    picked = _picked_user(values, blocks.FOR)
    if picked is None or picked == person:
        return None
    if not isinstance(picked, str) or not re.fullmatch(r"[UW][A-Z0-9]{2,20}", picked):
        raise InvalidRequestError({blocks.FOR: "Pick a person from the list."})
    try:
        return directory.person(picked)
    except SlackApiError:
        raise InvalidRequestError({blocks.FOR: "Latchkey cannot find that person in Slack."}) from None


def _duration(values: dict):
    """The chosen duration; None when there is none, or it is no duration at all (tampered)."""
    try:
        return parse_duration(str(_selected(values, blocks.DURATION, blocks.DURATION) or ""))
    except ValueError:
        return None


def _tampered(values: dict, rules: RuleBook) -> bool:
    """True for answers the form never offered: a duration no rule offers, or break-glass where
    no rule allows it (the form then has no such box)."""
    duration = _selected(values, blocks.DURATION, blocks.DURATION)
    offered = {format_duration(d) for d in rules.offered_durations()}
    return (duration is not None and duration not in offered) or \
        (_checked(values, blocks.BREAK_GLASS) and not rules.break_glass_anywhere) or \
        (_picked_user(values, blocks.FOR) is not None and not rules.request_for_anywhere)


def _shown(problems: dict[str, str], values: dict) -> dict[str, str]:
    """Errors go under the field they concern; one for a field the form lacks goes under the first."""
    shown: dict[str, str] = {}
    for field, problem in problems.items():
        block = field if field in values else next(iter(values), field)
        shown[block] = f"{shown[block]} {problem}" if block in shown else problem
    return shown


def _submitted(ack, body, view, deps: Deps, attempted: str, request_id: str | None, submit) -> None:
    """Run `submit()`; answer any refusal inside the form, else close it.  A form carrying
    answers it never offered is recorded as a refused attempt (bot/refusals.py)."""
    values, person = view["state"]["values"], body["user"]["id"]
    if _tampered(values, deps.lifecycle.rules):
        deps.refusals.record(person, attempted, Refusal.TAMPERED_FORM, request_id)
    try:
        submit(values, person)
    except InvalidRequestError as error:
        ack(response_action="errors", errors=_shown(error.problems, values))
        return
    except LatchkeyError as error:  # ended meanwhile, already decided, not theirs, no such request
        problem = explain(error, deps, person, attempted, request_id)
        ack(response_action="errors", errors=_shown({"": problem}, values))
        return
    ack()


def register(app: App, deps: Deps) -> None:
    lifecycle = deps.lifecycle

    @app.view(blocks.REQUEST_MODAL)
    @guarded
    def submit_request(ack, body, view):
        def submit(values, person):
            choice = _selected(values, blocks.ACCESS, blocks.ENTITLEMENT_ACTION) or ""
            connector_id, entitlement_id = blocks.parse_entitlement_value(str(choice))
            if not entitlement_id and connector_id in still_reading(deps, set()):
                raise InvalidRequestError({blocks.ACCESS: wording.still_reading(connector_id)
                                           + " Try again in a minute."})
            beneficiary = _beneficiary(values, person, deps.directory)
            filer = deps.directory.person(person)
            lifecycle.submit(beneficiary or filer, connector_id, entitlement_id,
                             _duration(values), _typed(values, blocks.JUSTIFICATION),
                             ticket=_typed(values, blocks.TICKET),
                             break_glass=_checked(values, blocks.BREAK_GLASS),
                             filer=filer if beneficiary else None)
        _submitted(ack, body, view, deps, blocks.REQUEST_MODAL, None, submit)

    @app.view(blocks.EXTEND_MODAL)
    @guarded
    def submit_extension(ack, body, view):
        request_id = view["private_metadata"]

        def extend(values, person):
            lifecycle.extend(request_id, person, _duration(values), _typed(values, blocks.JUSTIFICATION))
        _submitted(ack, body, view, deps, blocks.EXTEND_MODAL, request_id, extend)

    @app.view(blocks.DENY_MODAL)
    @guarded
    def submit_denial(ack, body, view):
        request_id = view["private_metadata"]

        def deny(values, person):
            reason = _typed(values, blocks.REASON).strip()
            if not reason:
                raise InvalidRequestError({blocks.REASON: "Say why, so the requester knows."})
            lifecycle.deny(request_id, person, reason)
        _submitted(ack, body, view, deps, blocks.DENY_MODAL, request_id, deny)

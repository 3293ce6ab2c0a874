"""Block Kit layouts: pure functions from core objects to views and messages.

Wording comes from wording.py; this module only arranges it, within Slack's limits (titles of
24 characters, options of 75/150, at most 100 options, 50 blocks a message).
"""

from __future__ import annotations

import json
from datetime import timedelta

from bot.domain.kinds import BreakGlass, Justification, RequestFor, Ticket
from bot.domain.policy import describe_duration, format_duration
from bot.domain.request import AccessRequest, State
from bot.domain.rules import BUNDLE, Bundle, Rule, RuleBook
from bot.routing import Progress
from bot.slack import wording
from bot.slack.text import clip

REQUEST_MODAL = "request_access"
DENY_MODAL = "deny_reason"
EXTEND_MODAL = "extend_access"
ACCESS, DURATION, JUSTIFICATION, REASON = "access", "duration", "justification", "reason"
TICKET, BREAK_GLASS = "ticket", "break_glass"
ENTITLEMENT_ACTION = "entitlement"
APPROVE, DENY, CANCEL, TASK_DONE, END_NOW = "approve", "deny", "cancel", "task_done", "end_now"
EXTEND, REVIEW, DECLINE = "extend", "review", "decline"
FOR = "for"  # the person a request is filed for, when not the requester
LISTED_AT_MOST = 20  # requests per section: keeps a Home tab within Slack's 100 blocks


def _plain(text: str, limit: int = 75) -> dict:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _section(mrkdwn: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(mrkdwn, 3000)}}


def _context(mrkdwn: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(mrkdwn, 3000)}]}


def _button(text: str, action_id: str, value: str, style: str | None = None) -> dict:
    button = {"type": "button", "text": _plain(text), "action_id": action_id, "value": value}
    return {**button, "style": style} if style else button


# -- the request form --------------------------------------------------------------------
def entitlement_option(connector_id: str, entitlement_id: str, name: str) -> dict | None:
    """One typeahead choice; None when the ids cannot fit Slack's 150-character value."""
    value = f"{connector_id}|{entitlement_id}"
    return {"text": _plain(name), "value": value} if len(value) <= 150 else None


def parse_entitlement_value(value: str) -> tuple[str, str]:
    connector_id, _, entitlement_id = value.partition("|")
    return connector_id, entitlement_id


def still_reading_option(connector_id: str) -> dict:
    """A choice that says why a connector offers nothing yet.  Its value names no entitlement,
    so submitting it is refused (bot/slack/views.py)."""
    return {"text": _plain(wording.still_reading(connector_id)), "value": f"{connector_id}|"[:150]}


def option_groups(rows, still_reading: tuple[str, ...] = ()) -> list[dict]:
    """Typeahead answer: at most 100 choices, grouped by application and kind (okta · group),
    bundles first; first of all, the connectors whose catalog is still being read."""
    groups: dict[str, list[dict]] = {}
    if still_reading:
        groups["Not here yet"] = [still_reading_option(cid) for cid in still_reading[:100]]
    for row in rows:
        if isinstance(row, Bundle):
            option, label = entitlement_option(BUNDLE, row.name, row.name), "Bundles"
        else:
            option, label = entitlement_option(row.connector_id, row.id, row.name), f"{row.connector_id} · {row.resource_type}"
        if option and sum(map(len, groups.values())) < 100:
            groups.setdefault(label, []).append(option)
    return [{"label": _plain(label), "options": options} for label, options in groups.items()]


def request_modal(rules: RuleBook, search: str = "", preselected=None, rule: Rule | None = None) -> dict:
    """The form as it opens.  Until an item is chosen it offers what some rule allows (every
    duration, a ticket field, break-glass); the chosen item's rule checks the answers.  Given the
    `rule` of a `preselected` item, it is drawn for that rule at once (see `request_modal_for`)."""
    chosen = None
    if preselected is not None:
        chosen = entitlement_option(preselected.connector_id, preselected.id, preselected.name)
    if rule is not None:
        return request_modal_for(rule, search, chosen)
    everyone = (rules.default, *rules.rules)
    ticket = _ticket_input(required=False, hint="Required for some access",
                           placeholder="e.g. SEC-1234") if rules.tickets_anywhere else None
    return _request_form(search, chosen, _duration_input(rules.offered_durations()),
                         _justification_input(optional=not all(r.kind(Justification).required for r in everyone)),
                         ticket, rules.break_glass_anywhere, rules.request_for_anywhere)


def request_modal_for(rule: Rule, search: str = "", chosen: dict | None = None,
                      duration: str | None = None, someone_picked: bool = False) -> dict:
    """The form redrawn once the requester has picked `chosen`, for the rule that governs it:
    only its durations (keeping `duration` if it still offers it), the ticket field only if it
    asks for tickets, break-glass only if it allows it, the reason required only if it wants one,
    the person picker only if it lets someone file for others (or someone is picked already: the
    submission then says why not, rather than filing for the requester instead).

    Blocks and elements keep their ids, so Slack keeps what the requester already typed or chose
    (views.update: "Preserving input entry")."""
    return _request_form(search, chosen, _duration_input(rule.policy.offered_durations(), duration),
                         _justification_input(optional=not rule.kind(Justification).required),
                         _rule_ticket_input(rule.kind(Ticket)), rule.kind(BreakGlass).allowed,
                         rule.kind(RequestFor).allowed or someone_picked)


def _request_form(search: str, chosen: dict | None, duration: dict, justification: dict,
                  ticket: dict | None, break_glass: bool, for_others: bool = False) -> dict:
    select = {"type": "external_select", "action_id": ENTITLEMENT_ACTION, "min_query_length": 0,
              "placeholder": _plain("Type to search", 150)}
    if chosen is not None:
        select["initial_option"] = chosen
    # dispatch_action: Slack tells the bot when the choice changes, so it can redraw the form.
    blocks = [{"type": "input", "block_id": ACCESS, "dispatch_action": True,
               "label": _plain("What do you need?", 2000), "element": select},
              duration, justification]
    if for_others:
        blocks.insert(1, {"type": "input", "block_id": FOR, "optional": True,
                          "label": _plain("For someone else?", 2000),
                          "hint": _plain("Leave empty for yourself. The access goes to the person you pick, "
                                         "who is told and may decline it.", 2000),
                          "element": {"type": "users_select", "action_id": FOR,
                                      "placeholder": _plain("Pick a person", 150)}})
    if ticket is not None:
        blocks.append(ticket)
    if break_glass:
        blocks.append({"type": "input", "block_id": BREAK_GLASS, "optional": True,
                       "label": _plain("Emergency", 2000), "element": {
                           "type": "checkboxes", "action_id": BREAK_GLASS, "options": [{
                               "text": _plain("Break glass: grant it now, without approval", 75),
                               "description": _plain("Only where allowed; security is told at once "
                                                     "and reviews it.", 75),
                               "value": "yes"}]}})
    return {
        "type": "modal", "callback_id": REQUEST_MODAL,
        "title": _plain("Request access", 24), "submit": _plain("Request", 24),
        "close": _plain("Cancel", 24),
        "private_metadata": json.dumps({"search": clip(search, 200)}),
        "blocks": blocks,
    }


def _rule_ticket_input(ticket: Ticket) -> dict | None:
    if not ticket.asked:
        return None
    hint = "Required for this access" if ticket.required else "Optional for this access"
    if ticket.pattern:
        hint += f", written as {ticket.pattern}"
    return _ticket_input(required=ticket.required, hint=hint,
                         placeholder=None if ticket.pattern else "e.g. SEC-1234")


def _ticket_input(required: bool, hint: str, placeholder: str | None) -> dict:
    element = {"type": "plain_text_input", "action_id": TICKET, "max_length": 255}
    if placeholder:
        element["placeholder"] = _plain(placeholder, 150)
    return {"type": "input", "block_id": TICKET, "optional": not required,
            "label": _plain("Ticket", 2000), "hint": _plain(hint, 2000), "element": element}


def _duration_input(durations: tuple[timedelta, ...], selected: str | None = None) -> dict:
    options = [{"text": _plain(describe_duration(d)), "value": format_duration(d)} for d in durations]
    initial = next((o for o in options if o["value"] == selected), options[0])
    return {"type": "input", "block_id": DURATION, "label": _plain("For how long?", 2000),
            "element": {"type": "static_select", "action_id": DURATION,
                        "options": options, "initial_option": initial}}


def _justification_input(optional: bool = False) -> dict:
    return {"type": "input", "block_id": JUSTIFICATION, "label": _plain("Why?", 2000), "optional": optional,
            "element": {"type": "plain_text_input", "action_id": JUSTIFICATION,
                        "multiline": True, "max_length": 2000,
                        "placeholder": _plain("What you will do with it", 150)}}


def extend_modal(request: AccessRequest, durations: tuple[timedelta, ...]) -> dict:
    return {
        "type": "modal", "callback_id": EXTEND_MODAL, "private_metadata": request.id,
        "title": _plain("Extend access", 24), "submit": _plain("Ask", 24), "close": _plain("Back", 24),
        "blocks": [_section(wording.extend_prompt(request)), _duration_input(durations),
                   _justification_input()],
    }


def modal_search(view: dict) -> str:
    try:
        return str(json.loads(view.get("private_metadata") or "{}").get("search", ""))
    except (ValueError, AttributeError):
        return ""


def deny_modal(request: AccessRequest) -> dict:
    return {
        "type": "modal", "callback_id": DENY_MODAL, "private_metadata": request.id,
        "title": _plain("Deny request", 24), "submit": _plain("Deny", 24),
        "close": _plain("Back", 24),
        "blocks": [
            _section(wording.deny_prompt(request)),
            {"type": "input", "block_id": REASON, "label": _plain("Reason (the requester sees it)", 2000),
             "element": {"type": "plain_text_input", "action_id": REASON, "multiline": True,
                         "max_length": 1000}},
        ],
    }


# -- messages ------------------------------------------------------------------------------
def approver_message(request: AccessRequest, progress: Progress, viewer: str) -> dict:
    """The DM an approver gets: Approve / Deny only while `viewer` may act on the request now;
    where it stands while pending; the outcome afterwards."""
    blocks = _asking(request, progress)
    if request.state is not State.PENDING:
        blocks.append(_section(wording.outcome(request)))
    elif standing := wording.standing(progress, viewer):
        blocks.append(_context(standing))
    if request.state is State.PENDING and viewer in progress.deciders:
        blocks.append(_decision(request))
    return {"text": wording.ask_approver(request), "blocks": blocks}


def channel_message(request: AccessRequest, progress: Progress) -> dict:
    """The request as posted once in an approval channel, for every approver there: while it is
    pending, who approved and whom it waits on, and Approve / Deny (who may press them is
    checked at each click); the outcome afterwards."""
    blocks = _asking(request, progress)
    if request.state is not State.PENDING:
        blocks.append(_section(wording.outcome(request)))
    else:
        blocks += [_context(wording.channel_standing(progress)), _decision(request)]
    return {"text": wording.ask_approver(request), "blocks": blocks}


def _asking(request: AccessRequest, progress: Progress) -> list[dict]:
    """What an approver weighs: who asks for what, for how long and why, and the facts."""
    return [
        {"type": "header", "text": _plain("Extension request" if request.extends else "Access request", 150)},
        _section(wording.ask_approver(request)),
        *([_section(wording.bundle_items(request))] if request.is_bundle else []),
        _section(wording.reason(request)),
        *([_context(facts)] if (facts := wording.details(request, progress.steps)) else []),
        _context(wording.request_footer(request)),
    ]


def _decision(request: AccessRequest) -> dict:
    return {"type": "actions", "block_id": "decision", "elements": [
        _button("Approve", APPROVE, request.id, "primary"), _button("Deny", DENY, request.id, "danger")]}


def requester_message(request: AccessRequest, progress: Progress) -> dict:
    if request.state is not State.PENDING:
        return {"text": wording.outcome(request), "blocks": [
            _section(wording.your_request(request)), _context(wording.request_footer(request)),
            _section(wording.outcome(request))]}
    waiting = wording.waiting(request, progress)
    blocks = [_section(waiting), _context(wording.request_footer(request)),
              {"type": "actions", "block_id": "request", "elements": [
                  _button("Cancel request", CANCEL, request.id)]}]
    return {"text": waiting, "blocks": blocks}


def beneficiary_message(request: AccessRequest, progress: Progress) -> dict:
    """What the person a request was filed for gets: Decline while it is pending."""
    if request.state is not State.PENDING:
        return requester_message(request, progress)
    text = wording.filed_for_you(request)
    return {"text": text, "blocks": [
        _section(text), _section(wording.reason(request)), _context(wording.request_footer(request)),
        {"type": "actions", "block_id": "beneficiary", "elements": [
            _button("Decline", DECLINE, request.id, "danger")]}]}


def filer_message(request: AccessRequest, progress: Progress) -> dict:
    """What whoever filed a request for someone else gets: where it stands, no buttons (the
    person it is for may decline it; the access is theirs to end)."""
    message = requester_message(request, progress)
    return {**message, "blocks": [b for b in message["blocks"] if b["type"] != "actions"]}


def task_message(request: AccessRequest, revoke: bool) -> dict:
    """A to-do for an approver: grant or take back by hand, then press Done."""
    waiting = request.state == ("revoking" if revoke else "provisioning")
    blocks = [_section(wording.task(request, revoke)), _context(wording.request_footer(request))]
    if waiting:
        blocks.append({"type": "actions", "block_id": "task", "elements": [
            _button("Done", TASK_DONE, request.id, "primary")]})
    else:
        blocks.append(_section(wording.task_done(request, revoke)))
    return {"text": wording.task(request, revoke), "blocks": blocks}


def break_glass_message(request: AccessRequest) -> dict:
    """What the fallback approvers get when someone breaks the glass: a Review button."""
    blocks = [_section(wording.break_glass_used(request)), _section(wording.reason(request)),
              _context(wording.request_footer(request))]
    if request.reviewed_by:
        blocks.append(_section(wording.reviewed(request)))
    else:
        blocks.append({"type": "actions", "block_id": "review", "elements": [
            _button("Mark reviewed", REVIEW, request.id, "primary")]})
    return {"text": wording.break_glass_used(request), "blocks": blocks}


def notice(mrkdwn: str) -> dict:
    """A plain one-section message (granted, revoked, denied ...)."""
    return {"text": mrkdwn, "blocks": [_section(mrkdwn)]}


def own_requests(requests: list[AccessRequest], now) -> list[dict]:
    """The requester's own pending requests and live access, each with what they can do."""
    if not requests:
        return [_section(wording.NOTHING_OF_YOURS)]
    rows = []
    for request in requests[:LISTED_AT_MOST]:
        row = _section(wording.listed(request, now))
        rows.append(row)
        if request.state is State.PENDING:  # filed for them by someone else: theirs to decline
            row["accessory"] = _button("Decline", DECLINE, request.id) if request.filed_by \
                else _button("Cancel", CANCEL, request.id)
        elif request.state is State.ACTIVE:
            rows.append(_holder_actions(request, f"holding-{request.id}"))
    return rows


def _holder_actions(request: AccessRequest, block_id: str) -> dict:
    return {"type": "actions", "block_id": block_id, "elements": [
        _button("Extend", EXTEND, request.id), _button("End now", END_NOW, request.id, "danger")]}


def request_list(requests: list[AccessRequest], now) -> dict:
    """The ephemeral answer to `/request-access list`."""
    return {"response_type": "ephemeral", "text": "Your requests",
            "blocks": own_requests(requests, now)}


def home(mine: list[AccessRequest], waiting: list[AccessRequest], now) -> dict:
    blocks = [{"type": "header", "text": _plain("Your access", 150)}, *own_requests(mine, now),
              {"type": "divider"}, {"type": "header", "text": _plain("Waiting on you", 150)}]
    if not waiting:
        blocks.append(_section(wording.NOTHING_WAITING))
    for request in waiting[:LISTED_AT_MOST]:
        blocks += [_section(wording.waiting_line(request)),
                   {"type": "actions", "block_id": f"decide-{request.id}", "elements": [
                       _button("Approve", APPROVE, request.id, "primary"),
                       _button("Deny", DENY, request.id, "danger")]}]
    return {"type": "home", "blocks": blocks}


def expiry_warning(request: AccessRequest) -> dict:
    """The warning before access ends, with End now / Extend while the access lasts."""
    text = wording.expiry_warning(request)
    return {"text": text, "blocks": [_section(text), *(
        [_holder_actions(request, "expiry")] if request.state is State.ACTIVE else [])]}

"""What a user's Slack client does with a modal: find what they can click, fill in `state.values`.

Pure functions over views and messages.  They raise AssertionError for what a real user could
not do (click a button that is not there, submit a required input empty), so a test that tries
fails at once instead of sending Slack-impossible payloads.  Field names: Slack's reference of
view payloads, https://api.slack.com/reference/interaction-payloads/views.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

# element type -> the field that holds its value in view.state.values
VALUE_FIELDS = {
    "plain_text_input": "value", "number_input": "value", "email_text_input": "value",
    "url_text_input": "value",
    "static_select": "selected_option", "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options", "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "datepicker": "selected_date", "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
    "users_select": "selected_user", "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation", "channels_select": "selected_channel",
}
EXTERNAL_SELECTS = {"external_select", "multi_external_select"}
DEFAULT_MIN_QUERY_LENGTH = 3  # Slack asks for suggestions once this many characters are typed


def elements(surface: dict) -> Iterator[tuple[str, dict]]:
    """(block_id, element) for every interactive element in a message or view."""
    for block in surface.get("blocks") or []:
        found = list(block.get("elements") or []) if block.get("type") == "actions" else []
        found += [block[key] for key in ("accessory", "element") if isinstance(block.get(key), dict)]
        for element in found:
            yield block.get("block_id", ""), element


def buttons(surface: dict) -> list[dict]:
    """The buttons of a message or view, each a copy of the element with its `block_id`."""
    return [{**copy.deepcopy(e), "block_id": block_id}
            for block_id, e in elements(surface) if e.get("type") == "button"]


def external_select(view: dict, action_id: str) -> tuple[str, dict]:
    for block_id, element in elements(view):
        if element.get("type") in EXTERNAL_SELECTS and element.get("action_id") == action_id:
            return block_id, element
    raise AssertionError(f"no external select {action_id!r} in view {view['id']}")


def state_values(view: dict, values: dict[str, Any], entered: dict | None = None) -> dict:
    """`view.state.values` when the user submits: block_id -> raw value for what they fill in now.

    A block missing from `values` shows what the user `entered` before (view.state.values as the
    sandbox keeps it), else its initial value, as the client shows it pre-filled; None means the
    user left it empty.
    """
    inputs = input_blocks(view)
    unknown = set(values) - set(inputs)
    assert not unknown, f"no input blocks {sorted(unknown)} in view {view['id']}"
    for kind in {block["element"]["type"] for block in inputs.values()}:
        assert kind in VALUE_FIELDS, f"the sandbox cannot fill a {kind}"
    state = shown_state(view, entered, values)
    for block_id, block in inputs.items():
        element = block["element"]
        value = state[block_id][element["action_id"]][VALUE_FIELDS[element["type"]]]
        if value in (None, "", []):
            assert block.get("optional"), f"Slack will not submit: required input {block_id!r} is empty"
        else:
            _check_length(element, block_id, value)
    return state


def shown_state(view: dict, entered: dict | None = None, values: dict[str, Any] | None = None) -> dict:
    """`view.state.values` as the client holds it: every input block with what the user typed
    or chose (`values` now, else `entered` before), else its initial value, else null.  Slack sends
    this in block_actions payloads too, without checking required inputs.  Inputs the sandbox
    cannot model are left out."""
    values, entered = values or {}, entered or {}
    state = {}
    for block_id, block in input_blocks(view).items():
        element = block["element"]
        kind = element["type"]
        if kind not in VALUE_FIELDS:
            assert block_id not in values, f"the sandbox cannot fill a {kind}"
            continue
        field = VALUE_FIELDS[kind]
        before = (entered.get(block_id) or {}).get(element["action_id"])
        if block_id in values:
            value = _value(element, field, values[block_id])
        elif before is not None:
            value = copy.deepcopy(before.get(field))
        else:
            value = _value(element, field, element.get(_initial_key(field)))
        state[block_id] = {element["action_id"]: {"type": kind, field: value}}
    return state


def input_blocks(view: dict) -> dict[str, dict]:
    return {b["block_id"]: b for b in view.get("blocks", []) if b.get("type") == "input"}


def input_with(view: dict, action_id: str) -> tuple[dict, dict]:
    """(input block, element) of the input whose element has `action_id`."""
    for block in input_blocks(view).values():
        if block["element"].get("action_id") == action_id:
            return block, block["element"]
    raise AssertionError(f"no input {action_id!r} in view {view['id']}")


def chosen(element: dict, option: dict | str) -> dict:
    """The option a user picks in a select, as Slack sends it: one the element offers; for an
    external select, the option given (the sandbox does not check the bot suggested it)."""
    return _option(element, option)


def kept_on_update(entered: dict, view: dict) -> dict:
    """What the user entered that survives a views.update to `view`.

    Slack keeps "data entered or selected in input blocks" when the new view has "the same input
    blocks and elements with identical block_id and action_id values" (views.update, Preserving
    input entry).  Assumed here, not documented: the element must keep its type, and a chosen
    option the new element no longer offers is dropped (the client cannot show it).
    """
    inputs, kept = input_blocks(view), {}
    for block_id, by_action in entered.items():
        element = (inputs.get(block_id) or {}).get("element") or {}
        entry = by_action.get(element.get("action_id")) if isinstance(by_action, dict) else None
        if not isinstance(entry, dict) or entry.get("type") != element.get("type"):
            continue
        entry = copy.deepcopy(entry)
        field = None if element["type"] in EXTERNAL_SELECTS else VALUE_FIELDS.get(element["type"])
        if field == "selected_option" and entry.get(field) and not _offers(element, entry[field]):
            continue
        if field == "selected_options":
            entry[field] = [o for o in entry.get(field) or [] if _offers(element, o)]
        kept[block_id] = {element["action_id"]: entry}
    return kept


def _offers(element: dict, option: dict) -> bool:
    try:
        _option(element, option)
    except AssertionError:
        return False
    return True


def _initial_key(field: str) -> str:
    return "initial_value" if field == "value" else "initial_" + field.removeprefix("selected_")


def _value(element: dict, field: str, raw: Any) -> Any:
    if field == "selected_options":
        return [_option(element, item) for item in raw or []]
    if field == "selected_option":
        return None if raw in (None, "") else _option(element, raw)
    if field == "value" and raw is not None:
        return str(raw)  # number_input values arrive as strings too
    return raw


def _option(element: dict, chosen: dict | str) -> dict:
    """The option as Slack sends it: one of the element's own options unless it loads them."""
    value = chosen["value"] if isinstance(chosen, dict) else chosen
    if element["type"] in EXTERNAL_SELECTS:
        return chosen if isinstance(chosen, dict) else \
            {"text": {"type": "plain_text", "text": value, "emoji": True}, "value": value}
    listed = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        listed += group["options"]
    for option in listed:
        if option["value"] == value:
            return copy.deepcopy(option)
    raise AssertionError(f"{element['action_id']!r} offers no option {value!r}")


def _check_length(element: dict, block_id: str, value: Any) -> None:
    if isinstance(value, str):
        assert len(value) >= element.get("min_length", 0), f"{block_id!r} is shorter than min_length"
        assert len(value) <= element.get("max_length", 3000), f"{block_id!r} is longer than max_length"

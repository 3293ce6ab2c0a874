"""Block Kit validation as Slack's servers apply it, as pure functions.

Each public function returns the problems in Slack's own wording,
"[ERROR] <what> [json-pointer:<where>]", and an empty list when Slack would accept the payload.
The Slack sandbox turns them into `invalid_blocks` / `invalid_arguments`; tests can call them
directly on what the bot renders.  Limits: Slack's Block Kit reference,
https://api.slack.com/reference/block-kit.
"""

from __future__ import annotations

import json
from typing import Any

MESSAGE_MAX_BLOCKS = 50
SURFACE_MAX_BLOCKS = 100  # modals and Home tabs
VIEW_MAX_BYTES = 250_000

BLOCK_TYPES = {"section", "header", "divider", "context", "actions", "input", "image", "rich_text"}
SELECTS = {f"{multi}{kind}_select" for multi in ("", "multi_")
           for kind in ("static", "external", "users", "conversations", "channels")}
PICKERS = {"datepicker", "timepicker", "datetimepicker"}
CHOICES = {"checkboxes", "radio_buttons"}
ACTION_ELEMENTS = {"button", "overflow"} | SELECTS | PICKERS | CHOICES
ACCESSORY_ELEMENTS = ACTION_ELEMENTS | {"image"}
INPUT_ELEMENTS = SELECTS | PICKERS | CHOICES | {
    "plain_text_input", "number_input", "email_text_input", "url_text_input",
    "rich_text_input", "file_input"}
OPTION_ELEMENTS = {"static_select", "multi_static_select", "overflow"} | CHOICES


def message_problems(blocks: Any) -> list[str]:
    """Problems Slack reports as `invalid_blocks` for a message's `blocks`."""
    check = _Check()
    check.blocks(blocks, "/blocks", MESSAGE_MAX_BLOCKS)
    return check.problems


def view_problems(view: Any, kind: str) -> list[str]:
    """Problems Slack reports as `invalid_arguments` for a `modal` or `home` view."""
    check = _Check()
    if not isinstance(view, dict):
        return ["[ERROR] must be an object [json-pointer:/view]"]
    if view.get("type") != kind:
        check.error("/view/type", f"must be {kind}")
    check.blocks(view.get("blocks"), "/view/blocks", SURFACE_MAX_BLOCKS)
    if kind == "modal":
        check.text(view, "title", "/view", 24, plain=True)
        has_input = any(isinstance(b, dict) and b.get("type") == "input"
                        for b in view.get("blocks") or [])
        check.text(view, "submit", "/view", 24, plain=True, required=has_input)
        check.text(view, "close", "/view", 24, plain=True, required=False)
    check.string(view, "private_metadata", "/view", 3000)
    check.string(view, "callback_id", "/view", 255)
    check.string(view, "external_id", "/view", 255)
    return check.problems


def view_too_large(view: dict) -> bool:
    """Slack refuses views over 250 kB with `view_too_large`, before looking inside them."""
    return len(json.dumps(view).encode()) > VIEW_MAX_BYTES


def options_problems(answer: Any) -> list[str]:
    """Problems in a `block_suggestion` answer: `{"options": [...]}` or `{"option_groups": [...]}`."""
    check = _Check()
    if not isinstance(answer, dict) or not ({"options", "option_groups"} & answer.keys()):
        return ["[ERROR] must provide options or option_groups [json-pointer:/]"]
    check.options(answer, "", plain=True)
    return check.problems


class _Check:
    """Walks one payload and collects every problem, as Slack lists them all at once."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def error(self, path: str, what: str) -> None:
        self.problems.append(f"[ERROR] {what} [json-pointer:{path}]")

    # -- primitives --------------------------------------------------------------------------
    def string(self, parent: dict, key: str, path: str, limit: int, required: bool = False) -> None:
        value = parent.get(key)
        if value is None:
            if required:
                self.error(path, f"missing required field: {key}")
        elif not isinstance(value, str):
            self.error(f"{path}/{key}", "must be a string")
        elif len(value) > limit:
            self.error(f"{path}/{key}", f"must be less than {limit} characters")

    def text(self, parent: dict, key: str, path: str, limit: int, *,
             plain: bool = False, required: bool = True) -> None:
        obj = parent.get(key)
        if obj is None:
            if required:
                self.error(path, f"missing required field: {key}")
            return
        self.text_object(obj, f"{path}/{key}", limit, plain=plain)

    def text_object(self, obj: Any, path: str, limit: int, *, plain: bool) -> None:
        allowed = ("plain_text",) if plain else ("plain_text", "mrkdwn")
        if not isinstance(obj, dict):
            self.error(path, "must be a text object")
        elif obj.get("type") not in allowed:
            self.error(f"{path}/type", f"must be one of {', '.join(allowed)}")
        elif not isinstance(obj.get("text"), str) or not obj["text"]:
            self.error(f"{path}/text", "must be a non-empty string")
        elif len(obj["text"]) > limit:
            self.error(f"{path}/text", f"must be less than {limit} characters")

    def items(self, value: Any, path: str, limit: int, minimum: int = 1) -> list:
        if not isinstance(value, list):
            self.error(path, "must be an array")
            return []
        if len(value) > limit:
            self.error(path, f"no more than {limit} items allowed")
        if len(value) < minimum:
            self.error(path, f"must provide at least {minimum} items")
        return value

    # -- blocks ------------------------------------------------------------------------------
    def blocks(self, blocks: Any, path: str, limit: int) -> None:
        seen: set[str] = set()
        for i, block in enumerate(self.items(blocks, path, limit, minimum=0)):
            where = f"{path}/{i}"
            if not isinstance(block, dict) or block.get("type") not in BLOCK_TYPES:
                self.error(where, "unsupported block type "
                           f"{block.get('type') if isinstance(block, dict) else block!r}")
                continue
            self.string(block, "block_id", where, 255)
            block_id = block.get("block_id")
            if isinstance(block_id, str) and block_id in seen:
                self.error(f"{where}/block_id", f"duplicate block_id: {block_id}")
            if isinstance(block_id, str):
                seen.add(block_id)
            check_contents = getattr(self, f"_{block['type']}", None)  # a divider has none
            if check_contents:
                check_contents(block, where)

    def _section(self, block: dict, path: str) -> None:
        if "text" not in block and "fields" not in block:
            self.error(path, "must provide either text or fields")
        self.text(block, "text", path, 3000, required=False)
        if "fields" in block:
            for i, field in enumerate(self.items(block["fields"], f"{path}/fields", 10)):
                self.text_object(field, f"{path}/fields/{i}", 2000, plain=False)
        if "accessory" in block:
            self.element(block["accessory"], f"{path}/accessory", ACCESSORY_ELEMENTS)

    def _header(self, block: dict, path: str) -> None:
        self.text(block, "text", path, 150, plain=True)

    def _context(self, block: dict, path: str) -> None:
        for i, element in enumerate(self.items(block.get("elements"), f"{path}/elements", 10)):
            if isinstance(element, dict) and element.get("type") == "image":
                self.element(element, f"{path}/elements/{i}", {"image"})
            else:
                self.text_object(element, f"{path}/elements/{i}", 3000, plain=False)

    def _actions(self, block: dict, path: str) -> None:
        seen: set[str] = set()
        for i, element in enumerate(self.items(block.get("elements"), f"{path}/elements", 25)):
            self.element(element, f"{path}/elements/{i}", ACTION_ELEMENTS)
            action_id = element.get("action_id") if isinstance(element, dict) else None
            if action_id in seen:
                self.error(f"{path}/elements/{i}/action_id", f"duplicate action_id: {action_id}")
            if isinstance(action_id, str):
                seen.add(action_id)

    def _input(self, block: dict, path: str) -> None:
        self.text(block, "label", path, 2000, plain=True)
        self.text(block, "hint", path, 2000, plain=True, required=False)
        if "element" not in block:
            self.error(path, "missing required field: element")
        else:
            self.element(block["element"], f"{path}/element", INPUT_ELEMENTS)

    def _image(self, block: dict, path: str) -> None:
        self.element(block, path, {"image"})
        self.text(block, "title", path, 2000, plain=True, required=False)

    def _rich_text(self, block: dict, path: str) -> None:
        self.items(block.get("elements"), f"{path}/elements", 100)

    # -- elements ----------------------------------------------------------------------------
    def element(self, element: Any, path: str, allowed: set[str]) -> None:
        kind = element.get("type") if isinstance(element, dict) else None
        if kind not in allowed:
            self.error(path, f"unsupported element type {kind!r}")
            return
        self.string(element, "action_id", path, 255)
        self.text(element, "placeholder", path, 150, plain=True, required=False)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{path}/confirm")
        if kind == "button":
            self.text(element, "text", path, 75, plain=True)
            self.string(element, "value", path, 2000)
            self.string(element, "url", path, 3000)
            if element.get("style") not in (None, "primary", "danger"):
                self.error(f"{path}/style", "must be primary or danger")
        elif kind == "image":
            self.string(element, "alt_text", path, 2000, required=True)
            if "image_url" not in element and "slack_file" not in element:
                self.error(path, "must provide image_url or slack_file")
        elif kind == "plain_text_input" and element.get("max_length", 1) not in range(1, 3001):
            self.error(f"{path}/max_length", "must be between 1 and 3000")
        elif kind in OPTION_ELEMENTS:
            self.options(element, path, plain=kind not in CHOICES)

    def options(self, parent: dict, path: str, *, plain: bool) -> None:
        has_options, has_groups = "options" in parent, "option_groups" in parent
        if has_options == has_groups:
            self.error(path or "/", "must provide exactly one of options or option_groups")
        if has_options:
            self.option_list(parent["options"], f"{path}/options", plain)
        for i, group in enumerate(self.items(parent.get("option_groups", []), f"{path}/option_groups",
                                             100, minimum=0)):
            where = f"{path}/option_groups/{i}"
            if not isinstance(group, dict):
                self.error(where, "must be an object")
                continue
            self.text(group, "label", where, 75, plain=True)
            self.option_list(group.get("options"), f"{where}/options", plain)

    def option_list(self, options: Any, path: str, plain: bool) -> None:
        for i, option in enumerate(self.items(options, path, 100)):
            where = f"{path}/{i}"
            if not isinstance(option, dict):
                self.error(where, "must be an option object")
                continue
            self.text(option, "text", where, 75, plain=plain)
            self.string(option, "value", where, 150, required=True)
            self.text(option, "description", where, 75, plain=True, required=False)

    def confirm(self, confirm: Any, path: str) -> None:
        if not isinstance(confirm, dict):
            self.error(path, "must be a confirm object")
            return
        self.text(confirm, "title", path, 100, plain=True)
        self.text(confirm, "text", path, 300)
        self.text(confirm, "confirm", path, 30, plain=True)
        self.text(confirm, "deny", path, 30, plain=True)

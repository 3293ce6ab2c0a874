"""manifests/slack-app*.yaml ask Slack for exactly what the code uses: no more, no less.

The listeners are read from the bolt App that `build_app` really builds; the scopes are derived
from the Web API methods the code calls.  Adding a listener, an event or a Web API call without
updating the manifests (and this table, for a new method) fails here.
"""

from __future__ import annotations

import re
from pathlib import Path
from unittest.mock import Mock

import pytest
import yaml
from slack_bolt import App
from slack_sdk import WebClient

import bot.slack.app as slack_app
from bot.server import SLACK_PATH

ROOT = Path(__file__).resolve().parents[2]
HTTP_MANIFEST = ROOT / "manifests" / "slack-app.yaml"
SOCKET_MANIFEST = ROOT / "manifests" / "slack-app-socket-mode.yaml"

# Bot scopes each Web API method needs (docs.slack.dev/reference/methods/<method>).
METHOD_SCOPES: dict[str, set[str]] = {
    "auth.test": set(),
    "apps.connections.open": set(),  # app-level token (connections:write), not a bot scope
    "views.open": set(), "views.update": set(), "views.push": set(), "views.publish": set(),
    "chat.postMessage": {"chat:write"}, "chat.update": {"chat:write"},
    "chat.postEphemeral": {"chat:write"}, "chat.delete": {"chat:write"},
    "conversations.open": {"im:write"},
    # public and private approval channels alike (`latchkey check`)
    "conversations.info": {"channels:read", "groups:read"},
    "users.info": {"users:read", "users:read.email"},  # the email is how people map to accounts
    "users.lookupByEmail": {"users:read.email"},
    "usergroups.list": {"usergroups:read"}, "usergroups.users.list": {"usergroups:read"},
}
# Bot scopes each event subscription needs.
EVENT_SCOPES: dict[str, set[str]] = {
    "app_home_opened": set(),
    "message.im": {"im:history"},
}


class RecordingApp(App):
    """The real bolt App, noting what each listener registers for."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.registered: dict[str, list] = {}

    def _note(self, kind: str, constraint) -> None:
        self.registered.setdefault(kind, []).append(constraint)

    def command(self, command, *args, **kwargs):
        self._note("command", command)
        return super().command(command, *args, **kwargs)

    def event(self, event, *args, **kwargs):
        self._note("event", event["type"] if isinstance(event, dict) else event)
        return super().event(event, *args, **kwargs)

    def message(self, *args, **kwargs):
        self._note("event", "message.im")
        return super().message(*args, **kwargs)

    def shortcut(self, constraints, *args, **kwargs):
        self._note("shortcut", constraints)
        return super().shortcut(constraints, *args, **kwargs)

    def action(self, constraints, *args, **kwargs):
        self._note("action", constraints)
        return super().action(constraints, *args, **kwargs)

    def view(self, constraints, *args, **kwargs):
        self._note("view", constraints)
        return super().view(constraints, *args, **kwargs)

    def options(self, constraints, *args, **kwargs):
        self._note("options", constraints)
        return super().options(constraints, *args, **kwargs)


@pytest.fixture(scope="module")
def registered() -> dict[str, list]:
    original = slack_app.App
    slack_app.App = RecordingApp
    try:
        app = slack_app.build_app(WebClient(token="xoxb-test", base_url="http://127.0.0.1:9/api/"),
                                  "signing-secret", Mock())
    finally:
        slack_app.App = original
    return app.registered


def methods_called() -> set[str]:
    """Web API methods the bot's code calls, e.g. `client.chat_postMessage(` → chat.postMessage."""
    # `api_call` itself is no Web API method: its literal method names are found below.
    api = {name for name in dir(WebClient) if not name.startswith("_") and "_" in name} - {"api_call"}
    found = set()
    for path in (ROOT / "bot").rglob("*.py"):
        text = path.read_text()
        found |= {name.replace("_", ".") for name in re.findall(r"\.(\w+)\(", text) if name in api}
        found |= set(re.findall(r"api_call\(\s*[\"']([\w.]+)[\"']", text))
    return found


@pytest.fixture(params=[HTTP_MANIFEST, SOCKET_MANIFEST], ids=["http", "socket-mode"])
def manifest(request) -> dict:
    return yaml.safe_load(request.param.read_text())


def test_the_code_calls_only_methods_whose_scopes_are_known():
    """A new Web API call needs its scopes written down here before the manifest can be checked."""
    unknown = methods_called() - set(METHOD_SCOPES)
    assert not unknown, f"add the bot scopes of {sorted(unknown)} to METHOD_SCOPES"


def test_scopes_are_exactly_those_the_code_needs(manifest, registered):
    needed = set().union(*(METHOD_SCOPES[m] for m in methods_called()),
                         *(EVENT_SCOPES[e] for e in registered.get("event", [])))
    if registered.get("command") or registered.get("shortcut"):
        needed.add("commands")
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    assert "user" not in manifest["oauth_config"]["scopes"]


def test_slash_commands_and_shortcuts_match_the_listeners(manifest, registered):
    features = manifest["features"]
    assert sorted(c["command"] for c in features.get("slash_commands", [])) == sorted(registered["command"])
    assert sorted(s["callback_id"] for s in features.get("shortcuts", [])) == \
        sorted(registered.get("shortcut", []))


def test_event_subscriptions_match_the_listeners(manifest, registered):
    events = set(registered.get("event", []))
    subscribed = set(manifest["settings"].get("event_subscriptions", {}).get("bot_events", []))
    assert subscribed == events
    home = manifest["features"].get("app_home", {})
    assert home.get("home_tab_enabled", False) == ("app_home_opened" in events)
    assert home.get("messages_tab_enabled") is True  # Latchkey talks to people in its DMs


def test_interactivity_is_on_because_buttons_modals_and_typeahead_are_used(manifest, registered):
    assert registered.get("action") and registered.get("view") and registered.get("options")
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_http_manifest_sends_everything_to_the_one_endpoint(registered):
    manifest = yaml.safe_load(HTTP_MANIFEST.read_text())
    settings = manifest["settings"]
    urls = [c["url"] for c in manifest["features"]["slash_commands"]]
    urls += [settings["interactivity"]["request_url"], settings["interactivity"]["message_menu_options_url"]]
    if settings.get("event_subscriptions"):
        urls.append(settings["event_subscriptions"]["request_url"])
    assert all(url == f"https://latchkey.example.com{SLACK_PATH}" for url in urls)
    assert settings["socket_mode_enabled"] is False


def test_socket_mode_manifest_needs_no_public_url():
    manifest = yaml.safe_load(SOCKET_MANIFEST.read_text())
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert "https://" not in SOCKET_MANIFEST.read_text().split("\n", 3)[-1] \
        .replace("https://api.slack.com/apps", "")


def test_both_manifests_describe_the_same_app():
    """Apart from where requests go, the two manifests must not drift apart."""
    def without_urls(node):
        if isinstance(node, dict):
            return {k: without_urls(v) for k, v in node.items()
                    if k not in ("url", "request_url", "message_menu_options_url", "socket_mode_enabled")}
        if isinstance(node, list):
            return [without_urls(v) for v in node]
        return node
    http = without_urls(yaml.safe_load(HTTP_MANIFEST.read_text()))
    socket = without_urls(yaml.safe_load(SOCKET_MANIFEST.read_text()))
    assert http == socket

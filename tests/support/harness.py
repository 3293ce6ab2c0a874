"""Running Latchkey for real in a test: the bot over HTTP, Slack and Okta as sandbox servers."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

from bot.config import Config, Settings
from bot.ports import ShiftedClock
from bot.server import BackgroundServer
from bot.service import Service
from sandbox.okta import OktaSandbox
from sandbox.slack import SlackSandbox

OKTA_TOKEN = "okta-test-token"
SIGNING_SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"

# The cast of every story.
ALICE, BOB, CAROL, DAVE, ERIN = "U0ALICE", "U0BOB", "U0CAROL", "U0DAVE", "U0ERIN"
PEOPLE = {ALICE: "alice@acme.com", BOB: "bob@acme.com", CAROL: "carol@acme.com",
          DAVE: "dave@acme.com", ERIN: "erin@acme.com"}


def eventually(check, timeout: float = 5.0, interval: float = 0.02):
    """Poll `check` until it returns something truthy; the bot works in the background."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {check}")
        time.sleep(interval)


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def soon(check):
    """`eventually`, with room for a loaded CI machine."""
    return eventually(check, timeout=15)


@dataclass
class Bot:
    """One `latchkey serve` equivalent: Service + HTTP server, restartable on the same database."""

    settings: Settings
    config: Config
    clock: ShiftedClock
    slack: SlackSandbox
    service: Service | None = None
    server: BackgroundServer | None = field(default=None, repr=False)

    def start(self, wait_for_sync: bool = True) -> Bot:
        self.service = Service(self.settings, self.config, self.clock)
        self.service.start()
        self.server = BackgroundServer(self.service).start()
        self.slack.bot_url = self.server.url + "/slack/events"
        if wait_for_sync:  # the start-up sync, and its drift check, which a test must not race
            eventually(lambda: all(c in self.service.synced for c in self.config.connectors),
                       timeout=10)
        return self

    def stop(self) -> None:
        if self.server:
            self.server.stop()
        if self.service:
            self.service.stop()
        self.server = self.service = None

    def restart(self) -> Bot:
        self.stop()
        return self.start()

    @property
    def url(self) -> str:
        return self.server.url

    def request(self, request_id: str):
        return self.service.lifecycle.queries.get(request_id)


def make_settings(tmp_path: Path, slack_url: str, sweep_seconds: float = 0.3) -> Settings:
    return Settings(slack_bot_token=BOT_TOKEN, slack_signing_secret=SIGNING_SECRET,
                    slack_api_url=slack_url + "/api/", database_url=f"sqlite:///{tmp_path}/latchkey.db",
                    latchkey_config=tmp_path / "latchkey.yaml", latchkey_sweep_seconds=sweep_seconds)


# Okta's membership endpoint, PUT to add a user to a group and DELETE to remove them.
MEMBERSHIP = r"/api/v1/groups/[^/]+/users/[^/]+"


def seed_okta(okta: OktaSandbox) -> dict[str, str]:
    """An Okta org with our cast, a few requestable groups and some that are not."""
    ids = {email: okta.add_user(email, email.split("@")[0].title(), "Acme")
           for email in PEOPLE.values() if email != "erin@acme.com"}  # Erin has no Okta account
    groups = {name: okta.add_group(name, description=f"{name} (test)")
              for name in ("eng-admins", "billing-admins", "prod-readers", "data-admins")}
    groups["Salesforce users"] = okta.add_group("Salesforce users", type="APP_GROUP")
    groups["Everyone"] = okta.add_group("Everyone", type="BUILT_IN")
    okta.add_member(groups["prod-readers"], ids["carol@acme.com"])  # Carol already reads prod
    return {**ids, **groups}


def seed_slack(slack: SlackSandbox) -> None:
    for user_id, email in PEOPLE.items():
        slack.add_user(user_id, email, real_name=email.split("@")[0].title())


def forge_click(slack: SlackSandbox, user_id: str, action_id: str, value: str):
    """POST a correctly signed click on a button `user_id` was never shown (a tampered payload)."""
    import json
    from urllib.parse import urlencode

    from sandbox.slack_workspace import APP_ID, TEAM_DOMAIN, TEAM_ID

    channel = slack.workspace.dm_id(user_id)
    payload = {
        "type": "block_actions", "api_app_id": APP_ID, "token": "x",
        "user": {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID},
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN}, "trigger_id": slack.workspace.issue_trigger(user_id),
        "container": {"type": "message", "message_ts": "1.000001", "channel_id": channel},
        "channel": {"id": channel, "name": "directmessage"},
        "response_url": f"{slack.url}/response/{slack.workspace.issue_response_url(user_id, channel, None)}",
        "actions": [{"action_id": action_id, "block_id": "decision", "type": "button", "value": value,
                     "text": {"type": "plain_text", "text": "Approve"}, "action_ts": "1.0"}],
    }
    body = urlencode({"payload": json.dumps(payload)}).encode()
    return slack.post_raw(body, "application/x-www-form-urlencoded")

"""Helpers shared by the resilience tests."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx

from bot.config import parse_config
from sandbox.slack import SlackSandbox
from tests.support.config import as_yaml, config_data
from tests.support.harness import OKTA_TOKEN, Bot, make_settings


class RoutedSlack(SlackSandbox):
    """The Slack sandbox, delivering to the bot the calling thread chose with `via()` (so a test
    can spread deliveries over replicas), and able to deliver the last payload again."""

    keep_alive = True  # replicas are SIGKILLed, never stopped cleanly

    def __init__(self, *args, **kwargs) -> None:
        self._route = threading.local()  # per sandbox and thread: the bot chosen, the last body
        super().__init__(*args, **kwargs)

    @property
    def bot_url(self):
        return getattr(self._route, "url", None) or self._default_url

    @bot_url.setter
    def bot_url(self, url):
        self._default_url = url

    def via(self, url: str | None) -> RoutedSlack:
        self._route.url = url
        return self

    def post_raw(self, body: bytes, content_type: str, **signing) -> httpx.Response:
        self._route.last = (body, content_type)  # for deliver_again
        return super().post_raw(body, content_type, **signing)

    def last_delivery(self) -> tuple[bytes, str]:
        """The body and content type this thread delivered last."""
        return self._route.last

    def deliver_again(self, delivery: tuple[bytes, str], retry_num: int | None = None,
                      url: str | None = None) -> httpx.Response:
        """Send the same bytes again, freshly signed (as Slack does when it retries); with
        `retry_num`, with Slack's retry headers."""
        body, content_type = delivery
        headers = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": "http_timeout"} \
            if retry_num else {}
        if url:
            self.via(url)
        return super().post_raw(body, content_type, headers=headers)


def has_button(slack: SlackSandbox, user: str, action_id: str, value: str) -> bool:
    """Does `user` see a button `action_id` for `value` in their DM?"""
    return any(b.get("action_id") == action_id and b.get("value") == value
               for m in slack.dm(user) for b in slack.buttons(m))



def build_bot(directory: Path, okta, slack, clock, sweep_seconds: float = 0.3,
              database_url: str | None = None, okta_timeout: float | None = None, **config) -> Bot:
    """A bot (not started) on SQLite in `directory`, or on `database_url`; `okta_timeout` sets
    the Okta connector's `timeout`, other keyword arguments go to `config_data`."""
    os.environ.setdefault("OKTA_API_TOKEN", OKTA_TOKEN)
    data = config_data(okta.url, **config)
    if okta_timeout is not None:
        data["connectors"]["okta"]["timeout"] = okta_timeout
    text_ = as_yaml(data)
    (directory / "latchkey.yaml").write_text(text_)
    settings = make_settings(directory, slack.url, sweep_seconds)
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return Bot(settings, parse_config(text_), clock, slack)

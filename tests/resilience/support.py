"""Helpers shared by the resilience tests."""

from __future__ import annotations

import threading

import httpx

from sandbox.slack import SlackSandbox


class RoutedSlack(SlackSandbox):
    """The Slack sandbox, delivering to the bot the calling thread chose with `via()` (so a test
    can spread deliveries over replicas), and able to deliver the last payload again."""

    _route = threading.local()

    @property
    def bot_url(self):
        return getattr(self._route, "url", None) or self._default_url

    @bot_url.setter
    def bot_url(self, url):
        self._default_url = url

    def via(self, url: str | None) -> "RoutedSlack":
        self._route.url = url
        return self

    def post_raw(self, body: bytes, content_type: str, **kwargs) -> httpx.Response:
        self._route.last = (body, content_type)
        return super().post_raw(body, content_type, **kwargs)

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


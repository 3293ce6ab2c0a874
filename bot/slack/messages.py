"""The Slack messages about a request: posting them, remembering where they are, and redrawing
them all as the request changes.  The notifier (bot/slack/notifier.py) decides what to say."""

from __future__ import annotations

from collections.abc import Callable

from slack_sdk import WebClient

from bot.domain.request import AccessRequest
from bot.routing import Progress
from bot.slack import blocks, wording
from bot.slack.text import clip, plain
from storage.chat import Messages


class RequestMessages:
    def __init__(self, client: WebClient, messages: Messages,
                 progress: Callable[[AccessRequest], Progress], name_of: Callable[[str], str]) -> None:
        self._client, self._messages = client, messages
        self.progress = progress  # who approved a request, and who may act on it now
        self._name_of = name_of  # a person's name, for notification texts

    def ask(self, request: AccessRequest, approvers: tuple[str, ...], progress: Progress) -> None:
        for approver in approvers:
            self.dm(request, approver, "approver", blocks.approver_message(request, progress, approver))

    def asked(self, request: AccessRequest) -> set[str]:
        """Who has been sent the request to decide."""
        return {message.recipient for message in self._messages.for_request(request.id, "approver")}

    def refresh(self, request: AccessRequest, notice: str | None = None) -> None:
        """Redraw every message about the request as it is now, then tell the requester if
        there is news."""
        progress = self.progress(request)
        for message in self._messages.for_request(request.id):
            body = self._redrawn(request, progress, message.role, message.recipient)
            self._client.chat_update(channel=message.channel, ts=message.ts, **self._plain(body))
        if notice:
            self.post(request.requester, blocks.notice(notice))
            if request.filed_by:  # whoever filed it for the requester sees what became of it too
                self.post(request.filed_by, blocks.notice(wording.for_filer(request, notice)))

    def tell(self, people: tuple[str, ...], mrkdwn: str) -> None:
        """A notice to each of `people`, not kept for redrawing."""
        for person in people:
            self.post(person, blocks.notice(mrkdwn))

    def tell_approvers_asked(self, request: AccessRequest, mrkdwn: str) -> None:
        """A notice in each approver's conversation about the request."""
        for message in self._messages.for_request(request.id, "approver"):
            self.post(message.channel, blocks.notice(mrkdwn))

    @staticmethod
    def _redrawn(request: AccessRequest, progress: Progress, role: str, recipient: str) -> dict:
        if role == "approver":
            return blocks.approver_message(request, progress, recipient)
        if role == "reviewer":
            return blocks.break_glass_message(request)
        if role == "holder":
            return blocks.expiry_warning(request)
        if role == "beneficiary":
            return blocks.beneficiary_message(request, progress)
        if role == "filer":
            return blocks.filer_message(request, progress)
        if role.startswith("task_"):
            return blocks.task_message(request, revoke=role == "task_revoke")
        return blocks.requester_message(request, progress)

    def dm(self, request: AccessRequest, user: str, role: str, body: dict) -> None:
        """Post a message about the request to `user`, kept so that it is redrawn as it changes."""
        response = self.post(user, body)
        self._messages.add(request.id, user, role, response["channel"], response["ts"])

    def post(self, channel: str, body: dict):
        # Posting to a user id delivers to the app's DM with that user.
        return self._client.chat_postMessage(channel=channel, **self._plain(body))

    def _plain(self, body: dict) -> dict:
        """The message with its `text` (what a notification shows) in plain words."""
        return {**body, "text": clip(plain(body["text"], self._name_of), 4000)}

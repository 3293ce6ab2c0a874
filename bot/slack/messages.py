"""The Slack messages about a request: posting them, remembering where they are, and redrawing
them all as the request changes.  The notifier (bot/slack/notifier.py) decides what to say.

Approvers are asked where the request's rule says (bot/domain/notify.py): each by DM, or once
in an approval channel, whose message every eligible approver may click, or both.  The channel
message is posted once per request, whatever retries, later steps or escalations ask again,
since whether it is there is read from the message store; reminders go in its thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.domain.events import ApprovalChannelUnreachable, Event
from bot.domain.notify import Notify
from bot.domain.request import AccessRequest
from bot.routing import Progress
from bot.slack import blocks, wording
from bot.slack.text import clip, plain
from storage.chat import Messages

log = logging.getLogger(__name__)

CHANNEL = "channel"  # the role of a request's message in its approval channel
# What Slack answers when the app cannot post in a channel: it was never invited, was
# removed, or the channel is private, gone or archived.  Anything else is retried.
UNREACHABLE = frozenset({"not_in_channel", "channel_not_found", "is_archived"})
# What Slack answers when a channel message cannot be redrawn any more (the app was removed,
# the message deleted): the other copies are redrawn all the same.
GONE = UNREACHABLE | {"message_not_found", "cant_update_message", "edit_window_closed"}


class RequestMessages:
    def __init__(self, client: WebClient, messages: Messages,
                 progress: Callable[[AccessRequest], Progress], name_of: Callable[[str], str],
                 notify_of: Callable[[AccessRequest], Notify] = lambda request: Notify(),
                 audit: Callable[[Event], None] = lambda event: None) -> None:
        self._client, self._messages = client, messages
        self.progress = progress  # who approved a request, and who may act on it now
        self._name_of = name_of  # a person's name, for notification texts
        self._notify_of = notify_of  # where the request's rule asks its approvers
        self._audit = audit  # records what the operator must fix (it reaches the audit channel)

    def ask(self, request: AccessRequest, approvers: tuple[str, ...], progress: Progress) -> None:
        """Ask `approvers` to decide: in the rule's approval channel, by DM, or both; by DM
        whenever the channel cannot be reached."""
        notify = self._notify_of(request)
        if notify.in_channel and self._in_channel(request, notify, progress) and not notify.by_dm:
            return
        for approver in approvers:
            self.dm(request, approver, "approver", blocks.approver_message(request, progress, approver))

    def chase(self, request: AccessRequest, approvers: tuple[str, ...], mrkdwn: str,
              by_dm: tuple[str, ...] | None = None) -> None:
        """A reminder or an escalation: a reply in the request's thread in its approval channel,
        naming `approvers`, and a DM to each of `by_dm` (default: all of them) where the rule
        asks by DM or no channel message was posted."""
        threads = self._messages.for_request(request.id, CHANNEL)
        for message in threads:
            self.post(message.channel, blocks.notice(f"{mrkdwn}\n{wording.waiting_on(approvers)}"),
                      thread_ts=message.ts)
        if not threads or self._notify_of(request).by_dm:
            self.tell(approvers if by_dm is None else by_dm, mrkdwn)

    def asked(self, request: AccessRequest) -> set[str]:
        """Who has been sent the request to decide by DM."""
        return {message.recipient for message in self._messages.for_request(request.id, "approver")}

    def refresh(self, request: AccessRequest, notice: str | None = None) -> None:
        """Redraw every message about the request as it is now, then tell the requester if
        there is news."""
        progress = self.progress(request)
        for message in self._messages.for_request(request.id):
            body = self._redrawn(request, progress, message.role, message.recipient)
            try:
                self._client.chat_update(channel=message.channel, ts=message.ts, **self._plain(body))
            except SlackApiError as error:
                code = str(error.response.get("error"))
                if message.role != CHANNEL or code not in GONE:
                    raise  # the outbox retries it
                log.warning("request %s: cannot redraw its message in approval channel %s (%s); "
                            "its other messages are redrawn", request.id, message.channel, code)
        if notice:
            self.post(request.requester, blocks.notice(notice))
            if request.filed_by:  # whoever filed it for the requester sees what became of it too
                self.post(request.filed_by, blocks.notice(wording.for_filer(request, notice)))

    def tell(self, people: tuple[str, ...], mrkdwn: str) -> None:
        """A notice to each of `people`, not kept for redrawing."""
        for person in people:
            self.post(person, blocks.notice(mrkdwn))

    def tell_approvers_asked(self, request: AccessRequest, mrkdwn: str) -> None:
        """A notice in each approver's conversation about the request, and in its thread in
        the approval channel."""
        for message in self._messages.for_request(request.id):
            if message.role in ("approver", CHANNEL):
                self.post(message.channel, blocks.notice(mrkdwn),
                          thread_ts=message.ts if message.role == CHANNEL else None)

    def _in_channel(self, request: AccessRequest, notify: Notify, progress: Progress) -> bool:
        """Post the request in its approval channel unless it is there already; False if the
        app cannot post there (then the operator is told, and the caller asks by DM)."""
        assert notify.channel is not None
        if self._messages.for_request(request.id, CHANNEL):
            return True  # posted before: it is redrawn with the request, never posted twice
        try:
            response = self.post(notify.channel, blocks.channel_message(request, progress))
        except SlackApiError as error:
            code = str(error.response.get("error"))
            if code not in UNREACHABLE:
                raise  # the outbox retries it
            log.warning("request %s: cannot post in approval channel %s (%s): asking by DM; invite "
                        "the app to the channel, or fix approval_channel", request.id, notify.channel, code)
            self._audit(ApprovalChannelUnreachable(request_id=request.id, channel=notify.channel, error=code))
            return False
        self._messages.add(request.id, notify.channel, CHANNEL, response["channel"], response["ts"])
        return True

    @staticmethod
    def _redrawn(request: AccessRequest, progress: Progress, role: str, recipient: str) -> dict:
        if role == "approver":
            return blocks.approver_message(request, progress, recipient)
        if role == CHANNEL:
            return blocks.channel_message(request, progress)
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

    def post(self, channel: str, body: dict, thread_ts: str | None = None):
        # Posting to a user id delivers to the app's DM with that user.
        thread = {"thread_ts": thread_ts} if thread_ts else {}
        return self._client.chat_postMessage(channel=channel, **thread, **self._plain(body))

    def _plain(self, body: dict) -> dict:
        """The message with its `text` (what a notification shows) in plain words."""
        return {**body, "text": clip(plain(body["text"], self._name_of), 4000)}

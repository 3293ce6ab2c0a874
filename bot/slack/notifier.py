"""Tells people what happened, by DM, without ever blocking or failing the lifecycle.

Each event is stored in the outbox, in the same transaction as the state change it reports,
and delivered by the outbox dispatcher in the background: the Slack listener has already acknowledged, a slow or failing
Slack cannot hold up a grant or a revocation, and a Slack outage or a restart delays messages
without losing them.  Messages show the request as it is when they are delivered.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from slack_sdk import WebClient

from bot.domain.request import AccessRequest
from bot.outbox import OutboxDispatcher
from bot.ports import Clock, MessageKind
from bot.records import to_domain
from bot.routing import Progress
from bot.slack import blocks, wording
from bot.slack.text import clip, plain
from storage.repositories import Messages, Outbox, Requests
from storage.tables import OutboxRow

log = logging.getLogger(__name__)


def post_notice(client: WebClient, user: str, mrkdwn: str, name_of: Callable[[str], str]) -> dict:
    """DM `user` one section of mrkdwn, its notification `text` in plain words."""
    return client.chat_postMessage(channel=user, text=clip(plain(mrkdwn, name_of), 4000),
                                   blocks=blocks.notice(mrkdwn)["blocks"])


class SlackNotifier:
    def __init__(self, client: WebClient, messages: Messages, outbox: Outbox, requests: Requests,
                 clock: Clock, progress: Callable[[AccessRequest], Progress],
                 name_of: Callable[[str], str]) -> None:
        self._client, self._messages, self._requests = client, messages, requests
        self._outbox, self._clock = outbox, clock
        self._progress = progress  # who approved a request, and who may act on it now
        self._name_of = name_of  # a person's name, for notification texts
        self.dispatcher = OutboxDispatcher(outbox, self._deliver, clock)
        # One way of telling each kind, found now: a kind without one fails at start-up, not
        # in the background thread that delivers it.
        self._senders: dict[str, Callable[..., None]] = {
            kind.value: getattr(self, f"_send_{kind.value}") for kind in MessageKind}

    def start(self) -> None:
        self.dispatcher.start()

    def close(self) -> None:
        self.dispatcher.stop()

    # -- the Notifier port ----------------------------------------------------------------
    def message(self, request_id: str, kind: MessageKind, **args) -> OutboxRow:
        return Outbox.message(request_id, MessageKind(kind).value, args, self._clock.now())

    def wake(self) -> None:
        self.dispatcher.poke()

    # -- delivery ------------------------------------------------------------------------
    def _deliver(self, row: OutboxRow) -> None:
        request = to_domain(self._requests.get(row.request_id))
        self._senders[row.kind](request, **json.loads(row.args))

    def _send_request_submitted(self, request: AccessRequest, approvers: list[str]) -> None:
        progress = self._progress(request)
        self._dm(request, request.requester, "requester", blocks.requester_message(request, progress))
        self._ask(request, approvers, progress)

    def _send_next_step(self, request: AccessRequest, approver: str, approvers: list[str]) -> None:
        self._refresh(request)
        self._ask(request, approvers, self._progress(request))

    def _send_escalated(self, request: AccessRequest, approvers: list[str]) -> None:
        if request.state != "pending":
            return
        for approver in approvers:
            self._post(approver, blocks.notice(wording.escalated(request)))
        self._refresh(request)  # the requester now waits on the fallback approvers too
        self._ask(request, approvers, self._progress(request))

    def _send_break_glass_used(self, request: AccessRequest, reviewers: list[str]) -> None:
        for reviewer in reviewers:
            self._dm(request, reviewer, "reviewer", blocks.break_glass_message(request))

    def _send_break_glass_reviewed(self, request: AccessRequest) -> None:
        self._refresh(request)

    def _send_access_extended(self, request: AccessRequest) -> None:
        extended = to_domain(self._requests.get(request.extends))
        self._refresh(extended)  # the grant's messages show the new end
        self._refresh(request, notice=wording.extended(extended, extended.expires_at))

    def _send_extension_closed(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.extension_closed(request))

    def _send_extension_failed(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.extension_failed(request))

    def _send_approval_counted(self, request: AccessRequest, approver: str, needed: int) -> None:
        self._refresh(request)

    def _send_request_approved(self, request: AccessRequest) -> None:
        self._refresh(request)

    def _send_request_denied(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.denied(request))

    def _send_request_cancelled(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.cancelled(request))

    def _send_access_granted(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.granted(request))

    def _send_provisioning_failed(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.failed(request))
        for message in self._messages.for_request(request.id, "approver"):
            self._post(message.channel, blocks.notice(wording.failed(request)))

    def _send_access_revoked(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.revoked(request))

    def _send_revocation_failing(self, request: AccessRequest, approvers: list[str]) -> None:
        for approver in approvers:
            self._post(approver, blocks.notice(wording.revocation_failing(request)))

    def _send_task_assigned(self, request: AccessRequest, approvers: list[str], revoke: bool) -> None:
        role = "task_revoke" if revoke else "task_grant"
        for approver in approvers:
            self._dm(request, approver, role, blocks.task_message(request, revoke))
        if not revoke:
            self._refresh(request)

    def _send_reminder(self, request: AccessRequest, approvers: list[str]) -> None:
        if request.state != "pending":
            return  # decided since the reminder was due: nothing to chase
        for approver in approvers:
            self._post(approver, blocks.notice(wording.reminder(request)))

    def _send_request_timed_out(self, request: AccessRequest) -> None:
        self._refresh(request, notice=wording.timed_out(request))

    def _send_expiry_warning(self, request: AccessRequest) -> None:
        if request.state == "active":  # kept, so that its buttons go when the access ends
            self._dm(request, request.requester, "holder", blocks.expiry_warning(request))

    def _send_drift_detected(self, request: AccessRequest, finding: str, approvers: list[str]) -> None:
        for approver in approvers:
            self._post(approver, blocks.notice(wording.drift(request, finding)))

    # -- helpers -------------------------------------------------------------------------
    def _ask(self, request: AccessRequest, approvers: list[str], progress: Progress) -> None:
        for approver in approvers:
            self._dm(request, approver, "approver", blocks.approver_message(request, progress, approver))

    def _refresh(self, request: AccessRequest, notice: str | None = None) -> None:
        """Redraw every message about the request as it is now, then tell the requester if
        there is news."""
        progress = self._progress(request)
        for message in self._messages.for_request(request.id):
            body = self._redrawn(request, progress, message.role, message.recipient)
            self._client.chat_update(channel=message.channel, ts=message.ts, **self._plain(body))
        if notice:
            self._post(request.requester, blocks.notice(notice))

    @staticmethod
    def _redrawn(request: AccessRequest, progress: Progress, role: str, recipient: str) -> dict:
        if role == "approver":
            return blocks.approver_message(request, progress, recipient)
        if role == "reviewer":
            return blocks.break_glass_message(request)
        if role == "holder":
            return blocks.expiry_warning(request)
        if role.startswith("task_"):
            return blocks.task_message(request, revoke=role == "task_revoke")
        return blocks.requester_message(request, progress)

    def _dm(self, request: AccessRequest, user: str, role: str, body: dict) -> None:
        response = self._post(user, body)
        self._messages.add(request.id, user, role, response["channel"], response["ts"])

    def _post(self, channel: str, body: dict):
        # Posting to a user id delivers to the app's DM with that user.
        return self._client.chat_postMessage(channel=channel, **self._plain(body))

    def _plain(self, body: dict) -> dict:
        """The message with its `text` (what a notification shows) in plain words."""
        return {**body, "text": clip(plain(body["text"], self._name_of), 4000)}

"""Tells people what happened, by DM, without ever blocking or failing the lifecycle.

Messages are sent from background workers: the Slack listener has already acknowledged, and a
slow or failing Slack must not hold up a grant or a revocation.  Messages about the same request
go through the same worker, so they arrive in the order the lifecycle produced them.
"""

from __future__ import annotations

import logging
import zlib
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable

from slack_sdk import WebClient

from bot.domain.request import AccessRequest
from bot.slack import blocks, wording
from storage.repositories import Messages

log = logging.getLogger(__name__)


class SlackNotifier:
    def __init__(self, client: WebClient, messages: Messages, workers: int = 4) -> None:
        self._client = client
        self._messages = messages
        self._lanes = [ThreadPoolExecutor(1, thread_name_prefix=f"notify-{i}") for i in range(workers)]

    def close(self) -> None:
        for lane in self._lanes:
            lane.shutdown(wait=True)

    def _later(self, request: AccessRequest, what: str, work: Callable[[], None]) -> None:
        def run() -> None:
            try:
                work()
            except Exception:  # never raise into the lifecycle; the log says what was missed
                log.exception("request %s: could not send %s", request.id, what)

        lane = self._lanes[zlib.crc32(request.id.encode()) % len(self._lanes)]
        lane.submit(run)

    # -- the Notifier port ---------------------------------------------------------------
    def request_submitted(self, request: AccessRequest, approvers: list[str]) -> None:
        def send() -> None:
            self._dm(request, request.requester, "requester", blocks.requester_message(request, approvers))
            for approver in approvers:
                self._dm(request, approver, "approver", blocks.approver_message(request))
        self._later(request, "the new request", send)

    def approval_counted(self, request: AccessRequest, approver: str, needed: int) -> None:
        note = wording.partial_approval(approver, needed)
        self._later(request, "the approval count", lambda: self._refresh(request, note))

    def request_approved(self, request: AccessRequest) -> None:
        self._later(request, "the approval", lambda: self._refresh(request))

    def request_denied(self, request: AccessRequest) -> None:
        self._later(request, "the denial", lambda: self._refresh(request, notice=wording.denied(request)))

    def request_cancelled(self, request: AccessRequest) -> None:
        self._later(request, "the cancellation",
                    lambda: self._refresh(request, notice=wording.cancelled(request)))

    def access_granted(self, request: AccessRequest) -> None:
        self._later(request, "the grant", lambda: self._refresh(request, notice=wording.granted(request)))

    def provisioning_failed(self, request: AccessRequest) -> None:
        def send() -> None:
            self._refresh(request, notice=wording.failed(request))
            for message in self._messages.for_request(request.id, "approver"):
                self._post(message.channel, blocks.notice(wording.failed(request)))
        self._later(request, "the failure", send)

    def access_revoked(self, request: AccessRequest) -> None:
        self._later(request, "the revocation",
                    lambda: self._refresh(request, notice=wording.revoked(request)))

    def revocation_failing(self, request: AccessRequest, approvers: list[str]) -> None:
        def send() -> None:
            for approver in approvers:
                self._post(approver, blocks.notice(wording.revocation_failing(request)))
        self._later(request, "the revocation alert", send)

    # -- helpers -------------------------------------------------------------------------
    def _refresh(self, request: AccessRequest, note: str | None = None, notice: str | None = None) -> None:
        """Redraw every message about the request, then tell the requester if there is news."""
        for message in self._messages.for_request(request.id):
            if message.role == "approver":
                body = blocks.approver_message(request, note)
            elif request.state != "pending":  # the requester's own message changes on a decision
                body = blocks.requester_message(request, [])
            else:
                continue
            self._client.chat_update(channel=message.channel, ts=message.ts, **body)
        if notice:
            self._post(request.requester, blocks.notice(notice))

    def _dm(self, request: AccessRequest, user: str, role: str, body: dict) -> None:
        response = self._post(user, body)
        self._messages.add(request.id, user, role, response["channel"], response["ts"])

    def _post(self, channel: str, body: dict):
        # Posting to a user id delivers to the app's DM with that user.
        return self._client.chat_postMessage(channel=channel, **body)

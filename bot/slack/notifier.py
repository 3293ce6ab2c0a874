"""Tells people what happened, by DM or in an approval channel, without ever blocking or failing
the lifecycle.

Each event that tells someone is stored in the outbox, in the same transaction as the state
change it reports, and delivered by the outbox dispatcher in the background: the Slack listener
has already acknowledged, a slow or failing Slack cannot hold up a grant or a revocation, and a
Slack outage or a restart delays messages without losing them.  Delivery dispatches on the
event's type; messages show the request as it is when they are delivered.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from slack_sdk import WebClient

from bot.domain.events import (
    AccessGranted,
    AccessRevoked,
    ApprovalCounted,
    BeneficiaryDeclined,
    BreakGlassReviewed,
    BreakGlassUsed,
    DriftFound,
    Escalated,
    Event,
    ExpiryWarned,
    ExtensionApplied,
    ExtensionClosed,
    ExtensionFailed,
    ExtensionRequested,
    OnCallUnknown,
    ProvisioningFailed,
    Reminded,
    RequestApproved,
    RequestCancelled,
    RequestDenied,
    RequestSubmitted,
    ReviewAssigned,
    ReviewReminded,
    RevocationFailing,
    StepApproved,
    StepUpFailed,
    StepUpStarted,
    TaskAssigned,
    TicketResolved,
    TimedOut,
)
from bot.domain.notify import Notify
from bot.domain.request import AccessRequest, State
from bot.outbox import OutboxDispatcher
from bot.ports import Clock
from bot.routing import Progress
from bot.slack import blocks, wording
from bot.slack.messages import RequestMessages
from bot.slack.text import clip, plain
from storage.chat import Messages
from storage.outbox import Outbox
from storage.request_queries import RequestQueries
from storage.tables import OutboxRow

log = logging.getLogger(__name__)


def post_notice(client: WebClient, user: str, mrkdwn: str, name_of: Callable[[str], str]) -> dict:
    """DM `user` one section of mrkdwn, its notification `text` in plain words."""
    return client.chat_postMessage(channel=user, text=clip(plain(mrkdwn, name_of), 4000),
                                   blocks=blocks.notice(mrkdwn)["blocks"])


def post_private(client: WebClient, channel: str, user: str, mrkdwn: str,
                 name_of: Callable[[str], str]) -> dict:
    """Show `user` alone one section of mrkdwn in `channel` (an ephemeral message)."""
    return client.chat_postEphemeral(channel=channel, user=user, text=clip(plain(mrkdwn, name_of), 4000),
                                     blocks=blocks.notice(mrkdwn)["blocks"])


class SlackNotifier:
    def __init__(self, client: WebClient, messages: Messages, outbox: Outbox, requests: RequestQueries,
                 clock: Clock, progress: Callable[[AccessRequest], Progress],
                 name_of: Callable[[str], str],
                 notify_of: Callable[[AccessRequest], Notify] = lambda request: Notify(),
                 audit: Callable[[Event], None] = lambda event: None) -> None:
        self._requests, self._clock = requests, clock
        self._slack = RequestMessages(client, messages, progress, name_of, notify_of, audit)
        self.dispatcher = OutboxDispatcher(outbox, self._deliver, clock)
        # How each event is told, by type; test_message_kinds checks every event that tells
        # someone has one.  An update in place redraws the request's messages, with news for
        # the requester where there is some.
        redraw, news = self._slack.refresh, self._news
        self.tellers: dict[type[Event], Callable[[AccessRequest, Any], None]] = {
            RequestSubmitted: self._submitted, ExtensionRequested: self._submitted,
            BreakGlassUsed: self._break_glass_used, StepApproved: self._next_step,
            Escalated: self._escalated, Reminded: self._reminded, TaskAssigned: self._task,
            ExtensionApplied: self._extended, ProvisioningFailed: self._failed,
            ExpiryWarned: self._expiry_warning,
            RevocationFailing: self._revocation_failing, DriftFound: self._drift,
            ApprovalCounted: lambda request, event: redraw(request),
            RequestApproved: lambda request, event: redraw(request),
            BreakGlassReviewed: lambda request, event: redraw(request),
            RequestDenied: partial(news, wording.denied), RequestCancelled: partial(news, wording.cancelled),
            BeneficiaryDeclined: partial(news, wording.declined),
            ExtensionClosed: partial(news, wording.extension_closed),
            ExtensionFailed: partial(news, wording.extension_failed),
            TimedOut: partial(news, wording.timed_out), AccessGranted: partial(news, wording.granted),
            TicketResolved: partial(news, wording.ticket_resolved),
            OnCallUnknown: self._on_call_unknown,
            AccessRevoked: self._revoked,
            StepUpStarted: lambda request, event: self._slack.tell([event.actor], wording.step_up_started(
                request, event.decision)),
            StepUpFailed: lambda request, event: self._slack.tell([event.actor], wording.step_up_failed(
                request, event.decision, event.outcome or "")),
        }
        # Events about no request (a reviewer's campaign), by type.
        self.notices: dict[type[Event], Callable[[Any], None]] = {
            ReviewAssigned: lambda event: self._slack.tell((event.reviewer,), wording.review_assigned(event)),
            ReviewReminded: lambda event: self._slack.tell((event.reviewer,), wording.review_reminded(event)),
        }

    def start(self) -> None:
        self.dispatcher.start()

    def close(self) -> None:
        self.dispatcher.stop()

    # -- the Notifier port ----------------------------------------------------------------
    def message(self, event: Event) -> OutboxRow:
        return Outbox.message(event, self._clock.now())

    def wake(self) -> None:
        self.dispatcher.poke()

    # -- delivery ------------------------------------------------------------------------
    def _deliver(self, row: OutboxRow) -> None:
        event = Outbox.event(row)
        if event.request_id is None:
            self.notices[type(event)](event)
            return
        request = self._requests.get(event.request_id)
        self.tellers[type(event)](request, event)

    def _submitted(self, request: AccessRequest, event: RequestSubmitted | ExtensionRequested) -> None:
        progress = self._slack.progress(request)
        if request.filed_by:  # filed for someone else: they may decline it; the filer follows it
            self._slack.dm(request, request.requester, "beneficiary", blocks.beneficiary_message(request, progress))
            self._slack.dm(request, request.filed_by, "filer", blocks.filer_message(request, progress))
        else:
            self._slack.dm(request, request.requester, "requester", blocks.requester_message(request, progress))
        self._slack.ask(request, event.approvers, progress)

    def _next_step(self, request: AccessRequest, event: StepApproved) -> None:
        self._slack.refresh(request)
        self._slack.ask(request, event.next_approvers, self._slack.progress(request))

    def _escalated(self, request: AccessRequest, event: Escalated) -> None:
        if request.state is not State.PENDING:
            return
        self._slack.chase(request, event.approvers, wording.escalated(request))
        self._slack.refresh(request)  # the requester now waits on the fallback approvers too
        self._slack.ask(request, event.approvers, self._slack.progress(request))

    def _reminded(self, request: AccessRequest, event: Reminded) -> None:
        """Remind those asked already; anyone who may decide now but was never asked (the new
        person on call, after a handover) gets the whole request with its buttons."""
        if request.state is not State.PENDING:  # decided since the reminder was due: nothing to chase
            return
        asked = self._slack.asked(request)
        if newcomers := tuple(p for p in event.approvers if p not in asked):
            self._slack.refresh(request)  # whoever is no longer on call loses the buttons
            self._slack.ask(request, newcomers, self._slack.progress(request))
        # In the request's thread in its approval channel, naming all of them; by DM only to
        # those asked before (the newcomers were just sent the request itself).
        self._slack.chase(request, event.approvers, wording.reminder(request),
                          by_dm=tuple(p for p in event.approvers if p in asked))

    def _on_call_unknown(self, request: AccessRequest, event: OnCallUnknown) -> None:
        self._slack.tell((request.requester,), wording.on_call_unknown(request, event.source or ""))

    def _break_glass_used(self, request: AccessRequest, event: BreakGlassUsed) -> None:
        for reviewer in event.reviewers:
            self._slack.dm(request, reviewer, "reviewer", blocks.break_glass_message(request))

    def _extended(self, request: AccessRequest, event: ExtensionApplied) -> None:
        extended = self._requests.get(request.extends)
        self._slack.refresh(extended)  # the grant's messages show the new end
        self._slack.refresh(request, notice=wording.extended(extended, extended.expires_at))

    def _failed(self, request: AccessRequest, event: ProvisioningFailed) -> None:
        self._news(wording.failed, request, event)
        self._slack.tell_approvers_asked(request, wording.failed(request))

    def _revoked(self, request: AccessRequest, event: AccessRevoked) -> None:
        said = wording.revoked(request)
        # Access taken away in a review may be held by someone Slack does not know (no user
        # for their email): there is nobody to tell.
        told = "@" not in request.requester
        self._slack.refresh(request, notice=(f"{said} {wording.signed_out()}" if event.signed_out
                                             else said) if told else None)

    def _task(self, request: AccessRequest, event: TaskAssigned) -> None:
        role = "task_revoke" if event.revoke else "task_grant"
        for approver in event.approvers:
            self._slack.dm(request, approver, role, blocks.task_message(request, event.revoke))
        if not event.revoke:
            self._slack.refresh(request)

    def _expiry_warning(self, request: AccessRequest, event: ExpiryWarned) -> None:
        if request.state is State.ACTIVE:  # kept, so that its buttons go when the access ends
            self._slack.dm(request, request.requester, "holder", blocks.expiry_warning(request))

    def _revocation_failing(self, request: AccessRequest, event: RevocationFailing) -> None:
        self._slack.tell(event.approvers, wording.revocation_failing(request))

    def _drift(self, request: AccessRequest, event: DriftFound) -> None:
        self._slack.tell(event.approvers, wording.drift(request, event.finding or ""))

    def _news(self, say: Callable[[AccessRequest], str], request: AccessRequest, event: Event) -> None:
        self._slack.refresh(request, notice=say(request))

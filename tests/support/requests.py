"""Bringing a running bot's request to a given point of its life, and moving its clock."""

from __future__ import annotations

from datetime import timedelta

from tests.support.harness import ALICE, BOB, CAROL, eventually
from tests.support.slack import ask_to_extend, request_access, texts


def pending_request(bot, slack, approvers=(ALICE, BOB)):
    """Carol's eng-admins request, once she and every approver have their DM."""
    request_access(slack)
    eventually(lambda: slack.dm(CAROL) and all(slack.dm(a) for a in approvers))
    return bot.service.lifecycle.queries.in_states("pending")[0]


def pending(bot):
    """The first pending request, once there is one."""
    return eventually(lambda: bot.service.lifecycle.queries.in_states("pending"))[0]


def approved(bot, slack):
    """Carol's request, just approved by Alice (granting may still be under way)."""
    request = pending_request(bot, slack)
    slack.click(ALICE, "approve")
    return request


def active_request(bot, slack):
    """Carol's request, approved by Alice and granted."""
    request = approved(bot, slack)
    eventually(lambda: bot.request(request.id).state == "active")
    return bot.request(request.id)


def extension_asked(bot, slack, clock):
    """Carol, warned 14 minutes before her 4h end, asks for 1h more; Alice is asked."""
    jump(bot, clock, timedelta(hours=3, minutes=46))
    eventually(lambda: "Extend" in texts(slack.dm(CAROL)))
    ask_to_extend(slack)
    eventually(lambda: "asks to keep" in texts(slack.dm(ALICE)))
    return bot.service.lifecycle.queries.in_states("pending")[0]


def jump(bot, clock, delta: timedelta) -> None:
    """Move the bot's clock and wake its scheduler, so what fell due happens now."""
    clock.advance(delta)
    bot.service.scheduler.wake_at(clock.now())

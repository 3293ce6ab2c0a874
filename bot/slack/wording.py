"""Every sentence Latchkey says in Slack, in one place.  Layout lives in blocks.py.

Functions take core objects and return mrkdwn; any user-supplied text is escaped here.
"""

from __future__ import annotations

from bot.domain.errors import AlreadyDecidedError
from bot.domain.policy import describe_duration
from bot.domain.request import AccessRequest, State
from bot.slack.text import clip, escape, mention, mentions, when

HELP = (
    "*Latchkey* gives you access for a limited time, approved by its owners.\n"
    "• `/request-access` opens the request form.\n"
    "• `/request-access eng-admins` opens it with a search already typed.\n"
    "• `/request-access help` shows this message.\n"
    "The owners get a message with Approve / Deny; you get one when they decide, and access "
    "is removed again when the time is up."
)


def item(request: AccessRequest) -> str:
    return f"*{escape(request.entitlement_name)}* ({escape(request.connector_id)})"


def ask_approver(request: AccessRequest) -> str:
    return (f"{mention(request.requester)} asks for {item(request)} "
            f"for *{describe_duration(request.duration)}*.")


def reason(request: AccessRequest) -> str:
    return "*Why:* " + clip(escape(request.justification), 2900)


def request_footer(request: AccessRequest) -> str:
    return f"Request `{request.id}` · submitted {when(request.created_at)}"


def waiting(request: AccessRequest, approvers: list[str]) -> str:
    return (f"Your request for {item(request)} for {describe_duration(request.duration)} is "
            f"waiting for approval by {mentions(approvers)}.")


def your_request(request: AccessRequest) -> str:
    return f"Your request for {item(request)} for {describe_duration(request.duration)}."


def outcome(request: AccessRequest) -> str:
    """What happened to a request, for every message that showed its buttons."""
    decided = when(request.decided_at) if request.decided_at else ""
    by = mentions(request.decided_by)
    if request.state is State.DENIED:
        text = f":no_entry: Denied by {by} {decided}."
        if request.decision_reason:
            text += f"\n*Reason:* {clip(escape(request.decision_reason), 2000)}"
        return text
    if request.state is State.CANCELLED:
        return f":wastebasket: Cancelled by the requester {decided}."
    if request.state is State.FAILED:
        return f":warning: Approved by {by} {decided}, but granting failed: {escape(request.last_error or '')}"
    if request.state is State.ACTIVE:
        return f":white_check_mark: Approved by {by} {decided}. Granted until {when(request.expires_at)}."
    if request.state is State.REVOKED:
        return f":white_check_mark: Approved by {by} {decided}. Access ended {when(request.revoked_at)}."
    return f":white_check_mark: Approved by {by} {decided}."


def partial_approval(approver: str, needed: int) -> str:
    return f":ballot_box_with_check: Approved by {mention(approver)}; {needed} approvals are needed."


def granted(request: AccessRequest) -> str:
    if request.preexisting:
        return (f":information_source: {item(request)} was approved, but you already had it. "
                "Latchkey changed nothing and will leave it in place.")
    return f":unlock: You now have {item(request)} until {when(request.expires_at)}."


def revoked(request: AccessRequest) -> str:
    if request.preexisting:
        return (f":hourglass: Your request for {item(request)} has ended. You held this access "
                "before, so it stays in place.")
    return f":lock: Your access to {item(request)} has ended and was removed."


def denied(request: AccessRequest) -> str:
    return f"Your request for {item(request)} was not approved.\n" + outcome(request)


def failed(request: AccessRequest) -> str:
    return (f":warning: Your request for {item(request)} was approved, but Latchkey could not "
            f"grant it: {escape(request.last_error or 'unknown error')}. The owners have been told.")


def cancelled(request: AccessRequest) -> str:
    return f"You cancelled your request for {item(request)}."


def revocation_failing(request: AccessRequest) -> str:
    return (f":rotating_light: Latchkey cannot remove {item(request)} from {mention(request.requester)} "
            f"(request `{request.id}`, {request.attempts} attempts): "
            f"{escape(request.last_error or 'unknown error')}. It keeps trying; please check.")


def already_decided(error: AlreadyDecidedError) -> str:
    request = error.request
    if request.state in (State.PENDING,):
        return "You have already approved this request."
    if request.state is State.CANCELLED:
        return "This request was cancelled by the requester."
    if request.state is State.DENIED:
        return f"Already denied by {mentions(request.decided_by)}."
    return f"Already approved by {mentions(request.decided_by)}."


def deny_prompt(request: AccessRequest) -> str:
    return f"You are denying {mention(request.requester)}'s request for {item(request)}."


def unexpected(error_id: str) -> str:
    return f"Sorry, something went wrong on our side (error id `{error_id}`). Please try again."

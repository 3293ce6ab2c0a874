"""Every sentence Latchkey says in Slack, in one place.  Layout lives in blocks.py.

Functions take core objects and return mrkdwn; any user-supplied text is escaped here.
"""

from __future__ import annotations

from datetime import timedelta

from bot.domain.errors import AlreadyDecidedError, TaskAlreadyDoneError
from bot.domain.events import ReviewAssigned, ReviewReminded
from bot.domain.policy import describe_duration
from bot.domain.request import AccessRequest, Route, State
from bot.routing import Progress
from bot.slack.text import clip, escape, link, mention, mentions, when

TICKET_SUMMARY = 150  # characters of a ticket's summary shown, at most

HELP = (
    "*Latchkey* gives you access for a limited time, approved by its owners.\n"
    "• `/request-access` opens the request form.\n"
    "• `/request-access eng-admins` opens it with a search already typed.\n"
    "• `/request-access list` shows your pending requests and the access you hold.\n"
    "• `/request-access help` shows this message.\n"
    "The approvers get a message with Approve / Deny (some access needs several steps, a ticket, "
    "or is approved at once); you get one when they decide. Before your access ends you can "
    "*Extend* it or *End now*; bundles grant several items together. In an emergency, where "
    "allowed, *break glass* grants at once and security reviews it afterwards."
)


def item(request: AccessRequest) -> str:
    return f"*{escape(request.entitlement_name)}* ({escape(request.connector_id)})"


def ask_approver(request: AccessRequest) -> str:
    if request.filed_by:
        return (f"{mention(request.filed_by)} asks for {item(request)} for {mention(request.requester)}, "
                f"who would hold it, for *{describe_duration(request.duration)}*.")
    if request.extends:
        return (f"{mention(request.requester)} asks to keep {item(request)} "
                f"*{describe_duration(request.duration)}* longer.")
    return (f"{mention(request.requester)} asks for {item(request)} "
            f"for *{describe_duration(request.duration)}*.")


def details(request: AccessRequest, steps: int) -> str | None:
    """The facts an approver weighs besides the reason: ticket, step, conflicts."""
    facts = []
    if request.ticket:
        facts.append(f"*Ticket:* {ticket(request)}")
    if steps > 1:
        facts.append(f"*Step {min(request.step, steps - 1) + 1} of {steps}*")
    if request.conflict:
        facts.append(f":warning: Breaks separation of duties rule *{escape(request.conflict)}*: "
                     "approve only if that is intended")
    return " · ".join(facts) or None


def ticket(request: AccessRequest) -> str:
    """The ticket's reference; where it was checked in its tracker, a link to it with its
    summary and status as they were then (Jira's words: user text)."""
    assert request.ticket is not None
    if not request.ticket_url:
        return escape(request.ticket)
    said = f"{link(request.ticket_url, request.ticket)} {escape(clip(request.ticket_summary or '', TICKET_SUMMARY))}"
    return f"{said.rstrip()} ({escape(request.ticket_status)})" if request.ticket_status else said.rstrip()


def bundle_items(request: AccessRequest) -> str:
    return "*Includes:* " + clip(", ".join(f"{escape(i.name)} ({escape(i.connector_id)})"
                                           for i in request.items), 2900)


def reason(request: AccessRequest) -> str:
    return "*Why:* " + clip(escape(request.justification), 2900)


def request_footer(request: AccessRequest) -> str:
    return f"Request `{request.id}` · submitted {when(request.created_at)}"


def waiting(request: AccessRequest, progress: Progress) -> str:
    """The requester's view of a pending request: who it waits on now, and who approved."""
    text = (f"{your_request(request)[:-1]} is waiting for {_approvals(progress)} from "
            f"{mentions(progress.deciders)}.")
    if progress.approved:
        text += f" Approved so far by {mentions(progress.approved)}."
    return text


def standing(progress: Progress, viewer: str) -> str | None:
    """Where a pending request stands, for an approver's message: who may act now, unless the
    viewer is one of them and nobody has approved yet (their buttons say it all)."""
    at_step = progress.approvers_of_step(progress.step)
    if viewer in at_step:
        return (f":ballot_box_with_check: You approved; waiting for {_approvals(progress)} from "
                f"{mentions(progress.deciders)}.")
    done = ([f"Step {progress.step} approved by {mentions(progress.approvers_of_step(progress.step - 1))}"]
            if progress.step else []) + ([f"approved by {mentions(at_step)}"] if at_step else [])
    if viewer not in progress.deciders:
        said = "; ".join(done + [f"now with {mentions(progress.deciders)}"])
    elif done:
        said = "; ".join(done + [f"{_approvals(progress)} needed"])
    else:
        return None
    return f":ballot_box_with_check: {said[0].upper()}{said[1:]}."


def channel_standing(progress: Progress) -> str:
    """Where a pending request stands, for its message in an approval channel."""
    at_step = progress.approvers_of_step(progress.step)
    done = ([f"Step {progress.step} approved by {mentions(progress.approvers_of_step(progress.step - 1))}"]
            if progress.step else []) + ([f"approved by {mentions(at_step)}"] if at_step else [])
    said = "; ".join(done + [f"waiting for {_approvals(progress)} from {mentions(progress.deciders)}"])
    return f":hourglass_flowing_sand: {said[0].upper()}{said[1:]}."


def waiting_on(people) -> str:
    """Who a reminder in a request's thread is for (mentioned, so that they are notified)."""
    return f"Waiting on {mentions(people)}."


def _approvals(progress: Progress) -> str:
    """'approval', '2 approvals', or '1 more approval' once someone at the step has approved."""
    if progress.approvers_of_step(progress.step):
        return f"{progress.needed} more approval{'s' if progress.needed != 1 else ''}"
    return "approval" if progress.needed == 1 else f"{progress.needed} approvals"


def your_request(request: AccessRequest) -> str:
    if request.filed_by:
        return (f"The request {mention(request.filed_by)} filed for {mention(request.requester)}: "
                f"{item(request)} for {describe_duration(request.duration)}.")
    if request.extends:
        return f"Your request to keep {item(request)} {describe_duration(request.duration)} longer."
    return f"Your request for {item(request)} for {describe_duration(request.duration)}."


def outcome(request: AccessRequest) -> str:
    """What happened to a request, for every message that showed its buttons."""
    decided = when(request.decided_at) if request.decided_at else ""
    by = {Route.AUTO: f"the rule `{escape(request.rule)}` (automatically)",
          Route.BREAK_GLASS: f"{mentions(request.decided_by)} themselves (break-glass)",
          }.get(request.route, mentions(request.decided_by))
    if request.state is State.EXTENDED:
        return f":white_check_mark: Approved by {by} {decided}; the access was extended."
    if request.state is State.FAILED and request.extends:
        return f":warning: Approved by {by} {decided}, but the access had already ended."
    if request.state is State.DENIED:
        text = f":no_entry: Denied by {by} {decided}."
        if request.decision_reason:
            text += f"\n*Reason:* {clip(escape(request.decision_reason), 2000)}"
        return text
    if request.state is State.CANCELLED and request.extends and request.decided_by:
        return f":wastebasket: Closed {decided}: the access it would extend has ended. Nothing to do."
    if request.state is State.CANCELLED and request.filed_by:
        return f":wastebasket: Declined by {mention(request.requester)}, whom it was for, {decided}."
    if request.state is State.CANCELLED:
        return f":wastebasket: Cancelled by the requester {decided}."
    if request.state is State.TIMED_OUT:
        return f":hourglass: Nobody decided in time; the request timed out {decided}."
    if request.state is State.FAILED:
        return f":warning: Approved by {by} {decided}, but granting failed: {escape(request.last_error or '')}"
    if request.state is State.PROVISIONING and request.manual:
        return f":hourglass_flowing_sand: Approved by {by} {decided}. An owner will now grant it by hand."
    if request.state is State.ACTIVE:
        return f":white_check_mark: Approved by {by} {decided}. Granted until {when(request.expires_at)}."
    if request.state is State.REVOKED:
        return f":white_check_mark: Approved by {by} {decided}. Access ended {when(request.revoked_at)}."
    return f":white_check_mark: Approved by {by} {decided}."


def task(request: AccessRequest, revoke: bool) -> str:
    # A holder an access review names by email alone has no Slack user to mention.
    person = escape(request.requester) if "@" in request.requester else mention(request.requester)
    who = f"{person} ({escape(request.requester_email)}, account `{escape(request.account_id)}`)"
    if revoke:
        why = "an access review revoked it" if request.route is Route.REVIEW else "the time is up"
        return (f":wrench: *Task:* {why}. Please take {item(request)} away from {who}, "
                "then press *Done*.")
    return (f":wrench: *Task:* Latchkey cannot grant this automatically. Please give {who} "
            f"{item(request)}, then press *Done*. It will be taken back in "
            f"{describe_duration(request.duration)}.")


def task_done(request: AccessRequest, revoke: bool) -> str:
    if revoke:
        return f":white_check_mark: Taken back {when(request.revoked_at)}."
    return f":white_check_mark: Granted by hand {when(request.granted_at)}."


def granted(request: AccessRequest) -> str:
    if request.is_bundle:
        names = ", ".join(escape(i.name) for i in request.items)
        return f":unlock: You now have {item(request)} ({clip(names, 2000)}) until {when(request.expires_at)}."
    if request.manual:
        return (f":unlock: An owner has granted you {item(request)} by hand. It will be taken "
                f"back {when(request.expires_at)}.")
    if request.preexisting:
        return (f":information_source: {item(request)} was approved, but you already had it. "
                "Latchkey changed nothing and will leave it in place.")
    return f":unlock: You now have {item(request)} until {when(request.expires_at)}."


def revoked(request: AccessRequest) -> str:
    if request.route is Route.REVIEW:
        return f":lock: Your access to {item(request)} was removed after an access review."
    if request.manual:
        return f":lock: Your access to {item(request)} has ended; an owner has taken it back."
    if request.preexisting:
        return (f":hourglass: Your request for {item(request)} has ended. You held this access "
                "before, so it stays in place.")
    return f":lock: Your access to {item(request)} has ended and was removed."


def ticket_resolved(request: AccessRequest) -> str:
    assert request.ticket is not None
    return (f"Your access to {item(request)} is ending early: its ticket {ticket(request)} "
            "was resolved.")


def _decision(decision: str | None) -> str:
    return "review of the break-glass use of" if decision == "review" else "approval of"


def step_up_started(request: AccessRequest, decision: str | None) -> str:
    return (f":iphone: Check your phone: accept the Okta Verify push to confirm your "
            f"{_decision(decision)} {item(request)} for {mention(request.requester)}. "
            "It counts only once you accept it.")


def step_up_failed(request: AccessRequest, decision: str | None, outcome: str) -> str:
    return (f"Your {_decision(decision)} {item(request)} for {mention(request.requester)} did not "
            f"count: {escape(outcome)}. Click the button again to get a new push.")


def signed_out() -> str:
    return "You have been signed out everywhere so that the change takes effect: sign in again to carry on."


def denied(request: AccessRequest) -> str:
    return f"Your request for {item(request)} was not approved.\n" + outcome(request)


def failed(request: AccessRequest) -> str:
    return (f":warning: Your request for {item(request)} was approved, but Latchkey could not "
            f"grant it: {escape(request.last_error or 'unknown error')}. The owners have been told.")


def cancelled(request: AccessRequest) -> str:
    return f"You cancelled your request for {item(request)}."


def filed_for_you(request: AccessRequest) -> str:
    """The beneficiary's DM about a request someone filed for them."""
    return (f"{mention(request.filed_by or '')} asked for {item(request)} for you, for "
            f"{describe_duration(request.duration)}. If you do not want it, decline it before it is granted.")


def for_filer(request: AccessRequest, notice: str) -> str:
    """News of a request filed for someone else, as its filer gets it: what they were told."""
    return f"On the request you filed for {mention(request.requester)}, they were told:\n>{notice}"


def declined(request: AccessRequest) -> str:
    return (f"{mention(request.requester)} declined {item(request)}, which "
            f"{mention(request.filed_by or '')} asked for on their behalf: nothing was granted.")


def revocation_failing(request: AccessRequest) -> str:
    return (f":rotating_light: Latchkey cannot remove {item(request)} from {mention(request.requester)} "
            f"(request `{request.id}`, {request.attempts} attempts): "
            f"{escape(request.last_error or 'unknown error')}. It keeps trying; please check.")


def already_decided(error: AlreadyDecidedError) -> str:
    request = error.request
    if isinstance(error, TaskAlreadyDoneError):
        if request.reviewed_by:
            return f"Already reviewed by {mention(request.reviewed_by)}."
        return "This task is already done."
    if request.state in (State.PENDING,):
        return "You have already approved this request."
    if request.state is State.CANCELLED and request.extends and request.decided_by:
        return "This extension was closed: the access it would extend has ended."
    if request.state is State.CANCELLED and request.filed_by:
        return f"This request was declined by {mention(request.requester)}, whom it was for."
    if request.state is State.CANCELLED:
        return "This request was cancelled by the requester."
    if request.state is State.TIMED_OUT:
        return "This request timed out before anyone decided."
    if request.state is State.DENIED:
        return f"Already denied by {mentions(request.decided_by)}."
    return f"Already approved by {mentions(request.decided_by)}."


def drift(request: AccessRequest, finding: str) -> str:
    return (f":mag: *Drift* on {item(request)} for {mention(request.requester)} (request "
            f"`{request.id}`): {escape(finding)}")


def deny_prompt(request: AccessRequest) -> str:
    return f"You are denying {mention(request.requester)}'s request for {item(request)}."


def still_reading(connector_id: str) -> str:
    return f"Still reading the catalog from {connector_id}…"


def unexpected(error_id: str) -> str:
    return f"Sorry, something went wrong on our side (error id `{error_id}`). Please try again."


def listed(request: AccessRequest, now) -> str:
    """One line about one of the requester's own requests."""
    if request.state is State.ACTIVE:
        return (f":unlock: {item(request)}: yours until {when(request.expires_at)} "
                f"({time_left(request.expires_at - now)})")
    if request.state is State.PENDING and request.filed_by:
        return (f":hourglass: {item(request)} for {describe_duration(request.duration)}, asked for you by "
                f"{mention(request.filed_by)}: waiting for approval")
    if request.state is State.PENDING:
        return f":hourglass: {item(request)} for {describe_duration(request.duration)}: waiting for approval"
    return f":gear: {item(request)}: {request.state.value}"


def waiting_line(request: AccessRequest) -> str:
    return f"{ask_approver(request)}\n{reason(request)}"


def time_left(left: timedelta) -> str:
    """How long until access ends, rounded down so it never promises more: 'less than a minute
    left', '59 minutes left', '1 hour left', '1 hour 30 minutes left', '5 hours left', '2 days left'."""
    minutes = max(int(left.total_seconds() // 60), 0)

    def count(number: int, unit: str) -> str:
        return f"{number} {unit}{'' if number == 1 else 's'}"

    if minutes < 1:
        return "less than a minute left"
    if minutes < 60:
        words = [count(minutes, "minute")]
    elif minutes < 120:  # minutes still matter in the last two hours
        words = [count(1, "hour")] + ([count(minutes - 60, "minute")] if minutes > 60 else [])
    elif minutes < 48 * 60:
        words = [count(minutes // 60, "hour")]
    else:
        words = [count(minutes // 1440, "day")]
    return " ".join(words) + " left"


NOTHING_OF_YOURS = "You have no pending requests and no temporary access right now."
NOTHING_WAITING = "Nothing is waiting for your approval."


def reminder(request: AccessRequest) -> str:
    return (f":bell: Reminder: {mention(request.requester)} is still waiting for {item(request)} "
            f"(request `{request.id}`, asked {when(request.created_at)}). Approve or deny it in the "
            "message above, or in the Latchkey Home tab.")


def timed_out(request: AccessRequest) -> str:
    return (f":hourglass: Your request for {item(request)} timed out: nobody decided in time. "
            "Ask again if you still need it.")


def expiry_warning(request: AccessRequest) -> str:
    if request.state is not State.ACTIVE:
        return f":lock: Your access to {item(request)} has ended" + (
            f" {when(request.revoked_at)}." if request.revoked_at else ".")
    return (f":alarm_clock: Your access to {item(request)} ends {when(request.expires_at)}. "
            "Extend it if you need more time, or end it now if you are done.")


def on_call_unknown(request: AccessRequest, source: str) -> str:
    return (f":warning: Latchkey could not check with {escape(ON_CALL_SERVICES.get(source, source))} whether you "
            f"are on call, so {item(request)} is not approved automatically: your request waits for "
            f"the approvers (request `{request.id}`).")


ON_CALL_SERVICES = {"pagerduty": "PagerDuty", "opsgenie": "Opsgenie"}


def escalated(request: AccessRequest) -> str:
    return (f":rotating_light: Escalated to you: {mention(request.requester)} has been waiting for "
            f"{item(request)} since {when(request.created_at)} and the approvers have not answered.")


def break_glass_used(request: AccessRequest) -> str:
    return (f":rotating_light: *Break-glass:* {mention(request.requester)} gave themselves "
            f"{item(request)} for {describe_duration(request.duration)} without approval.")


def reviewed(request: AccessRequest) -> str:
    return f":white_check_mark: Reviewed by {mention(request.reviewed_by)}."


def extended(request: AccessRequest, expires_at) -> str:
    return f":hourglass: Your access to {item(request)} now lasts until {when(expires_at)}."


def extension_closed(request: AccessRequest) -> str:
    return (f"Your request to keep {item(request)} longer was closed: the access has ended. "
            "Ask for it again if you still need it.")


def extension_failed(request: AccessRequest) -> str:
    return (f":warning: Your request to keep {item(request)} longer was approved, but the access "
            "had already ended. Ask for it again if you still need it.")


def extend_prompt(request: AccessRequest) -> str:
    return f"{item(request)} is yours until {when(request.expires_at)}. How much longer do you need it?"



def review_assigned(event: ReviewAssigned) -> str:
    what = ("were handed to you: nobody decided them by the due date" if event.escalated
            else "are yours to review")
    return (f"*Access review {escape(event.campaign or '')}*: {event.items} holdings {what}. "
            f"Keep or revoke each" + (f" by {when(event.due_at)}." if event.due_at else "."))


def review_reminded(event: ReviewReminded) -> str:
    return (f"*Access review {escape(event.campaign or '')}*: {event.undecided} holdings still wait "
            f"on your decision" + (f", due {when(event.due_at)}." if event.due_at else "."))

"""One line of the audit channel per audit event, worded from the event's type.

Nothing secret reaches the channel: the audit log holds no secrets (details are masked as they
are written), lines show only chosen fields, masked again and clipped (never an event's raw
detail; a loaded configuration shows its fingerprint and the names of the changed keys), and all
user text is escaped for mrkdwn.  People appear as mentions (<@U…>), so a person who is in the
audit channel is notified of lines about them.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

from bot.domain import events as e
from bot.domain.stored_events import BY_ACTION
from bot.slack.text import clip, escape, mention
from connectors.masking import mask
from storage.tables import AuditRow

MAX_CHARS = 3000  # a section block's text
_SLACK_ID = re.compile(r"[UW][A-Z0-9]{2,}")

# What the actor did, to be followed by the request id; one entry for every event type that is
# audited (tests/unit/test_message_kinds.py checks), so a new event cannot go unworded.
WORDS: dict[type[e.Event], str] = {
    e.RequestSubmitted: "requested",
    e.AutoApproved: "auto-approved",
    e.OnCallUnknown: "could not learn who is on call for",
    e.BreakGlassUsed: "used break-glass for",
    e.BreakGlassReviewed: "reviewed the break-glass use of",
    e.ApprovalCounted: "approved",
    e.StepApproved: "approved a step of",
    e.RequestApproved: "approved",
    e.RequestDenied: "denied",
    e.RequestCancelled: "cancelled",
    e.BeneficiaryDeclined: "declined",
    e.TimedOut: "timed out",
    e.Reminded: "reminded the approvers of",
    e.Escalated: "escalated",
    e.Claimed: "started granting",
    e.AccessGranted: "granted",
    e.ProvisioningFailed: "could not grant",
    e.GrantRetrying: "will retry granting",
    e.ExtensionRequested: "asked for more time with",
    e.ExtensionApplied: "applied the extension",
    e.AccessExtended: "extended",
    e.Expired: "started revoking",
    e.AccessRevoked: "revoked",
    e.RevokeRetrying: "will retry revoking",
    e.EndedEarly: "gave back the access of",
    e.TicketResolved: "ended the access of",
    e.DriftFound: "found drift on",
    e.AccessReturned: "found access back for",
    e.Refused: "was refused",
    e.RefusedMore: "kept being refused",
    e.ChangeFeedGap: "ran a full sync of",
    e.StepUpStarted: "was sent a push to confirm a decision on",
    e.StepUpPassed: "confirmed on their phone a decision on",
    e.StepUpFailed: "did not confirm a decision on",
    e.ApprovalChannelUnreachable: "asked by DM, not in the approval channel, for",
    e.ReviewStarted: "started an access review",
    e.ItemKept: "kept access in an access review",
    e.ItemRevoked: "revoked access in an access review, by",
    e.ReviewEscalated: "escalated what nobody decided in an access review",
    e.ReviewClosed: "closed an access review",
}

# A note that says why, or what it means.
NOTES: dict[type[e.Event], str] = {
    e.ApprovalCounted: "more approvals needed",
    e.AutoApproved: "its rule approves it without people",
    e.OnCallUnknown: "people decide it instead",
    e.TimedOut: "nobody decided in time",
    e.BeneficiaryDeclined: "the person it was filed for does not want it",
    e.Expired: "its time is up",
    e.TicketResolved: "its ticket was resolved",
    e.RefusedMore: "more refused attempts this minute are only counted in /metrics",
    e.ApprovalChannelUnreachable: "invite the app to the channel, or fix `approval_channel`",
}


TEXT_LIMIT = 200  # a reason, justification, error or finding
NAME_LIMIT = 100  # an entitlement or connector
PEOPLE_LIMIT = 10


def format_line(row: AuditRow, entitlement: str | None = None) -> str:
    """`2026-11-27 15:04 UTC · <@U1> requested `a1b2` · eng-admins · for 4 hours · why: …`.

    `entitlement`: the name of the request's entitlement, if known.  Only chosen fields of the
    event's detail are shown, clipped, and escaped for mrkdwn.
    """
    try:
        detail = json.loads(row.detail or "{}")
    except ValueError:
        detail = {}
    if not isinstance(detail, dict):
        detail = {}
    head = f"{row.at.strftime('%Y-%m-%d %H:%M UTC')} · {_person(row.actor)} "
    # The configuration's own events: never their detail (a config, or a validation message
    # that may quote the file), only what is known to be safe.
    event_type = BY_ACTION.get(row.action)  # type: ignore[call-overload]  # a str, stored
    if event_type is e.ConfigLoaded:
        fingerprint = _text(str(detail.get("fingerprint", ""))[:8], 8)
        line = head.rstrip() + f": configuration loaded (fingerprint {fingerprint})"
        changed = detail.get("changed")
        if isinstance(changed, list) and changed:
            line += " · changed: " + _text(", ".join(map(str, changed)), TEXT_LIMIT)
        return clip(line, MAX_CHARS)
    if event_type is e.ConfigRejected:
        return head.rstrip() + (": a changed configuration file was rejected; the running "
                                "configuration stays in force (the logs say why)")
    # An action no event type has (written by another version) is shown as it is stored.
    words = WORDS.get(event_type) if event_type else None  # type: ignore[arg-type]
    words = words or _text(row.action.replace("_", " "), 40)
    line = head + words
    if row.request_id:
        line += f" `{_text(row.request_id, 32)}`"
    elif detail.get("connector") and not detail.get("entitlement"):  # to a connector as a whole
        line += " " + _text(detail["connector"], NAME_LIMIT)
    notes = [NOTES[event_type]] if event_type in NOTES else []
    return clip(" · ".join([line, *notes, *_details(detail, entitlement)]), MAX_CHARS)


def _details(detail: dict, entitlement: str | None) -> list[str]:
    parts = []
    name = entitlement or detail.get("entitlement")
    if name:
        parts.append(_text(name, NAME_LIMIT) + (
            f" ({_text(detail['connector'], NAME_LIMIT)})" if detail.get("connector") else ""))
    if detail.get("holder"):  # whose access an access review decided
        parts.append("held by " + _text(detail["holder"], NAME_LIMIT))
    if detail.get("campaign"):
        parts.append("review " + _text(detail["campaign"], NAME_LIMIT))
    for key, label in (("items", "items"), ("just_in_time", "just in time, listed apart"),
                       ("no_decision", "decided by nobody")):
        if isinstance(detail.get(key), int) and detail[key]:
            parts.append(f"{detail[key]} {label}")
    if detail.get("on_no_decision"):
        parts.append("then: " + _text(detail["on_no_decision"], 20))
    if isinstance(detail.get("beneficiary"), str):  # filed for someone else
        parts.append("on behalf of " + _people([detail["beneficiary"]]))
    if detail.get("extends"):
        parts.append(f"extends `{_text(detail['extends'], 32)}`")
    if detail.get("by"):
        parts.append(f"by `{_text(detail['by'], 32)}`")
    if detail.get("duration"):
        parts.append("for " + _text(detail["duration"], 40))
    if detail.get("expires_at"):
        parts.append("until " + _moment(detail["expires_at"]))
    if detail.get("rule") and detail["rule"] != "default":
        parts.append("rule " + _text(detail["rule"], NAME_LIMIT))
    if isinstance(detail.get("step"), int):  # the approval step, counted from 1
        parts.append(f"step {detail['step']}")
    if detail.get("ticket"):
        parts.append("ticket " + _text(detail["ticket"], NAME_LIMIT))
    if detail.get("level"):  # where an on-call service found the requester on call
        parts.append("on call in " + " ".join(_text(detail[key], NAME_LIMIT) for key in
                                              ("source", "schedule", "escalation_policy") if detail.get(key))
                     + f" at level {_text(detail['level'], 10)}")
    elif detail.get("source"):  # an on-call service that could not say
        parts.append("asked " + _text(detail["source"], NAME_LIMIT))
    if detail.get("justification"):
        parts.append("why: " + _text(detail["justification"], TEXT_LIMIT))
    if detail.get("channel"):
        parts.append("channel " + _text(detail["channel"], NAME_LIMIT))
    if detail.get("feed"):
        parts.append(_text(detail["feed"], NAME_LIMIT) + " gap: full sync")
    if detail.get("reason"):
        parts.append("reason: " + _text(detail["reason"], TEXT_LIMIT))
    for key, label in (("approvers", "approvers"), ("next_approvers", "next"),
                       ("reviewers", "to be reviewed by")):
        if isinstance(detail.get(key), list) and detail[key]:
            parts.append(f"{label}: " + _people(detail[key]))
    if detail.get("signed_out"):
        parts.append("signed out of every session")
    if detail.get("preexisting"):
        parts.append("already held before the request")
    if detail.get("attempt"):
        parts.append(f"attempt {_text(detail['attempt'], 10)}")
    if detail.get("decision") in ("approve", "review"):  # what a step-up push confirms
        parts.append(f"to {detail['decision']}")
    if detail.get("attempted"):  # a refused attempt (bot/refusals.py)
        parts.append("tried " + _text(str(detail["attempted"]).replace("_", " "), 40))
    if detail.get("refusal"):
        parts.append(_text(str(detail["refusal"]).replace("_", " "), 40))
    for key in ("error", "finding", "outcome"):
        if detail.get(key):
            parts.append(f"{key}: " + _text(detail[key], TEXT_LIMIT))
    return parts


def _people(ids: list) -> str:
    shown = ", ".join(_person(str(p)) for p in ids[:PEOPLE_LIMIT])
    more = len(ids) - PEOPLE_LIMIT
    return shown + (f" and {more} more" if more > 0 else "")


def _moment(value) -> str:
    """A time from an event's detail (stored as text), in the lines' format."""
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return _text(value, 40)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _person(actor: str) -> str:
    """A Slack user as a mention; anyone else (e.g. "latchkey") as escaped text."""
    return mention(actor) if _SLACK_ID.fullmatch(actor or "") else _text(actor, 64)


def _text(value, limit: int) -> str:
    """Text from an event on one line, masked (before it is clipped, so that no secret is cut
    where the mask would no longer know it), clipped, then escaped for mrkdwn."""
    return escape(clip(" ".join(mask(str(value)).split()), limit))

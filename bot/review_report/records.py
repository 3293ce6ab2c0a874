"""The records every format of the report shows, built once, and the CSV and JSON writers.

Each item: its holder, entitlement, reviewer, decision, who decided, when and why, and for a
revocation where its removal stands (`removal`) and when it was verified in the target
(`revoked_at`).  Access Latchkey granted just in time is listed apart: after the reviewed items
in CSV (`just_in_time` true), under its own key in JSON.  Every text is masked once more on the
way out, like the audit export's.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

from bot.domain.reviews import Campaign, Report, ReviewDecision, ReviewItem
from connectors.masking import mask

# An item's fields by the domain's names, and where its removal stands (`removal`).
ITEM_FIELDS = ("id", "connector_id", "entitlement_id", "entitlement_name", "account_id", "holder_email",
               "holder", "reviewer", "decision", "decided_by", "decided_at", "reason", "removal",
               "revoked_at", "revoke_failing", "just_in_time", "escalated")
COLUMNS = ("campaign", *ITEM_FIELDS)  # the CSV's: several campaigns' files can be concatenated
# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class Removal(StrEnum):
    """Where taking back a revoked holding stands."""

    NONE = ""  # not revoked
    PENDING = "pending"  # decided, not yet verified in the target
    FAILING = "failing, still retried"  # the owners have been alerted
    VERIFIED = "verified"  # read back from the target: `revoked_at`


def utc(moment: datetime | None) -> str | None:
    """An ISO 8601 time in UTC, whatever zone it was read in."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def removal(item: ReviewItem) -> Removal:
    if item.decision is not ReviewDecision.REVOKE:
        return Removal.NONE
    if item.revoked_at is not None:
        return Removal.VERIFIED
    return Removal.FAILING if item.revoke_failing else Removal.PENDING


Record = dict[str, str | bool | None]


def record(item: ReviewItem) -> Record:
    """One item as every format shows it: times in ISO 8601 UTC, the decision by its word, every
    text masked (a reason is free text: someone may paste a token into it)."""
    shown: Record = {
        "id": item.id, "connector_id": item.connector_id, "entitlement_id": item.entitlement_id,
        "entitlement_name": item.entitlement_name, "account_id": item.account_id,
        "holder_email": item.holder_email, "holder": item.holder, "reviewer": item.reviewer or None,
        "decision": item.decision.value if item.decision else None, "decided_by": item.decided_by,
        "decided_at": utc(item.decided_at), "reason": item.reason, "removal": removal(item).value or None,
        "revoked_at": utc(item.revoked_at), "revoke_failing": item.revoke_failing,
        "just_in_time": item.just_in_time, "escalated": item.escalated}
    return {key: mask(value) if isinstance(value, str) else value for key, value in shown.items()}


def ordered(items: list[ReviewItem]) -> tuple[list[ReviewItem], list[ReviewItem]]:
    """The reviewed items and the just-in-time ones, each by connector, entitlement and holder."""
    def key(item: ReviewItem) -> tuple[str, ...]:
        return item.connector_id, item.entitlement_name, item.holder_email, item.id
    reviewed = sorted((i for i in items if not i.just_in_time), key=key)
    return reviewed, sorted((i for i in items if i.just_in_time), key=key)


def campaign_record(campaign: Campaign) -> dict[str, str | None]:
    return {"id": campaign.id, "name": campaign.name, "started_at": utc(campaign.started_at),
            "due_at": utc(campaign.due_at), "closed_at": utc(campaign.closed_at),
            "on_no_decision": campaign.on_no_decision.value,
            "escalated_at": utc(campaign.escalated_at)}


def cell(value: object) -> object:
    """A CSV cell a spreadsheet shows as the text it is: one that starts like a formula gets a
    leading apostrophe, which spreadsheets take as "this is text"; booleans as JSON spells them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(report: Report, out: TextIO) -> None:
    writer = csv.DictWriter(out, fieldnames=COLUMNS)  # RFC 4180: CRLF line ends, as the audit export
    writer.writeheader()
    reviewed, just_in_time = ordered(report.items)
    for item in reviewed + just_in_time:
        row = {"campaign": report.campaign.name, **record(item)}
        writer.writerow({key: cell(value) for key, value in row.items()})


def write_json(report: Report, out: TextIO) -> None:
    reviewed, just_in_time = ordered(report.items)
    document = {"campaign": campaign_record(report.campaign),
                "summary": asdict(report.summary),
                "progress": [{"at": utc(point.at), "decided": point.decided} for point in report.progress],
                "items": [record(item) for item in reviewed],
                "just_in_time": [record(item) for item in just_in_time]}
    json.dump(document, out, sort_keys=True, indent=2)
    out.write("\n")

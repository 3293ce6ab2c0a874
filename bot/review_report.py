"""`latchkey review report`: an access review's evidence, for an auditor, as CSV or JSON.

The data is the use case's (`Reviews.report`: the campaign, every item, the summary and the
decided count over time); this module only writes it out.  Every text is masked on the way
out, and a CSV cell that a spreadsheet would take for a formula is quoted as text.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict
from datetime import datetime
from enum import StrEnum
from typing import Any, TextIO

from bot.domain.reviews import Report, ReviewItem
from connectors.masking import mask_all

ITEM_FIELDS = ("id", "connector_id", "entitlement_id", "entitlement_name", "account_id", "holder_email",
               "holder", "reviewer", "decision", "decided_by", "decided_at", "reason", "revoked_at",
               "revoke_failing", "just_in_time", "escalated")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class ReportFormat(StrEnum):
    CSV = "csv"  # one row per item
    JSON = "json"  # the campaign, its summary, its progress and its items


def item_record(item: ReviewItem) -> dict[str, Any]:
    """One item as the reports show it: times in ISO 8601, the decision by its word."""
    return {name: _plain(getattr(item, name)) for name in ITEM_FIELDS}


def write(report: Report, out: TextIO, fmt: ReportFormat) -> int:
    """Write the report in the format asked for; return how many items it holds."""
    if fmt is ReportFormat.CSV:
        writer = csv.DictWriter(out, fieldnames=("campaign", *ITEM_FIELDS))
        writer.writeheader()
        for item in report.items:
            writer.writerow({key: _cell(value) for key, value in mask_all(
                {"campaign": report.campaign.name, **item_record(item)}).items()})
    else:
        json.dump(mask_all(as_json(report)), out, indent=2, sort_keys=True)
        out.write("\n")
    return len(report.items)


def as_json(report: Report) -> dict[str, Any]:
    campaign = {name: _plain(value) for name, value in asdict(report.campaign).items()}
    return {"campaign": campaign, "summary": asdict(report.summary),
            "progress": [{"at": point.at.isoformat(), "decided": point.decided} for point in report.progress],
            "items": [item_record(item) for item in report.items]}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, StrEnum):
        return value.value
    return value


def _cell(value: Any) -> Any:
    """A value for a CSV cell: text a spreadsheet would run as a formula is kept as text."""
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return value

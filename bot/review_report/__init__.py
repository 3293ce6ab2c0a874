"""`latchkey review report`: a campaign's evidence for an auditor, as CSV, JSON or one HTML page.

records.py builds what every format shows of an item (and writes CSV and JSON); page.py lays
out the self-contained HTML page, with its chart drawn as SVG.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import TextIO

from bot.domain.reviews import Report
from bot.review_report.page import page
from bot.review_report.records import write_csv, write_json


class ReportFormat(StrEnum):
    CSV = "csv"  # one row per item, after a header row
    JSON = "json"  # the campaign, its summary, its progress and its items, in one object
    HTML = "html"  # one self-contained page: the summary, a chart of progress, the items


def write(report: Report, out: TextIO, fmt: ReportFormat, now: datetime) -> None:
    """Write the report of a campaign in the format asked for; `now` is when it was made."""
    if fmt is ReportFormat.CSV:
        write_csv(report, out)
    elif fmt is ReportFormat.JSON:
        write_json(report, out)
    else:
        out.write(page(report, now))

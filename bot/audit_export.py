"""`latchkey audit export`: the audit log as JSON Lines or CSV, for a SIEM or an auditor.

Each event's detail is masked once more on the way out (details are masked as they are written;
this also covers events written before that, or before a secret was configured)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import TextIO

from bot.domain.policy import parse_duration
from connectors.masking import mask_all
from storage.tables import AuditRow

FIELDS = ("seq", "at", "actor", "action", "request_id", "detail")


class ExportFormat(StrEnum):
    JSON = "json"  # JSON Lines: one object per line
    CSV = "csv"


def parse_since(text: str, now: datetime) -> datetime:
    """An ISO date or time (UTC unless it says otherwise), or a span back from now such as 7d."""
    try:
        return now - parse_duration(text)
    except ValueError:
        pass
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is neither a date/time (2026-11-01, 2026-11-01T09:00) "
                         "nor a span back from now (30m, 24h, 7d)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _record(row: AuditRow) -> dict:
    return {"seq": row.seq, "at": row.at.isoformat(), "actor": row.actor, "action": row.action,
            "request_id": row.request_id, "detail": mask_all(json.loads(row.detail))}


def write(rows: Iterable[AuditRow], out: TextIO, fmt: ExportFormat) -> int:
    """Write `rows` in the format asked for; return how many were written."""
    count = 0
    if fmt == ExportFormat.CSV:
        writer = csv.DictWriter(out, fieldnames=FIELDS)
        writer.writeheader()
    for row in rows:
        record = _record(row)
        if fmt == ExportFormat.CSV:
            writer.writerow({**record, "detail": json.dumps(record["detail"], sort_keys=True)})
        else:
            out.write(json.dumps(record, sort_keys=True) + "\n")
        count += 1
    return count

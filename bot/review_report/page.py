"""The HTML report of an access review: one self-contained page an auditor can open anywhere.

Nothing is fetched: the styles are inline, the chart of decisions over time is an SVG drawn
here (no script runs; the page's Content-Security-Policy forbids any, and loading anything at
all), and every text that came from a person or a target (names, emails, reasons) is escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from bot.domain.reviews import Campaign, CampaignSummary, ProgressPoint, Report, ReviewItem
from bot.review_report.records import Record, Removal, ordered, record, removal

# Scripts, fonts, images, frames, even a form's target: none; only the inline styles.
_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"
_STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 2em auto; max-width: 72em; color: #1d1d1f; }
h1 { font-size: 1.6em; margin-bottom: .2em; } h2 { font-size: 1.2em; margin-top: 2em; }
.meta { color: #555; margin: 0; }
.summary { display: flex; flex-wrap: wrap; gap: 1em; padding: 0; list-style: none; }
.summary li { border: 1px solid #ddd; border-radius: 6px; padding: .5em 1em; min-width: 7em; }
.summary .number { display: block; font-size: 1.8em; font-weight: 600; }
table { border-collapse: collapse; width: 100%; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .35em .5em; text-align: left; vertical-align: top; }
th { background: #f5f5f7; } td { overflow-wrap: anywhere; }
td span { white-space: nowrap; }
.keep { color: #1a7f37; } .revoke { color: #b42318; } .undecided { color: #8a6d00; }
svg text { font: 11px system-ui, sans-serif; fill: #555; }
.line { fill: none; stroke: #2f6feb; stroke-width: 2; } .point { fill: #2f6feb; }
.guide { stroke: #999; stroke-dasharray: 4 3; } .axis { stroke: #999; }
"""
_HEADERS = ("Holder", "Entitlement", "Reviewer", "Decision", "Decided by", "Decided at", "Reason",
            "Removal (verified at)")
_JUST_IN_TIME_HEADERS = ("Holder", "Entitlement", "Account")
WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 640, 220, 48, 16, 16, 32


def _text(value: object) -> str:
    return "" if value is None else escape(str(value))


def _when(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _time(moment: datetime | None) -> str:
    """A time in a table: to the minute for the eye, to the microsecond in its `datetime`."""
    if moment is None:
        return ""
    return f'<time datetime="{moment.astimezone(UTC).isoformat()}">{_when(moment)}</time>'


def _header(campaign: Campaign, now: datetime) -> str:
    state = f"closed {_when(campaign.closed_at)}" if campaign.closed_at else "open"
    return (f"<h1>Access review: {_text(campaign.name)}</h1>"
            f'<p class="meta">Campaign {_text(campaign.id)} · started {_when(campaign.started_at)} · '
            f"due {_when(campaign.due_at)} · {state} · with no decision by the due date: "
            f"{_text(campaign.on_no_decision.value)}</p>"
            f'<p class="meta">Report made {_when(now)} by Latchkey.</p>')


def _summary(summary: CampaignSummary) -> str:
    figures = (("items", summary.items, "to review"), ("decided", summary.decided, "decided"),
               ("kept", summary.kept, "kept"), ("revoked", summary.revoked, "revoked"),
               ("overdue", summary.overdue, "overdue"),
               ("just-in-time", summary.just_in_time, "just in time, not reviewed"))
    cells = "".join(f'<li id="summary-{key}"><span class="number">{number}</span>'
                    f'<span class="label">{label}</span></li>' for key, number, label in figures)
    return f'<h2>Summary</h2><ul class="summary">{cells}</ul>'


def chart(campaign: Campaign, items: int, progress: list[ProgressPoint]) -> str:
    """The decided count over time as a step line from the start to the last decision, a dot
    per moment something was decided, with the due date and the total marked.  Moments that fall
    on the same pixel column share its last dot, so 50,000 decisions still make a light page."""
    start = campaign.started_at
    end = max([campaign.due_at, *(p.at for p in progress)])
    span = max((end - start).total_seconds(), 1.0)
    top = max(items, 1)
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return round(LEFT + inner_w * (moment - start).total_seconds() / span, 1)

    def y(count: int) -> float:
        return round(TOP + inner_h * (1 - count / top), 1)

    by_column = {round(x(point.at)): point for point in progress}  # the last of each column
    points = list(by_column.values())
    steps: list[str] = []
    for before, point in zip([None, *points], points):
        if before is not None:
            steps.append(f"{x(point.at)},{y(before.decided)}")
        steps.append(f"{x(point.at)},{y(point.decided)}")
    dots = "".join(f'<circle class="point" cx="{x(p.at)}" cy="{y(p.decided)}" r="3.5">'
                   f"<title>{_when(p.at)}: {p.decided} decided</title></circle>" for p in points)
    due = x(campaign.due_at)
    return (f'<svg id="progress-chart" xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" '
            f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
            f'aria-label="Items decided over time: {progress[-1].decided if progress else 0} of {items}">'
            f'<line class="axis" x1="{LEFT}" y1="{y(0)}" x2="{WIDTH - RIGHT}" y2="{y(0)}"/>'
            f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{y(0)}"/>'
            f'<line class="guide" x1="{LEFT}" y1="{y(items)}" x2="{WIDTH - RIGHT}" y2="{y(items)}"/>'
            f'<line class="guide" x1="{due}" y1="{TOP}" x2="{due}" y2="{y(0)}"/>'
            f'<text x="{LEFT - 6}" y="{y(0)}" text-anchor="end">0</text>'
            f'<text x="{LEFT - 6}" y="{y(items) + 4}" text-anchor="end">{items}</text>'
            f'<text x="{due}" y="{HEIGHT - 4}" text-anchor="end">due {_when(campaign.due_at)}</text>'
            f'<text x="{LEFT}" y="{HEIGHT - 4}">{_when(start)}</text>'
            f'<polyline class="line" points="{" ".join(steps)}"/>{dots}</svg>')


def _decision(item: ReviewItem) -> str:
    if item.decision is None:
        return '<span class="undecided">undecided</span>'
    note = " (escalated)" if item.escalated else ""
    return f'<span class="{item.decision.value}">{item.decision.value}</span>{note}'


def _removal(item: ReviewItem) -> str:
    state = removal(item)
    return _time(item.revoked_at) if state is Removal.VERIFIED else _text(state.value)


def _holder_and_entitlement(shown: Record) -> tuple[str, str]:
    holder = _text(shown["holder_email"]) + (f" ({_text(shown['holder'])})" if shown["holder"] else "")
    return holder, f"{_text(shown['entitlement_name'])} ({_text(shown['connector_id'])})"


def _row(item_id: str, cells: tuple[str, ...]) -> str:
    return f'<tr data-item="{_text(item_id)}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"


def _reviewed_row(item: ReviewItem) -> str:
    shown = record(item)  # masked, like the other formats
    return _row(item.id, (*_holder_and_entitlement(shown), _text(shown["reviewer"]), _decision(item),
                          _text(shown["decided_by"]), _time(item.decided_at), _text(shown["reason"]),
                          _removal(item)))


def _just_in_time_row(item: ReviewItem) -> str:
    shown = record(item)
    return _row(item.id, (*_holder_and_entitlement(shown), _text(shown["account_id"])))


def _table(table_id: str, headers: tuple[str, ...], rows: list[str]) -> str:
    if not rows:
        return f'<p id="{table_id}-none">None.</p>'
    head = "".join(f"<th>{header}</th>" for header in headers)
    body = "".join(rows)
    return f'<table id="{table_id}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def page(report: Report, now: datetime) -> str:
    """The whole page, as text."""
    reviewed, just_in_time = ordered(report.items)
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{_POLICY}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Access review: {_text(report.campaign.name)}</title><style>{_STYLE}</style></head>"
            f"<body>{_header(report.campaign, now)}{_summary(report.summary)}"
            f"<h2>Decisions over time</h2>{chart(report.campaign, report.summary.items, report.progress)}"
            f"<h2>Items</h2>{_table('items', _HEADERS, [_reviewed_row(item) for item in reviewed])}"
            "<h2>Just-in-time access</h2><p>Granted by Latchkey for a limited time: it ends by "
            "itself, so it is listed, not reviewed.</p>"
            f"{_table('just-in-time', _JUST_IN_TIME_HEADERS, [_just_in_time_row(i) for i in just_in_time])}"
            "</body></html>\n")

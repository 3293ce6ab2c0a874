"""Safe text for Block Kit: escaping of user input, Slack's limits, dates that localise."""

from __future__ import annotations

from datetime import datetime


def escape(text: str) -> str:
    """Escape user text for mrkdwn so it cannot ping @channel or forge links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """Fit `text` into a Block Kit field of `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def mention(person_id: str) -> str:
    return f"<@{person_id}>"


def mentions(person_ids) -> str:
    return ", ".join(mention(p) for p in person_ids) or "nobody"


def when(moment: datetime) -> str:
    """A time every reader sees in their own time zone, with a UTC fallback."""
    fallback = moment.strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"

"""Safe text for Block Kit: escaping of user input, Slack's limits, dates that localise."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime


def escape(text: str) -> str:
    """Escape user text for mrkdwn so it cannot ping @channel or forge links and mentions."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def link(url: str, label: str) -> str:
    """A mrkdwn link whose address and label, user text both, can neither end it early nor
    forge another (`|` and `>` inside the address are percent-encoded, the label escaped)."""
    address = url.replace("&", "&amp;").replace("<", "%3C").replace(">", "%3E").replace("|", "%7C")
    return f"<{address}|{escape(label)}>"


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


_DATE = re.compile(r"<!date\^\d+\^[^|>]*\|([^>]*)>")
_MENTION = re.compile(r"<@([A-Z0-9]+)>")
_EMOJI = re.compile(r"(?<!\S):[a-z0-9_+-]+:[ ]?")
# *bold*, _italic_, ~strike~, `code`: a marker that opens before a word and closes after one
_MARKED = re.compile(r"(?<![\w*_~`])([*_~`])(?=\S)(.+?)(?<=\S)\1(?![\w*_~`])")


def plain(mrkdwn: str, name_of: Callable[[str], str]) -> str:
    """The words of a mrkdwn text, for the `text` of a message (what a phone notification
    shows): dates as their fallback, mentions as names, no emoji codes and no formatting marks.
    User text stays escaped (`&amp;`, `&lt;`, `&gt;`), as Slack requires there too."""
    text = _DATE.sub(lambda match: match.group(1), mrkdwn)
    text = _MENTION.sub(lambda match: escape(name_of(match.group(1))), text)
    text = _EMOJI.sub("", text)
    previous = None
    while previous != text:  # marks may nest: *Step 1 of 2* inside _…_
        previous, text = text, _MARKED.sub(r"\2", text)
    return text.strip()

"""One error handler for every Slack listener.

A surprise inside a listener is logged with a short error id, and the person who clicked or
typed is told that id, so they can quote it to an admin.  Nothing escapes to bolt: an exception
raised after `ack()` can make bolt withdraw the acknowledgement it already gave, leaving Slack
without an answer.
"""

from __future__ import annotations

import functools
import logging
import secrets

from bot.slack import wording
from bot.slack.notifier import post_notice

log = logging.getLogger(__name__)


def guarded(listener):
    @functools.wraps(listener)  # bolt injects arguments by the wrapped function's names
    def run(**kwargs):
        try:
            return listener(**kwargs)
        except Exception as error:
            error_id = secrets.token_hex(4)
            body = kwargs.get("body") or {}
            log.error("error %s in %s (%s): %r", error_id, listener.__name__, body.get("type"),
                      error, exc_info=error)
            _acknowledge(kwargs)
            _tell(kwargs, body, wording.unexpected(error_id))
    return run


def _acknowledge(kwargs: dict) -> None:
    ack = kwargs.get("ack")
    if ack is not None and getattr(ack, "response", None) is None:
        ack()


def _tell(kwargs: dict, body: dict, text: str) -> None:
    try:
        if kwargs.get("respond") is not None and (body.get("response_url") or body.get("response_urls")):
            kwargs["respond"](text=text, response_type="ephemeral", replace_original=False)
        elif kwargs.get("client") is not None and (user := (body.get("user") or {}).get("id")):
            post_notice(kwargs["client"], user, text, name_of=str)  # the text names nobody
    except Exception:  # telling is best effort; the log line above is what matters
        log.warning("could not tell the user about the error", exc_info=True)

"""One error handler for every Slack listener.

A surprise inside a listener is logged with a short error id, and the person who clicked or
typed is told that id, so they can quote it to an admin: inside the form for a form submission
not yet answered (the form stays open with what they entered), else under the message, else by
DM.  Nothing escapes to bolt: an exception raised after `ack()` can make bolt withdraw the
acknowledgement it already gave, leaving Slack without an answer.
"""

from __future__ import annotations

import functools
import logging
import secrets

from bot.domain.errors import AlreadyDecidedError, LatchkeyError
from bot.refusals import refusal_of
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
            if not _in_the_form(kwargs, body, wording.unexpected(error_id)):
                _acknowledge(kwargs)
                _tell(kwargs, body, wording.unexpected(error_id))
    return run


def _in_the_form(kwargs: dict, body: dict, text: str) -> bool:
    """Answer an unanswered form submission with `text` under its first input; False if none."""
    ack = kwargs.get("ack")
    if body.get("type") != "view_submission" or ack is None or getattr(ack, "response", None) is not None:
        return False
    inputs = [b.get("block_id") for b in (body.get("view") or {}).get("blocks") or []
              if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")]
    if not inputs:
        return False
    ack(response_action="errors", errors={inputs[0]: text})
    return True


def explain(error: LatchkeyError, deps, person: str, attempted: str, request_id: str | None) -> str:
    """What to tell `person`, who tried `attempted` on `request_id` and was refused with `error`.
    The one place where refusals become words: a refusal that is a probe is also recorded."""
    refusal = refusal_of(error)
    if refusal is not None:
        deps.refusals.record(person, attempted, refusal, request_id)
    return wording.already_decided(error) if isinstance(error, AlreadyDecidedError) else str(error)


def _acknowledge(kwargs: dict) -> None:
    ack = kwargs.get("ack")
    if ack is not None and getattr(ack, "response", None) is None:
        ack()


def _person(body: dict) -> str | None:
    """Who acted: the user of an interaction, or of an event (e.g. the Home tab opened)."""
    person = (body.get("user") or {}).get("id") or (body.get("event") or {}).get("user")
    return person if isinstance(person, str) else None


def _tell(kwargs: dict, body: dict, text: str) -> None:
    try:
        if kwargs.get("respond") is not None and (body.get("response_url") or body.get("response_urls")):
            kwargs["respond"](text=text, response_type="ephemeral", replace_original=False)
        elif kwargs.get("client") is not None and (user := _person(body)):
            post_notice(kwargs["client"], user, text, name_of=str)  # the text names nobody
    except Exception:  # telling is best effort; the log line above is what matters
        log.warning("could not tell the user about the error", exc_info=True)

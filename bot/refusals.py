"""Refused attempts: what someone could only have sent by probing.

A click on another person's request, an Approve from someone who is no approver, a request id
that does not exist, a Keep or Revoke on a holding someone else reviews, a review or item id that
does not exist, a form value the form never offered (a duration, break-glass): each is
refused where the person acted, and also written to the audit log as a `refused` event (who,
what they tried, on which request, why) and counted in `latchkey_refused_attempts_total`, so a
security team can alert on someone probing.  Ordinary mistakes are not recorded: a late click on
a request somebody already decided, access that has ended meanwhile, a form with no reason.

Rate limit: at most `per_minute` refused events per person and minute reach the audit log (per
replica); the next one writes a single `refused_more` event saying that further attempts that
minute are only counted.  So a flood adds at most `per_minute + 1` rows per person and minute,
while the counter sees every attempt.  (A summary "and M more" written when the minute ends
would need a timer, and would be lost with the process; the counter is exact anyway.)
"""

from __future__ import annotations

import enum
import logging
import re
import threading

from bot.domain.errors import (
    NotAllowedError,
    NotAnApproverError,
    NotRequesterError,
    NotYourItemError,
    RequestNotFoundError,
    ReviewNotFoundError,
    SelfApprovalError,
)
from bot.domain.events import Refused, RefusedMore
from bot.metrics import REFUSED_ATTEMPTS
from bot.ports import Clock
from storage.audit_log import AuditLog

log = logging.getLogger(__name__)

PER_MINUTE = 10
_REQUEST_ID = re.compile(r"[0-9a-f]{1,32}")


class Refusal(enum.Enum):
    """Why an attempt was refused; the value labels the metric and the audit event."""

    NOT_AN_APPROVER = "not_an_approver"
    OWN_REQUEST = "own_request"
    NOT_THE_REQUESTER = "not_the_requester"
    NOT_ALLOWED = "not_allowed"
    NO_SUCH_REQUEST = "no_such_request"
    TAMPERED_FORM = "tampered_form"
    NOT_THE_REVIEWER = "not_the_reviewer"  # a Keep or Revoke on a holding someone else reviews
    NO_SUCH_REVIEW = "no_such_review"  # an access review or item id that does not exist


# Most specific first: the subclasses of NotAllowedError before it.
_PROBES = ((NotAnApproverError, Refusal.NOT_AN_APPROVER), (SelfApprovalError, Refusal.OWN_REQUEST),
           (NotRequesterError, Refusal.NOT_THE_REQUESTER), (NotYourItemError, Refusal.NOT_THE_REVIEWER),
           (NotAllowedError, Refusal.NOT_ALLOWED), (RequestNotFoundError, Refusal.NO_SUCH_REQUEST),
           (ReviewNotFoundError, Refusal.NO_SUCH_REVIEW))


def refusal_of(error: Exception) -> Refusal | None:
    """The refusal a core error stands for, or None for an ordinary mistake."""
    return next((refusal for kind, refusal in _PROBES if isinstance(error, kind)), None)


class RefusedAttempts:
    """Records refused attempts in the audit log, rate-limited per person, and counts them."""

    def __init__(self, audit: AuditLog, clock: Clock, per_minute: int = PER_MINUTE) -> None:
        self._audit, self._clock, self._per_minute = audit, clock, per_minute
        self._lock = threading.Lock()
        self._minute = None
        self._this_minute: dict[str, int] = {}  # person → attempts recorded or not

    def record(self, person: str, attempted: str, refusal: Refusal, request_id: str | None = None) -> None:
        """`person` tried `attempted` (an action or form) on `request_id` and was refused."""
        REFUSED_ATTEMPTS.labels(attempted, refusal.value).inc()
        now = self._clock.now()
        seen = self._count(person, now)
        if seen > self._per_minute + 1:
            return
        # A forged id is not stored: it can be any text, of any length.
        known = request_id if refusal is not Refusal.NO_SUCH_REQUEST and request_id \
            and _REQUEST_ID.fullmatch(request_id) else None
        log.warning("refused %s by %s on %s: %s", attempted, person, known or "-", refusal.value)
        try:
            if seen <= self._per_minute:
                self._audit.append(Refused(request_id=known, actor=person[:64], attempted=attempted,
                                           refusal=refusal.value), now)
            else:
                self._audit.append(RefusedMore(actor=person[:64], per_minute=self._per_minute), now)
        except Exception:  # the person is told anyway; the counter above has it
            log.exception("could not record a refused %s by %s in the audit log", attempted, person)

    def _count(self, person: str, now) -> int:
        minute = now.replace(second=0, microsecond=0)
        with self._lock:
            if minute != self._minute:
                self._minute, self._this_minute = minute, {}
            self._this_minute[person] = self._this_minute.get(person, 0) + 1
            return self._this_minute[person]

"""Extend: more time on active access, asked for as a request of its own under the same rule.

Once approved it moves the expiry, without revoking and granting again.  It goes to people when
the rule says so, and always when it would take the access past the rule's whole window
(`max_total_duration`, counted from the first grant).  When the access ends first, a pending
extension has nothing left to extend and is closed; an approved one fails when applied.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.domain.derived import extension_request
from bot.domain.errors import AlreadyDecidedError, InvalidRequestError
from bot.domain.events import (
    SYSTEM,
    AccessExtended,
    ExtensionApplied,
    ExtensionClosed,
    ExtensionFailed,
    ExtensionRequested,
)
from bot.domain.kinds import ExtensionApproval, Form, Justification
from bot.domain.policy import describe_duration
from bot.domain.request import AccessRequest, Route, State, Step, advance
from bot.invariants import Invariants, conflict_text
from bot.ports import Ledger, Move
from bot.routing import Routing
from bot.usecases.core import Core


class Extend:
    def __init__(self, core: Core, invariants: Invariants, routing: Routing) -> None:
        self.core, self.invariants, self.routing = core, invariants, routing

    def extend(self, request_id: str, person: str, duration: timedelta | None,
               justification: str) -> AccessRequest:
        """File an extension of `person`'s active access; approved at once unless people must
        decide it."""
        core = self.core
        original = self.check_extendable(request_id, person)
        rule, now = core.rules().named(original.rule), core.clock.now()
        problems = rule.kind(Justification).problems(Form(justification.strip()))
        if duration_problem := rule.policy.duration_problem(duration):
            problems["duration"] = duration_problem
        if problems or duration is None:  # no duration is a problem too: said above
            raise InvalidRequestError(problems)
        by_people = rule.kind(ExtensionApproval).needed or self.invariants.window_exceeded(original, duration, rule)
        request = extension_request(original, person, duration, justification.strip(), now,
                                    rule.policy.first_attention(now), by_people)
        self.routing.approvers.forget_on_call()  # asked: whoever is on call now, not who was
        if by_people and (missing := self.routing.missing_approvers(request)):
            raise InvalidRequestError({"duration": missing})
        also = core.recorded(ExtensionRequested(
            request_id=request.id, actor=person, extends=original.id, duration=describe_duration(duration),
            justification=request.justification, approvers=tuple(self.routing.approvers_of(request)) if by_people else ()))

        def decide(ledger: Ledger) -> tuple[list[Any], list[Move]]:  # under the requester's lock: see bot/invariants.py
            if any(other.extends == original.id and other.state in (State.PENDING, State.APPROVED)
                   for other in ledger.live()):
                raise InvalidRequestError({"duration": "You have already asked to extend this access."})
            if problem := self.invariants.rate_problem(ledger, now):
                raise InvalidRequestError({"duration": problem})
            if broken := self.invariants.uncarried(request, ledger):
                raise InvalidRequestError({"duration": conflict_text(broken[0])})
            return [request, *also], []

        core.requests.guarded(person, decide)
        core.notifier.wake()
        if request.state is State.APPROVED:
            core.hand_over(request.id, State.APPROVED)
        return request

    def check_extendable(self, request_id: str, person: str) -> AccessRequest:
        """Before asking how long: only the holder of active access may extend it."""
        return self.core.holder_of_active(request_id, person, "extend it")

    def apply(self, extension: AccessRequest) -> AccessRequest:
        """Move the extended access's expiry; both rows change in one transaction, or neither."""
        core = self.core
        original, now = core.get(extension.extends or ""), core.clock.now()
        rule = core.rules().named(original.rule)
        if original.state is not State.ACTIVE:
            error = "the access had already ended"
        elif extension.route is Route.AUTO and self.invariants.window_exceeded(original, extension.duration, rule):
            error = "it would keep the access past the rule's max_total_duration without approval"
        else:
            error = None
        if error:
            return core.move(ExtensionFailed(request_id=extension.id, error=error), seen=extension,
                             lease_until=None, last_error=error)
        assert original.expires_at is not None  # active access always has an expiry
        expires_at = original.expires_at + extension.duration
        if core.requests.apply_extension(
                extension.id, original.id, original.expires_at,
                {"expires_at": expires_at, "attention_at": rule.policy.warning_at(now, expires_at)},
                extended=advance(State.APPROVED, Step.APPLY).value,
                also=[*core.recorded(ExtensionApplied(request_id=extension.id, extends=original.id,
                                                      expires_at=expires_at)),
                      *core.recorded(AccessExtended(request_id=original.id, by=extension.id,
                                                    expires_at=expires_at))]):
            core.notifier.wake()
            core.wake(expires_at)
        elif core.get(extension.id).state is State.APPROVED:
            return self.apply(extension)  # the access changed meanwhile: look again
        return core.get(extension.id)

    def close_extensions(self, original_id: str) -> None:
        """The access has ended: a pending extension of it has nothing left to extend.  It is
        closed, and its messages say so (the approvers' buttons go)."""
        extension = self.core.lookup.extension_of(original_id)
        if extension is None or extension.state != State.PENDING:
            return  # an approved one fails when it is applied, and says why
        try:
            self.core.move(ExtensionClosed(request_id=extension.id), decided_by=SYSTEM,
                           decided_at=self.core.clock.now(), attention_at=None,
                           decision_reason="the access it would extend has ended")
        except AlreadyDecidedError:
            pass  # decided meanwhile: applying it finds the access ended

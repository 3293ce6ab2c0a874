"""Chase: what falls due while nobody acts.  A pending request's approvers are reminded
(escalating to the fallback approvers after the rule's number of reminders) until it times out;
the holder of active access is warned, once, before it ends."""

from __future__ import annotations

from bot.domain.events import Escalated, ExpiryWarned, Reminded, TimedOut
from bot.domain.request import AccessRequest, State
from bot.routing import Routing
from bot.usecases.core import Core


class Chase:
    def __init__(self, core: Core, routing: Routing) -> None:
        self.core, self.routing = core, routing

    def chase(self, request_id: str) -> AccessRequest | None:
        """A pending request nobody decided: remind its approvers (escalating to the fallback
        approvers after the rule's number of reminders), or time it out."""
        core = self.core
        request, now = core.get(request_id), core.clock.now()
        if request.state is not State.PENDING or not request.attention_at or request.attention_at > now:
            return None
        rule = core.rules().named(request.rule)
        if now >= request.created_at + rule.policy.pending_timeout:
            return core.move(TimedOut(request_id=request_id), seen=request, decided_at=now, attention_at=None)
        approved, reminders = core.lookup.approvals(request_id), request.reminders + 1
        self.routing.approvers.forget_on_call()  # a handover since is seen now, and its newcomer asked
        waiting = self.routing.deciders(request, approved)
        also = core.recorded(Reminded(request_id=request_id, approvers=tuple(waiting)))
        if rule.escalate_after == reminders and (newcomers := [
                p for p in self.routing.fallback(request) if p not in waiting and p not in approved]):
            also += core.recorded(Escalated(request_id=request_id, approvers=tuple(newcomers)))
        if core.requests.attend(
                request_id, State.PENDING.value, request.attention_at, reminders=reminders,
                attention_at=rule.policy.next_reminder(request.created_at, now, reminders), also=also):
            core.notifier.wake()
        return core.get(request_id)

    def warn_of_expiry(self, request_id: str) -> AccessRequest | None:
        """Tell the holder their access ends soon (once), with a way to end it now."""
        core = self.core
        request = core.get(request_id)
        if request.state is not State.ACTIVE or not request.attention_at or request.attention_at > core.clock.now():
            return None
        if core.requests.attend(request_id, State.ACTIVE.value, request.attention_at, attention_at=None,
                                also=core.recorded(ExpiryWarned(request_id=request_id))):
            core.notifier.wake()
        return core.get(request_id)

"""Manual tasks: for access Latchkey cannot change itself, the owners are handed a task when the
request is claimed (to grant it, or to take it back), and one of them reports it done here."""

from __future__ import annotations

from bot.domain.errors import NotAnApproverError, SelfApprovalError, TaskAlreadyDoneError
from bot.domain.events import AccessGranted, AccessRevoked
from bot.domain.request import AccessRequest, State
from bot.routing import Routing
from bot.usecases.bundles import Bundles
from bot.usecases.core import Core
from bot.usecases.provision import Provision


class Tasks:
    def __init__(self, core: Core, provision: Provision, bundles: Bundles, routing: Routing) -> None:
        self.core, self.provision, self.bundles, self.routing = core, provision, bundles, routing

    def complete_task(self, request_id: str, person: str) -> AccessRequest:
        """An approver reports that they granted (or took back) the access by hand."""
        core = self.core
        request = core.get(request_id)
        if person == request.requester:
            raise SelfApprovalError("Someone other than the requester must do this task.")
        self.routing.approvers.forget_on_call()  # whoever is on call now, not who was
        if person not in self.routing.approvers_of(request):
            raise NotAnApproverError("Only an approver of this access can mark the task done.")
        if not request.manual or request.state not in (State.PROVISIONING, State.REVOKING):
            raise TaskAlreadyDoneError(request)
        now = core.clock.now()
        quiet = bool(request.bundle)  # the bundle tells the requester, once, for all its items
        if request.state is State.PROVISIONING:
            return self.bundles.after_item_moved(core.move(
                AccessGranted(request_id=request_id, actor=person), tell=not quiet, seen=request,
                **self.provision.activation(request), lease_until=None))
        return self.bundles.after_item_moved(core.move(
            AccessRevoked(request_id=request_id, actor=person), tell=not quiet, seen=request,
            revoked_at=now, lease_until=None))

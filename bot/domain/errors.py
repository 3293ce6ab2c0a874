"""Named failures of the core, turned into friendly words at the edge (Slack, CLI).

    LatchkeyError
    ├── InvalidRequestError        a submission failed validation; `.problems` maps field → message
    ├── RequestNotFoundError       no request with that id
    ├── NotAllowedError            the person may not do this
    │   ├── NotAnApproverError     not among the request's approvers
    │   ├── SelfApprovalError      nobody decides their own request
    │   └── NotRequesterError      only the requester may cancel
    ├── NotActiveError             the access is not active (any more): ended, or not granted yet
    ├── PolicyError                the step would break the policy now (a conflict, a later
    │                              step left with nobody); no probe, the message says why
    ├── AlreadyDecidedError        someone acted first; `.request` says who and how
    │   └── TaskAlreadyDoneError   a manual task someone has already marked done
    ├── TicketUncheckableError     the ticket's tracker cannot be asked now (down, refusing
    │                              Latchkey's credentials, rate limiting after retries)
    ├── ManagerUncheckableError    the directory (Okta) cannot say now who someone's manager is
    ├── OnCallUnknownError         who is on call cannot be learnt now (the on-call service
    │                              is down, slow, refusing Latchkey or rate limiting)
    ├── StepUpError                the approver's step-up MFA stops the decision for now
    │   ├── StepUpPendingError     a push for this decision is already waiting on their phone
    │   ├── NoPushFactorError      the approver has no active Okta Verify push factor
    │   ├── StepUpRequiredError    the decision came without a passed step-up (never from a click)
    │   └── StepUpUnavailableError the push service (Okta) cannot be asked now
    └── ReviewError                an access review refuses a step
        ├── ReviewNotFoundError    no such campaign (configured or started) or item
        ├── NotYourItemError       the item is someone else's to review (a NotAllowedError too)
        ├── ItemDecidedError       someone (or the due date) decided the item first
        ├── ReasonRequiredError    a revoke needs a reason
        └── CampaignClosedError    the campaign is closed: nothing in it can be decided

    DuplicateError                 storage refused a second open request for the same thing;
                                   the core turns it into an InvalidRequestError
"""

from __future__ import annotations

from bot.domain.request import AccessRequest
from bot.domain.reviews import ReviewItem


class LatchkeyError(Exception):
    pass


class InvalidRequestError(LatchkeyError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in problems.items()))
        self.problems = problems


class RequestNotFoundError(LatchkeyError):
    pass


class NotAllowedError(LatchkeyError):
    pass


class NotAnApproverError(NotAllowedError):
    pass


class SelfApprovalError(NotAllowedError):
    pass


class NotRequesterError(NotAllowedError):
    pass


class NotActiveError(LatchkeyError):
    pass


class PolicyError(LatchkeyError):
    pass


class AlreadyDecidedError(LatchkeyError):
    def __init__(self, request: AccessRequest) -> None:
        super().__init__(f"request {request.id} is already {request.state}")
        self.request = request


class TaskAlreadyDoneError(AlreadyDecidedError):
    pass


class DuplicateError(Exception):
    """The request would break a uniqueness rule of the store (e.g. a second pending request of
    one person for the same thing).  Raised by storage, so that the core need not know it."""


class TicketUncheckableError(LatchkeyError):
    pass


class ManagerUncheckableError(LatchkeyError):
    pass


class OnCallUnknownError(LatchkeyError):
    pass


class StepUpError(LatchkeyError):
    pass


class StepUpPendingError(StepUpError):
    pass


class NoPushFactorError(StepUpError):
    pass


class StepUpRequiredError(StepUpError):
    pass


class StepUpUnavailableError(StepUpError):
    pass


class ReviewError(LatchkeyError):
    pass


class ReviewNotFoundError(ReviewError):
    pass


class NotYourItemError(ReviewError, NotAllowedError):
    pass


class ItemDecidedError(ReviewError):
    def __init__(self, item: ReviewItem, message: str) -> None:
        super().__init__(message)
        self.item = item  # as decided: by whom, when, how


class ReasonRequiredError(ReviewError):
    pass


class CampaignClosedError(ReviewError):
    pass

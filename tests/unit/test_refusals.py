"""Which refused attempts are probes (bot/refusals.py), in memory: identity and forged-id
refusals are recorded; late clicks, ended access and form mistakes are ordinary."""

from __future__ import annotations

import pytest

from bot.domain.errors import (
    AlreadyDecidedError,
    InvalidRequestError,
    ItemDecidedError,
    NotActiveError,
    NotAllowedError,
    NotAnApproverError,
    NotRequesterError,
    NotYourItemError,
    ReasonRequiredError,
    RequestNotFoundError,
    ReviewNotFoundError,
    SelfApprovalError,
)
from bot.refusals import Refusal, refusal_of


@pytest.mark.parametrize("error, refusal", [
    (NotAnApproverError("x"), Refusal.NOT_AN_APPROVER), (SelfApprovalError("x"), Refusal.OWN_REQUEST),
    (NotRequesterError("x"), Refusal.NOT_THE_REQUESTER), (NotAllowedError("x"), Refusal.NOT_ALLOWED),
    (RequestNotFoundError("x"), Refusal.NO_SUCH_REQUEST), (NotActiveError("x"), None),
    (NotYourItemError("x"), Refusal.NOT_THE_REVIEWER), (ReviewNotFoundError("x"), Refusal.NO_SUCH_REVIEW),
    (ItemDecidedError(None, "x"), None), (ReasonRequiredError("x"), None),  # type: ignore[arg-type]
    (InvalidRequestError({"duration": "x"}), None)])
def test_which_refusals_are_probes(error, refusal):
    """Identity and forged-id refusals are probes; ended access and form mistakes are not."""
    assert refusal_of(error) is refusal


def test_a_late_click_is_not_a_probe():
    class Request:
        id, state = "ab12", "approved"
    assert refusal_of(AlreadyDecidedError(Request())) is None

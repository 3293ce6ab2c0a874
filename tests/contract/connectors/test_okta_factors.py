"""Okta Verify step-up against the Okta sandbox over real HTTP: the connector finds the person's
active push factor, sends the push, and reads its transaction until Okta settles it; the adapter
maps what Okta answers (no factor, an expired transaction, an outage) onto the core's words."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from bot.domain.errors import NoPushFactorError, StepUpUnavailableError
from bot.domain.step_up import PushResult
from bot.okta_verify import OktaVerify
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from sandbox.okta import OktaSandbox

TOKEN = "okta-super-secret-4f9a2c"
READ_ONLY = "okta-read-only-secret-7b1e0d"


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    with OktaSandbox(tokens={TOKEN: "super_admin", READ_ONLY: "read_only"}) as sandbox:
        yield sandbox


def _connector(okta: OktaSandbox, token: str = TOKEN) -> OktaConnector:
    return OktaConnector(OktaClient(okta.url, token, max_attempts=1, sleep=lambda s: None))


@pytest.mark.parametrize("answer", ["SUCCESS", "REJECTED", "TIMEOUT"])
def test_a_push_is_sent_to_the_active_factor_and_polled_until_settled(okta, answer):
    """Given Ada with an SMS factor and an active Okta Verify push, when a push is sent, then it
    goes to the push factor, reads WAITING until she answers, then what she answered."""
    ada = okta.add_user("ada@acme.com")
    okta.factors.enroll(ada, factor_type="sms")
    push = okta.factors.enroll(ada)
    connector = _connector(okta)
    poll = connector.send_push("Ada@acme.com")
    assert poll is not None and poll.startswith(f"/api/v1/users/{ada}/factors/{push}/transactions/")
    assert okta.factors.sent == [(ada, push)]
    assert connector.push_result(poll) == "WAITING"
    okta.factors.answer(ada, answer)
    assert connector.push_result(poll) == answer


@pytest.mark.parametrize("enroll", [
    {"factor_type": "sms"},  # no push at all
    {"status": "PENDING_ACTIVATION"},  # enrolled, never activated
    {"provider": "GOOGLE", "factor_type": "push"},  # not Okta Verify
])
def test_no_push_is_sent_without_an_active_okta_verify_factor(okta, enroll):
    ada = okta.add_user("ada@acme.com")
    okta.factors.enroll(ada, **enroll)
    assert _connector(okta).send_push("ada@acme.com") is None
    assert okta.factors.sent == []


def test_nobody_with_that_email_or_a_deactivated_account_gets_no_push(okta):
    gone = okta.add_user("gone@acme.com", status="DEPROVISIONED")
    okta.factors.enroll(gone)
    connector = _connector(okta)
    assert connector.send_push("nobody@acme.com") is None
    assert connector.send_push("gone@acme.com") is None
    assert okta.factors.sent == []


def test_the_sandbox_answers_okta_errors_for_unknown_objects_and_inactive_factors(okta):
    """Documented error bodies: 404 E0000007 for an unknown user, factor or transaction; 400
    E0000001 for verifying a factor that is not active."""
    ada = okta.add_user("ada@acme.com")
    pending = okta.factors.enroll(ada, status="PENDING_ACTIVATION")
    push = okta.factors.enroll(ada)
    headers = {"Authorization": f"SSWS {TOKEN}", "Accept": "application/json"}
    with httpx.Client(base_url=okta.url, headers=headers) as http:
        for method, path in [("GET", "/api/v1/users/00unknown/factors"),
                             ("POST", f"/api/v1/users/{ada}/factors/opfunknown/verify"),
                             ("GET", f"/api/v1/users/{ada}/factors/{push}/transactions/mstunknown")]:
            answer = http.request(method, path)
            assert (answer.status_code, answer.json()["errorCode"]) == (404, "E0000007"), path
        answer = http.post(f"/api/v1/users/{ada}/factors/{pending}/verify")
        assert (answer.status_code, answer.json()["errorCode"]) == (400, "E0000001")
        sent = http.post(f"/api/v1/users/{ada}/factors/{push}/verify")
        assert sent.status_code == 201 and sent.json()["factorResult"] == "WAITING"
        assert sent.json()["_links"]["poll"]["hints"] == {"allow": ["GET"]}


def test_the_adapter_maps_no_factor_an_expired_transaction_and_an_outage(okta):
    """Given the adapter over the connector: no push factor is NoPushFactorError; a transaction
    Okta no longer knows has timed out; Okta failing (or refusing a read-only token the verify)
    is StepUpUnavailableError, with no secret in its words."""
    ada = okta.add_user("ada@acme.com")
    verify = OktaVerify(_connector(okta))
    with pytest.raises(NoPushFactorError, match="no active Okta Verify push"):
        verify.send_push("ada@acme.com")
    push = okta.factors.enroll(ada)
    assert verify.push_result(f"/api/v1/users/{ada}/factors/{push}/transactions/mstgone") is PushResult.TIMEOUT
    with pytest.raises(StepUpUnavailableError) as refused:
        OktaVerify(_connector(okta, READ_ONLY)).send_push("ada@acme.com")
    assert READ_ONLY not in str(refused.value)
    okta.fail(500, times=1, path=r"/api/v1/users/[^/]+/factors/[^/]+/transactions/.*")
    poll = verify.send_push("ada@acme.com")
    with pytest.raises(StepUpUnavailableError):
        verify.push_result(poll)
    assert verify.push_result(poll) is PushResult.WAITING

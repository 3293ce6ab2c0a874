"""Okta's Factors API for the sandbox org: the factors a user enrolled, and pushes sent to Okta
Verify and polled, as Okta documents them (developer.okta.com, "User Factors":
List all enrolled factors, Verify a factor, Retrieve a factor transaction status).

    GET  /api/v1/users/{uid}/factors                          200, the enrolled factors
    POST /api/v1/users/{uid}/factors/{fid}/verify             201 for a push: factorResult WAITING,
                                                              `_links.poll` to the transaction
    GET  /api/v1/users/{uid}/factors/{fid}/transactions/{tid} 200: WAITING (with poll and cancel
                                                              links), SUCCESS, REJECTED or TIMEOUT

An unknown user, factor or transaction is 404 E0000007; verifying a factor that is not ACTIVE,
or a factor that needs a passcode without one, is 400 E0000001.  The person at the phone is the
test: `answer(user, "SUCCESS" | "REJECTED" | "TIMEOUT")` settles their waiting pushes (TIMEOUT is
what Okta answers once a push is left unanswered for five minutes).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from sandbox.okta_log import _error
from sandbox.server import Call, Reply

RESULTS = ("SUCCESS", "REJECTED", "TIMEOUT")
PUSH_LIFETIME = 300  # seconds Okta gives a push before its transaction times out
_PROFILES = {
    "push": {"deviceType": "SmartPhone_IPhone", "name": "iPhone", "platform": "IOS", "version": "17.4"},
    "sms": {"phoneNumber": "+1-555-415-1337"},
    "token:software:totp": {},
}


@dataclass
class _Transaction:
    user_id: str
    factor_id: str
    expires_at: float
    result: str = "WAITING"


@dataclass
class OktaFactors:
    """`user_of(uid)` answers the user (raising the sandbox's 404 for an unknown one); `url_of()`
    the org's base URL; `new_id(prefix)` a fresh Okta-looking id."""

    user_of: Callable[[str], dict]
    url_of: Callable[[], str]
    new_id: Callable[[str], str]
    _factors: dict[str, dict[str, dict]] = field(default_factory=dict)  # user → factor id → factor
    _transactions: dict[str, _Transaction] = field(default_factory=dict)
    sent: list[tuple[str, str]] = field(default_factory=list)  # (user, factor) of every push sent

    # -- seeding and the phone (for tests) ------------------------------------------------------
    def enroll(self, user_id: str, factor_type: str = "push", status: str = "ACTIVE",
               provider: str = "OKTA") -> str:
        self.user_of(user_id)
        factor_id = self.new_id({"push": "opf", "sms": "mbl"}.get(factor_type, "ost"))
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        self._factors.setdefault(user_id, {})[factor_id] = {
            "id": factor_id, "factorType": factor_type, "provider": provider, "vendorName": provider,
            "status": status, "created": now, "lastUpdated": now,
            "profile": {"credentialId": self.user_of(user_id)["profile"]["login"],
                        **_PROFILES.get(factor_type, {})}}
        return factor_id

    def answer(self, user_id: str, result: str) -> int:
        """The person accepts, rejects or ignores (TIMEOUT) the pushes waiting on their phone;
        how many there were."""
        assert result in RESULTS, result
        waiting = [t for t in self._transactions.values() if t.user_id == user_id and t.result == "WAITING"]
        for transaction in waiting:
            transaction.result = result
        return len(waiting)

    def pushes(self, user_id: str) -> int:
        return sum(1 for user, _ in self.sent if user == user_id)

    # -- endpoints --------------------------------------------------------------------------------
    def list_factors(self, call: Call, uid: str) -> Reply:
        self.user_of(uid)
        return Reply.json(200, [self._factor_json(uid, f) for f in self._factors.get(uid, {}).values()])

    def verify(self, call: Call, uid: str, fid: str) -> Reply:
        factor = self._factor(uid, fid)
        if factor is None:
            return _not_found(fid, "UserFactor")
        if factor["status"] != "ACTIVE":
            return _error(400, "E0000001", "Api validation failed: factor", "Factor is not active.")
        if factor["factorType"] != "push":
            body = call.json() if call.body else {}
            if not (isinstance(body, dict) and body.get("passCode")):
                return _error(400, "E0000001", "Api validation failed: passCode", "passCode: is required")
            return _error(403, "E0000068", "Invalid Passcode/Answer")  # the sandbox knows no codes
        tid = self.new_id("mst")
        self._transactions[tid] = _Transaction(uid, fid, time.time() + PUSH_LIFETIME)
        self.sent.append((uid, fid))
        return Reply.json(201, self._transaction_json(tid, self._transactions[tid]))

    def transaction(self, call: Call, uid: str, fid: str, tid: str) -> Reply:
        found = self._transactions.get(tid)
        if self._factor(uid, fid) is None or found is None or (found.user_id, found.factor_id) != (uid, fid):
            return _not_found(tid, "Transaction")
        if found.result == "WAITING" and time.time() > found.expires_at:
            found.result = "TIMEOUT"
        return Reply.json(200, self._transaction_json(tid, found))

    # -- JSON -------------------------------------------------------------------------------------
    def _factor(self, uid: str, fid: str) -> dict | None:
        self.user_of(uid)
        return self._factors.get(uid, {}).get(fid)

    def _factor_json(self, uid: str, factor: dict) -> dict:
        href = f"{self.url_of()}/api/v1/users/{uid}/factors/{factor['id']}"
        return {**factor, "_links": {"self": {"href": href, "hints": {"allow": ["GET", "DELETE"]}},
                                     "verify": {"href": f"{href}/verify", "hints": {"allow": ["POST"]}},
                                     "user": {"href": f"{self.url_of()}/api/v1/users/{uid}"}}}

    def _transaction_json(self, tid: str, transaction: _Transaction) -> dict:
        factor = f"{self.url_of()}/api/v1/users/{transaction.user_id}/factors/{transaction.factor_id}"
        if transaction.result == "SUCCESS":
            return {"factorResult": "SUCCESS"}
        if transaction.result in ("REJECTED", "TIMEOUT"):
            return {"factorResult": transaction.result,
                    "_links": {"verify": {"href": f"{factor}/verify", "hints": {"allow": ["POST"]}},
                               "factor": {"href": factor, "hints": {"allow": ["GET", "DELETE"]}}}}
        poll = f"{factor}/transactions/{tid}"
        return {"expiresAt": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(transaction.expires_at)),
                "factorResult": "WAITING",
                "_links": {"poll": {"href": poll, "hints": {"allow": ["GET"]}},
                           "cancel": {"href": poll, "hints": {"allow": ["DELETE"]}}}}


def _not_found(object_id: str, kind: str) -> Reply:
    return _error(404, "E0000007", f"Not found: Resource not found: {object_id} ({kind})")

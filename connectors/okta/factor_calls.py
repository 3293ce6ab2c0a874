"""The Okta factor calls Latchkey makes (`OktaClient.factors`): a user's enrolled factors, and
a push sent to Okta Verify and polled, as Okta's Factors API documents them.

`verify` of a push factor answers 201 with `factorResult: WAITING` and a `_links.poll` link to
the verification transaction; reading that link answers its `factorResult`: WAITING, then
SUCCESS, REJECTED or TIMEOUT.  The poll link is kept as a path of this org, so the credential
is never sent to a host a response named.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from connectors.base import ConnectorError
from connectors.okta.transport import OktaTransport, path_segment

_TRANSACTION_PATH = "/api/v1/users/{uid}/factors/{fid}/transactions/"


class OktaFactorCalls:
    def __init__(self, transport: OktaTransport) -> None:
        self.transport = transport

    def list_factors(self, user_id: str) -> list[dict]:
        """The user's enrolled factors (not paged: a user has a handful)."""
        return self.transport.request("GET", f"/api/v1/users/{path_segment(user_id)}/factors").json()

    def verify_push(self, user_id: str, factor_id: str) -> str:
        """Send a push to the factor's device; returns the path its transaction is polled at."""
        path = f"/api/v1/users/{path_segment(user_id)}/factors/{path_segment(factor_id)}/verify"
        body = self.transport.request("POST", path).json()
        href = ((body.get("_links") or {}).get("poll") or {}).get("href") or ""
        poll = self._own_path(href)
        prefix = _TRANSACTION_PATH.format(uid=path_segment(user_id), fid=path_segment(factor_id))
        if not poll.startswith(prefix):
            raise ConnectorError(f"Okta POST {path} answered without a poll link of the transaction")
        return poll

    def transaction_result(self, poll: str) -> str:
        """The `factorResult` of a push's transaction (WAITING, SUCCESS, REJECTED, TIMEOUT)."""
        return str(self.transport.request("GET", poll).json().get("factorResult", ""))

    def _own_path(self, href: str) -> str:
        """The path of `href` if it points at this org, else ""."""
        link, base = urlsplit(href), urlsplit(self.transport.base_url)
        return link.path if (link.scheme, link.netloc) == (base.scheme, base.netloc) else ""

"""One call to Okta's org authorization server for an access token: `POST /oauth2/v1/token`.

The client credentials grant of a service app, authenticated by a `private_key_jwt` client
assertion (app_keys.py), with a DPoP proof (dpop.py) when tokens are to be bound to our key:

    grant_type=client_credentials & scope=okta.users.read … &
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer &
    client_assertion=<JWT>                                  + header  DPoP: <proof>

Okta first answers a DPoP token request 400 `use_dpop_nonce` with a `DPoP-Nonce` header; the
request is made again with that nonce in the proof (and a new assertion: each is used once).
Okta renews its nonce daily and keeps honouring the old one for a while, so the nonce is kept
and used from then on.  The answer: `token_type` (DPoP, or Bearer for an app that does not
require DPoP), `expires_in` (an hour), `access_token` and `scope`, the scopes GRANTED: Okta
leaves out, without an error, any asked-for scope the app was not granted.

Okta's OAuth errors (`{"error", "error_description"}`) become the connector error tree:
`invalid_client` (the assertion was refused: wrong key, unknown key id, wrong client id) is
`ClientAssertionRefused`, so the caller may try its next key; the other 4xx are refusals too
(`PermissionDeniedError`); 429, 5xx and network errors are transient, for the caller's retries.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from connectors.base import ConnectorError, PermissionDeniedError, RateLimitedError, TransientError
from connectors.masking import excerpt
from connectors.okta.app_keys import AppKey
from connectors.okta.dpop import DPoPKey
from connectors.okta.transport import rate_limit_reset

TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NONCE_ROUNDS = 2  # a request without a nonce, then with the one Okta sent (or a renewed one)


@dataclass(frozen=True)
class IssuedToken:
    """What the token endpoint answered; `value` never shows in a repr."""

    value: str = field(repr=False)
    token_type: str  # "DPoP" or "Bearer"
    expires_in: float
    scopes: tuple[str, ...]  # as granted, which may be fewer than asked for

    @property
    def dpop_bound(self) -> bool:
        return self.token_type.lower() == "dpop"


class ClientAssertionRefused(PermissionDeniedError):
    """Okta refused the client assertion (`invalid_client`): this key, or this client id."""


class TokenEndpoint:
    """The org's token URL, the app it speaks for, and what it asks for."""

    def __init__(self, org_url: str, client_id: str, scopes: tuple[str, ...],
                 dpop_key: DPoPKey | None, *, timeout: float = 10.0,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.url = f"{org_url}{TOKEN_PATH}"
        self.client_id = client_id
        self._scopes = scopes
        self._dpop_key = dpop_key
        self._wall_clock = wall_clock
        self._nonce: str | None = None
        self._http = httpx.Client(timeout=timeout, headers={"Accept": "application/json"})

    def close(self) -> None:
        self._http.close()

    def issue(self, key: AppKey) -> IssuedToken:
        """A new access token, the assertion signed with `key`."""
        for _ in range(NONCE_ROUNDS):
            response = self._post(key)
            if response.is_success:
                return self._token(response)
            if not self._asks_for_nonce(response):
                break
            self._nonce = response.headers["DPoP-Nonce"]
        raise self._error(response, key)

    def _post(self, key: AppKey) -> httpx.Response:
        now = self._wall_clock()
        form = {"grant_type": "client_credentials", "scope": " ".join(self._scopes),
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": key.client_assertion(self.client_id, self.url, now)}
        headers = {}
        if self._dpop_key is not None:
            headers["DPoP"] = self._dpop_key.proof("POST", self.url, nonce=self._nonce, now=now)
        try:
            return self._http.post(self.url, data=form, headers=headers)
        except (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
            raise TransientError(f"Okta POST {TOKEN_PATH} failed: {type(exc).__name__}: {exc}") from exc

    @staticmethod
    def _asks_for_nonce(response: httpx.Response) -> bool:
        return response.status_code == 400 and "DPoP-Nonce" in response.headers and \
            _oauth_error(response)[0] == "use_dpop_nonce"

    def _token(self, response: httpx.Response) -> IssuedToken:
        try:
            body = response.json()
            return IssuedToken(value=body["access_token"], token_type=body.get("token_type", "Bearer"),
                               expires_in=float(body.get("expires_in", 3600)),
                               scopes=tuple((body.get("scope") or "").split()))
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"Okta POST {TOKEN_PATH} answered {response.status_code} "
                                 "without a usable access token") from None

    def _error(self, response: httpx.Response, key: AppKey) -> ConnectorError:
        status = response.status_code
        error, description = _oauth_error(response)
        said = excerpt(f"{error}: {description}" if error else response.reason_phrase)
        message = f"Okta POST {TOKEN_PATH} answered {status} {said}"
        if status == 429:
            return RateLimitedError(message, retry_after=rate_limit_reset(response))
        if status >= 500 or status == 408:
            return TransientError(message)
        if error == "invalid_client":
            return ClientAssertionRefused(f"Okta refused the client assertion of app "
                                          f"{self.client_id} signed with key {key.name} ({said})")
        return PermissionDeniedError(f"Okta refused to issue a token to app {self.client_id} "
                                     f"({said}){_HINTS.get(error, '')}")


_HINTS = {
    "invalid_scope": "; grant the app the scopes in its Okta API Scopes tab, or ask for fewer",
    "invalid_dpop_proof": "; the app requires DPoP: leave auth.dpop on",
    "unauthorized_client": "; the app must be an API Services app allowed the client "
                           "credentials grant",
}


def _oauth_error(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if not isinstance(body, dict):
        return "", ""
    return str(body.get("error") or ""), str(body.get("error_description") or "")

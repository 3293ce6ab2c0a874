"""OAuth 2.0 for Okta with a service app: the `httpx.Auth` that replaces the SSWS API token.

Every request to the Management API carries `Authorization: DPoP <access token>` and a `DPoP`
proof signed for its method and URL, with `ath` binding the proof to the token (or
`Authorization: Bearer <token>` when Okta issued a Bearer token: an app that does not require
DPoP, with `auth.dpop: false`).  The token comes from the token endpoint (token_endpoint.py).

- Cached until shortly before it expires (a minute, or a tenth of its life if that is shorter);
  then ONE thread fetches the next while the others wait for it, so a burst of calls at expiry
  makes one token request, not one each.
- A resource call answered 401 (the token expired early, was revoked, or Okta forgot it) fetches
  a new token once, unless another thread already did, and is sent again; a second 401 is
  Okta's answer.
- A resource call answered 401 `WWW-Authenticate: DPoP error="use_dpop_nonce"` is sent again
  with the `DPoP-Nonce` it came with; that nonce is used from then on.
- Several app keys, for rotation without downtime: the key that last worked signs the client
  assertion; when Okta refuses it (`invalid_client`) the next is tried, and the one that works
  is kept.  So the new key may be listed before or after the old one, and either may be
  registered in Okta first.

Nothing here shows a key or a token: the reprs name the client id and the key ids only.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass

import httpx

from connectors.okta.app_keys import AppKey
from connectors.okta.dpop import DPoPKey, process_key
from connectors.okta.token_endpoint import ClientAssertionRefused, IssuedToken, TokenEndpoint

REFRESH_MARGIN = 60.0  # seconds before expiry at which a token is replaced
KEY_HINT = ("register the public half of the key in the Okta app (General → Public Keys), and "
            "check auth.client_id and the key id")


@dataclass(frozen=True)
class _Cached:
    token: IssuedToken
    renew_at: float  # by `clock`


class OktaOAuth(httpx.Auth):
    """Access tokens for one service app of one org, and the proof each request needs."""

    def __init__(self, org_url: str, client_id: str, keys: Sequence[AppKey], scopes: Sequence[str],
                 *, dpop: bool = True, timeout: float = 10.0, dpop_key: DPoPKey | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall_clock: Callable[[], float] = time.time) -> None:
        if not keys:
            raise ValueError("an Okta service app needs at least one private key")
        self.client_id = client_id
        self.scopes = tuple(scopes)
        self._keys = list(keys)
        self._dpop_key = (dpop_key or process_key()) if dpop else None
        self._endpoint = TokenEndpoint(org_url, client_id, self.scopes, self._dpop_key,
                                       timeout=timeout, wall_clock=wall_clock)
        self._clock, self._wall_clock = clock, wall_clock
        self._lock = threading.Lock()  # held while a token is fetched
        self._cached: _Cached | None = None
        self._key_index = 0  # the key that last worked
        self._resource_nonce: str | None = None

    def __repr__(self) -> str:
        return f"OktaOAuth(client_id={self.client_id!r}, keys={[k.key_id for k in self._keys]})"

    def close(self) -> None:
        self._endpoint.close()

    @property
    def key_in_use(self) -> AppKey:
        """The key that signed the last assertion Okta accepted (the first, before any)."""
        return self._keys[self._key_index]

    def token(self) -> IssuedToken:
        """The access token requests are sent with now, fetched first if none is fresh."""
        cached = self._cached
        if cached is not None and self._clock() < cached.renew_at:
            return cached.token
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached.renew_at:
                return cached.token  # another thread fetched it while this one waited
            return self._fetch()

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self.token()
        response = yield self._signed(request, token)
        if self._asks_for_nonce(response):
            response = yield self._signed(request, token)
        if response.status_code == 401 and not self._asks_for_nonce(response):
            token = self._renewed(stale=token)
            yield self._signed(request, token)

    def _signed(self, request: httpx.Request, token: IssuedToken) -> httpx.Request:
        if token.dpop_bound and self._dpop_key is not None:
            request.headers["Authorization"] = f"DPoP {token.value}"
            request.headers["DPoP"] = self._dpop_key.proof(
                request.method, request.url, nonce=self._resource_nonce,
                access_token=token.value, now=self._wall_clock())
        else:
            request.headers["Authorization"] = f"Bearer {token.value}"
            request.headers.pop("DPoP", None)
        return request

    def _asks_for_nonce(self, response: httpx.Response) -> bool:
        """A DPoP nonce challenge; the nonce it carries is kept for the next proofs."""
        nonce = response.headers.get("DPoP-Nonce")
        if nonce:
            self._resource_nonce = nonce  # a server may renew its nonce on any answer
        challenge = response.headers.get("WWW-Authenticate", "")
        return response.status_code == 401 and bool(nonce) and "use_dpop_nonce" in challenge

    def _renewed(self, stale: IssuedToken) -> IssuedToken:
        """A token to replace `stale`, which Okta refused: fetched unless another thread has."""
        with self._lock:
            if self._cached is not None and self._cached.token is not stale:
                return self._cached.token
            return self._fetch()

    def _fetch(self) -> IssuedToken:
        """A new token from the first key Okta accepts, starting with the last one that worked.
        Called with the lock held."""
        refusals: list[ClientAssertionRefused] = []
        for offset in range(len(self._keys)):
            index = (self._key_index + offset) % len(self._keys)
            try:
                token = self._endpoint.issue(self._keys[index])
            except ClientAssertionRefused as refused:
                refusals.append(refused)
                continue
            self._key_index = index
            margin = min(REFRESH_MARGIN, token.expires_in / 10)
            self._cached = _Cached(token, self._clock() + token.expires_in - margin)
            return token
        raise ClientAssertionRefused("; ".join(str(refused) for refused in refusals)
                                     + f": {KEY_HINT}")

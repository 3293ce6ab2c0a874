"""How a request to Okta says who sends it: an `httpx.Auth`, the one piece a new scheme replaces.

The transport (transport.py) hands every attempt of every call to the Auth object it was given,
so a scheme that needs more than a fixed header fits without touching the transport or the
resource calls: `OktaOAuth` (oauth.py) fetches OAuth 2.0 access tokens with a private_key_jwt
client assertion and signs a DPoP proof for each request's method and URL.

The credential stays inside the object (no repr shows it), so no error message can carry it.
"""

from __future__ import annotations

from collections.abc import Generator

import httpx


class SswsToken(httpx.Auth):
    """An Okta API token, sent as `Authorization: SSWS <token>` on every request."""

    def __init__(self, token: str) -> None:
        self._header = f"SSWS {token}"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

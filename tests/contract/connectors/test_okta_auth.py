"""How the Okta client authenticates is one `httpx.Auth`: any scheme that signs each request
(as DPoP does) plugs in without the transport or the resource calls knowing, and the API token
of the SSWS scheme never shows in a repr."""

from __future__ import annotations

import itertools
from collections.abc import Generator, Iterator

import httpx
import pytest

from connectors.okta.auth import SswsToken
from connectors.okta.client import OktaClient
from connectors.okta.connector import OktaConnector
from sandbox.okta import OktaSandbox
from tests.support.connectors import MAX_ATTEMPTS, drain

TOKEN = "okta-signed-secret-91c3d7"


class SignedEachTime(httpx.Auth):
    """A stand-in for a per-request proof: the token, plus a header naming the attempt, the
    method and the URL it was made for."""

    def __init__(self, token: str) -> None:
        self._token = token
        self._counter = itertools.count(1)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"SSWS {self._token}"
        request.headers["DPoP"] = f"{next(self._counter)} {request.method} {request.url.path}"
        yield request


@pytest.fixture
def okta() -> Iterator[OktaSandbox]:
    with OktaSandbox(page_size=2, tokens={TOKEN: "super_admin"}) as sandbox:
        for name in ("Finance", "Legal", "Ops"):
            sandbox.add_group(name)
        yield sandbox


def test_another_auth_signs_every_attempt_of_every_page(okta, waits, closing):
    """Given an Auth that signs each request and a first page rate limited twice, when syncing
    groups, then all 3 groups come back and each of the 4 calls carried its own proof."""
    client = OktaClient(okta.url, SignedEachTime(TOKEN), max_attempts=MAX_ATTEMPTS,
                        sleep=waits.append)
    connector = closing(OktaConnector(client))
    okta.rate_limit(times=2, path="/api/v1/groups")

    groups = drain(lambda cursor: connector.list_resources("group", cursor))

    assert sorted(group.name for group in groups) == ["Finance", "Legal", "Ops"]
    proofs = [call.headers["dpop"] for call in okta.calls_to("GET", "/api/v1/groups")]
    assert proofs == [f"{n} GET /api/v1/groups" for n in range(1, 5)]
    assert len(waits) == 2


def test_the_api_token_stays_out_of_reprs(okta):
    """Given an SSWS token, when the Auth or the client is shown, then the token is not."""
    client = OktaClient(okta.url, TOKEN)
    try:
        shown = [repr(SswsToken(TOKEN)), repr(client), repr(client.transport)]
    finally:
        client.close()
    assert not any(TOKEN in text for text in shown)

"""The Celigo sandbox answers like Celigo: Link pagination, the error envelope, a PUT that
replaces the share, token tiers, and 429/5xx on demand."""

from __future__ import annotations

import httpx
import pytest

from sandbox.celigo import CeligoSandbox

ADMIN, READ_ONLY, NO_USERS = "celigo-admin-token", "celigo-read-only-token", "celigo-no-users-token"


@pytest.fixture
def celigo():
    tokens = {ADMIN: "admin", READ_ONLY: "read_only", NO_USERS: "no_users"}
    with CeligoSandbox(page_size=3, tokens=tokens) as sandbox:
        yield sandbox


def client(celigo: CeligoSandbox, token: str = ADMIN) -> httpx.Client:
    return httpx.Client(base_url=celigo.url, headers={"Authorization": f"Bearer {token}"})


def error(response: httpx.Response) -> dict:
    [only] = response.json()["errors"]
    return only


def test_shares_page_through_link_headers(celigo):
    """Given 7 shares and page size 3, when following rel="next", then 3 pages bring all in order, with rel="prev" after the first."""
    ids = [celigo.add_share(f"u{i}@example.com") for i in range(7)]
    url, seen, pages = "/v1/ashares", [], 0
    with client(celigo) as http:
        while url:
            response = http.get(url)
            pages += 1
            seen += [share["_id"] for share in response.json()]
            assert ("prev" in response.links) == (pages > 1)
            url = response.links.get("next", {}).get("url")
            if url:
                assert "skip=" in url and "limit=1000" in url
    assert (pages, seen) == (3, ids)


def test_put_replaces_the_share_keeping_only_celigos_own_fields(celigo):
    """Given a share with MFA and integration access, when PUT sends only accessLevel, then the rest is erased, read-only fields stay, and the answer is 204."""
    share = celigo.add_share("ada@example.com", "Ada", "monitor", accountMFARequired=True)
    celigo.add_integration("Orders", access={share: "manage"})
    before = celigo.share(share)
    with client(celigo) as http:
        response = http.put(f"/v1/ashares/{share}", json={
            "accessLevel": "manage", "sharedWithUser": {"email": "evil@example.com"}})
    after = celigo.share(share)
    assert (response.status_code, response.content) == (204, b"")
    assert after["accessLevel"] == "manage" and after["integrationAccessLevel"] == []
    assert "accountMFARequired" not in after and "disabled" not in after
    assert after["sharedWithUser"] == before["sharedWithUser"]
    assert (after["_id"], after["createdAt"], after["accepted"]) == (
        share, before["createdAt"], True)
    assert len(celigo.share_writes()) == 1


@pytest.mark.parametrize("body, field", [
    ({"accessLevel": "owner"}, "accessLevel"),
    ({"accessLevel": "monitor", "integrationAccessLevel": [
        {"_integrationId": "nope", "accessLevel": "manage"}]}, "integrationAccessLevel"),
])
def test_invalid_levels_are_422_and_change_nothing(celigo, body, field):
    """Given a bad access level or integration entry, when PUT, then 422 invalid_field names the field and the share is unchanged."""
    share = celigo.add_share("ada@example.com")
    before = celigo.share(share)
    with client(celigo) as http:
        response = http.put(f"/v1/ashares/{share}", json=body)
    assert response.status_code == 422
    assert (error(response)["code"], error(response)["field"]) == ("invalid_field", field)
    assert celigo.share(share) == before and celigo.share_writes() == []


@pytest.mark.parametrize("method, path, token, status, code", [
    ("GET", "/v1/ashares/65f0000000000000000000ff", ADMIN, 404, "not_found"),
    ("PUT", "/v1/ashares/65f0000000000000000000ff", ADMIN, 404, "not_found"),
    ("GET", "/v1/nowhere", ADMIN, 404, "not_found"),
    ("GET", "/v1/ashares", "wrong-token", 401, "unauthorized"),
    ("GET", "/v1/ashares?limit=0", ADMIN, 400, "invalid_query_params"),
    ("DELETE", "/v1/integrations", ADMIN, 405, "method_not_allowed"),
])
def test_errors_use_celigos_envelope(celigo, method, path, token, status, code):
    """Given a bad id, path, token or query, when calling, then the status and {"errors": [...]} envelope match."""
    with client(celigo, token) as http:
        response = http.request(method, path, json={"accessLevel": "monitor"}
                                if method == "PUT" else None)
    assert (response.status_code, error(response)["code"]) == (status, code)
    assert error(response)["message"]


def test_token_tiers_decide_reads_and_writes(celigo):
    """Given admin, read-only and no-users tokens, when each reads and writes, then only what the tier allows answers 2xx."""
    share = celigo.add_share("ada@example.com")
    celigo.add_integration("Orders")
    put = {"accessLevel": "manage"}
    statuses, scopes = {}, {}
    for token in (ADMIN, READ_ONLY, NO_USERS):
        with client(celigo, token) as http:
            statuses[token] = (http.get("/v1/integrations").status_code,
                               http.get("/v1/ashares").status_code,
                               http.put(f"/v1/ashares/{share}", json=put).status_code)
            scopes[token] = http.get("/v1/tokenInfo").json()["scope"]
    assert statuses == {ADMIN: (200, 200, 204), READ_ONLY: (200, 200, 403),
                        NO_USERS: (200, 403, 403)}
    assert scopes == {ADMIN: "*", READ_ONLY: "custom", NO_USERS: "custom"}


def test_rate_limit_and_failures_on_demand(celigo):
    """Given an injected 429 and 503, when calling three times, then 429 with Retry-After, 503, then 200."""
    celigo.rate_limit(path="/v1/integrations", retry_after=4)
    celigo.fail(503, path="/v1/integrations")
    with client(celigo) as http:
        limited, failed, ok = (http.get("/v1/integrations") for _ in range(3))
    assert (limited.status_code, limited.headers["Retry-After"]) == (429, "4")
    assert error(limited)["code"] == "rate_limited"
    assert (failed.status_code, ok.status_code) == (503, 200)


def test_integration_access_is_seeded_on_the_share(celigo):
    """Given an integration seeded with access for an integration-only user, when reading the share, then the entry is there and no accessLevel."""
    share = celigo.add_share("ops@example.com", access_level=None)
    integration = celigo.add_integration("Orders", "NetSuite orders", access={share: "monitor"})
    with client(celigo) as http:
        record = http.get(f"/v1/ashares/{share}").json()
    assert "accessLevel" not in record
    assert record["integrationAccessLevel"] == [
        {"_integrationId": integration, "accessLevel": "monitor"}]

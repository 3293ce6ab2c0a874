"""masking.mask(): every configured secret and everything shaped like a credential, wherever it
stands in a text; what Latchkey remembers as secret; and where error texts are born."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from bot.config import Settings, parse_config
from connectors.base import TransientError
from connectors.http import ApiClient
from connectors.masking import MASK, Secrets, mask, remember

TOKEN_CHARS = st.characters(codec="ascii", categories=("L", "N"), include_characters="-_.~+/=")
ANY_TEXT = st.text(max_size=300)


@settings(max_examples=300, deadline=None)
@given(secret=st.text(TOKEN_CHARS, min_size=6, max_size=64), before=ANY_TEXT, after=ANY_TEXT)
def test_a_remembered_secret_never_survives_anywhere_in_a_text(secret, before, after):
    """Given a configured secret, placed anywhere in any text, then neither mask() nor a clipped
    excerpt() of that text contains it."""
    secrets = Secrets()  # not the process's: random values would garble the other tests' text
    secrets.remember([secret])
    text = before + secret + after
    assert secret not in secrets.mask(text)
    assert secret not in secrets.excerpt(text, 50)


@pytest.mark.parametrize("text, shown", [
    ("proxy rejected request (Authorization: SSWS 00aZ-9_x)", "(Authorization: SSWS [redacted])"),
    ('{"headers": {"authorization": "Bearer eyJhbGciOi.J9.x-Y"}}', '"authorization": "Bearer [redacted]"'),
    ("Proxy-Authorization: Basic dXNlcjpwYXNz", "Proxy-Authorization: Basic [redacted]"),
    ("Authorization: DPoP eyJ0eXAiOi.xyz", "Authorization: DPoP [redacted]"),
    ('Authorization: Digest username="bob", response="6629fae4"', "Authorization: Digest [redacted]"),
    ("refused: SSWS 00aZ-9_x", "refused: SSWS [redacted]"),
    ("bot xoxb-123-456-abc, app xapp-1-A0-99-ff", "bot [redacted], app [redacted]"),
    ("GET /v1/users?access_token=abc123&limit=5", "?access_token=[redacted]&limit=5"),
    ('{"api_key": "k-123", "password": "hunter2"}', '{"api_key": "[redacted]", "password": "[redacted]"}'),
    ("X-Api-Key: 9f8e7d", "X-Api-Key: [redacted]"),
    ("cannot connect to postgresql+psycopg://latchkey:hunter2@db/latchkey", "postgresql+psycopg://[redacted]@db/latchkey"),
    ("grant_type=client_credentials&client_assertion=eyJhbGci.eyJpc3Mi.c2ln&scope=okta.users.read",
     "&client_assertion=[redacted]&scope=okta.users.read"),
    ("-----BEGIN PRIVATE KEY-----\nMIIEvQIBADAN\nBgkqhkiG9w0B\n-----END PRIVATE KEY-----",
     "-----BEGIN PRIVATE KEY-----[redacted]-----END PRIVATE KEY-----"),
    ('{"kty": "EC", "crv": "P-256", "x": "f83O", "d": "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}',
     '"x": "f83O", "d": "[redacted]"}'),
])
def test_anything_shaped_like_a_credential_is_masked(text, shown):
    assert shown in mask(text)


@pytest.mark.parametrize("text", [
    "Okta PUT /api/v1/groups/00g1/users/00u1 answered 404 E0000007: Not found: Resource not found",
    "Bearer token required; Basic authentication is off",
    "no account for alice@acme.com at https://acme.okta.com/api/v1/users/alice@acme.com",
    "<@U0ALICE> approved `a1b2c3` · eng-admins (okta) · until <!date^1700000000^{date_short}|x>",
])
def test_ordinary_text_is_left_alone(text):
    assert mask(text) == text


def test_settings_and_config_remember_their_secrets_when_loaded(tmp_path):
    """Given the process's settings and a config (as loaded at start-up or at a reload), then
    every SecretStr in them and the database password are masked from then on."""
    Settings(slack_bot_token="bot-token-value-1", slack_signing_secret="signing-value-1",
             slack_app_token=SecretStr("app-token-value-1"),
             database_url="postgresql+psycopg://latchkey:db-password-1@db/latchkey")
    parse_config("""
connectors:
  okta: {type: okta, domain: acme.okta.com, token: "${OKTA}", owners: [alice@acme.com]}
  celigo: {type: celigo, token: celigo-token-value-1, owners: [alice@acme.com]}
policy: {durations: [1h], max_duration: 8h}
""", env={"OKTA": "okta-token-value-1"})
    said = mask("bot-token-value-1 signing-value-1 app-token-value-1 db-password-1 "
                "okta-token-value-1 celigo-token-value-1 acme.okta.com")
    assert said == " ".join([MASK] * 6) + " acme.okta.com"


def test_each_part_of_a_remembered_private_key_is_masked_on_its_own():
    """Given a private key remembered as a secret (PEM, or a JWK), then a text quoting only
    one line of the PEM, or only the JWK's `d`, is masked too."""
    secrets = Secrets()
    pem_lines = ["MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj",
                 "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu"]
    secrets.remember(["-----BEGIN PRIVATE KEY-----\n" + "\n".join(pem_lines) + "\n-----END PRIVATE KEY-----\n",
                      '{"kty": "EC", "d": "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE", "kid": "k1"}'])
    said = secrets.mask(f"line 2 is {pem_lines[1]}; d was 870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE; kid k1")
    assert said == f"line 2 is {MASK}; d was {MASK}; kid k1"


def test_an_error_body_is_quoted_masked_then_clipped():
    """Given an API that answers a long body with a token past the point where it is clipped,
    then the error quotes at most 300 characters and no part of the token."""
    remember(["s3cr3t-t0ken-value"])
    body = "x" * 290 + " s3cr3t-t0ken-value " + "y" * 5000
    client = _client(lambda request: httpx.Response(400, text=body))
    with pytest.raises(Exception) as raised:
        client.request("GET", "/thing")
    message = str(raised.value)
    assert "s3cr3t" not in message and len(message) < 400


def test_a_transport_error_quoting_a_credential_is_masked():
    """Given the network layer fails with a message that quotes a URL's password and a token,
    then the connector's error (stored and shown from here on) masks both."""
    remember(["okta-token-in-transit"])

    def refuse(request):
        raise httpx.ConnectError("proxy http://latchkey:pw-1234@proxy:3128 refused okta-token-in-transit")

    with pytest.raises(TransientError) as raised:
        _client(refuse).request("GET", "/thing")
    assert "pw-1234" not in str(raised.value) and "okta-token-in-transit" not in str(raised.value)
    assert "ConnectError" in str(raised.value)


def _client(handler) -> ApiClient:
    client = ApiClient("https://api.example.com", {}, max_attempts=1)
    client._http = httpx.Client(base_url="https://api.example.com", transport=httpx.MockTransport(handler))
    return client

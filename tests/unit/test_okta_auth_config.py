"""The credentials of an Okta connector in the YAML file: an API token or OAuth for a service
app, exactly one; keys that can be read, named by a key id, several for rotation; and the keys
kept out of every message and remembered as secrets."""

from __future__ import annotations

import json

import pytest

from bot.config import ConfigError, parse_config
from connectors.masking import MASK, mask
from connectors.okta.oauth import OktaOAuth
from connectors.okta.oauth_capabilities import DEFAULT_SCOPES
from tests.support.config import as_yaml, config_data
from tests.support.okta_oauth import ec_key, oauth_entry, pem, private_jwk_text, public_jwk

KEY, NEXT = ec_key(), ec_key()
ENV = {"OKTA_PRIVATE_KEY": pem(KEY), "OKTA_NEXT_KEY": pem(NEXT), "OKTA_API_TOKEN": "t0ken-value"}


def parse(**okta_changes):
    data = config_data("acme.okta.com", okta_auth=oauth_entry("0oa1app"))
    data["connectors"]["okta"].update(okta_changes)
    data["connectors"]["okta"] = {k: v for k, v in data["connectors"]["okta"].items() if v is not None}
    return parse_config(as_yaml(data), env=ENV)


def refusal(**okta_changes) -> str:
    with pytest.raises(ConfigError) as raised:
        parse(**okta_changes)
    return str(raised.value)


def test_oauth_alone_is_enough_and_asks_for_the_default_scopes():
    okta = parse().connectors["okta"]
    assert okta.token is None and okta.auth.client_id == "0oa1app"
    assert tuple(okta.auth.scopes) == DEFAULT_SCOPES and okta.auth.dpop is True


@pytest.mark.parametrize("changes, said", [
    ({"token": "${OKTA_API_TOKEN}"}, "give `token` or `auth`, not both"),
    ({"auth": None}, "give `token` (an Okta API token) or `auth` (OAuth for a service app)"),
])
def test_exactly_one_of_token_and_auth(changes, said):
    assert said in refusal(**changes) and "connectors.okta" in refusal(**changes)


@pytest.mark.parametrize("auth, said", [
    ({"private_key": "not a key at all"}, "neither PEM"),
    ({"private_key": "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----"}, "holds no private key"),
    ({"private_key": "-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n-----END PRIVATE KEY-----"}, "cannot be read"),
    ({"private_key": '{"kty": "EC"}'}, "JWK holds no private key"),
    ({"key_id": None}, "set `key_id`"),
    ({"keys": [{"key_id": "k2", "private_key": "${OKTA_NEXT_KEY}"}]}, "not both"),
    ({"scopes": ["okta.users.read okta.groups.read"]}, "is not a scope name"),
])
def test_an_unusable_key_is_refused_saying_why_without_quoting_it(auth, said):
    message = refusal(auth={**oauth_entry("0oa1app"), **auth})
    assert said in message and "connectors.okta.auth" in message
    assert pem(KEY).splitlines()[1] not in message and "bm90IGEga2V5" not in message


def test_several_keys_in_the_order_given_from_pem_or_jwk():
    """Given a `keys` list (a PEM and a JWK that names its own kid), then the connector
    signs with them in that order."""
    auth = {"type": "oauth", "client_id": "0oa1app", "keys": [
        {"key_id": "k1", "private_key": "${OKTA_PRIVATE_KEY}"},
        {"private_key": private_jwk_text(NEXT, "k2")}]}
    connector = parse(auth=auth).connectors["okta"].build()
    try:
        oauth = connector._client.oauth
        assert isinstance(oauth, OktaOAuth) and [k.key_id for k in oauth._keys] == ["k1", "k2"]
        assert "BEGIN" not in repr(oauth) and oauth.client_id == "0oa1app"
    finally:
        connector.close()


def test_private_keys_are_remembered_as_secrets_when_the_config_is_loaded():
    """Given a config whose key comes from the environment (PEM) or the file (JWK), then any
    line of the PEM, and the JWK's private member, are masked from then on."""
    jwk = private_jwk_text(NEXT, "k2")
    auth = {"type": "oauth", "client_id": "0oa1app", "keys": [
        {"key_id": "k1", "private_key": "${OKTA_PRIVATE_KEY}"}, {"private_key": jwk}]}
    parse(auth=auth)
    pem_line, d = pem(KEY).splitlines()[2], json.loads(jwk)["d"]
    assert mask(f"{pem_line} / {d} / {public_jwk(KEY)['x']}") == f"{MASK} / {MASK} / {public_jwk(KEY)['x']}"

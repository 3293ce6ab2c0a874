"""The `auth:` key of an Okta connector: OAuth 2.0 for an API Services app, instead of `token`.

    auth:
      type: oauth
      client_id: 0oa1b2c3d4e5F6g7h8i9
      private_key: ${OKTA_PRIVATE_KEY}     # PEM or JWK
      key_id: latchkey-2026-01             # the Key ID Okta shows for its public half

or, while a key is being rotated, several keys (the one that works is used):

      keys:
        - {key_id: latchkey-2026-01, private_key: "${OKTA_PRIVATE_KEY}"}
        - {key_id: latchkey-2026-07, private_key: "${OKTA_NEXT_PRIVATE_KEY}"}

Each private key is a secret (SecretStr): the config hands it to the masking of
connectors/masking.py with every other secret, so no text Latchkey writes can quote it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.okta.app_keys import AppKey, load_app_key
from connectors.okta.oauth_capabilities import DEFAULT_SCOPES


class OktaKeySettings(BaseModel):
    """One private key of the app, in the `keys` list."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key_id: str | None = Field(default=None, min_length=1, description="the Key ID (kid) Okta "
                               "shows for the public key; may be left out for a JWK that has a kid")
    private_key: SecretStr = Field(min_length=1, description="the private key, PEM or JWK "
                                   "(use ${ENV_VAR})")

    @model_validator(mode="after")
    def _key_is_usable(self) -> OktaKeySettings:
        _app_key(self.private_key, self.key_id)
        return self

    def app_key(self) -> AppKey:
        return _app_key(self.private_key, self.key_id)


class OktaOAuthSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["oauth"]
    client_id: str = Field(min_length=1, description="the Client ID of the API Services app")
    private_key: SecretStr | None = Field(default=None, min_length=1, description=
                                          "the app's private key, PEM or JWK (use ${ENV_VAR}); "
                                          "or `keys`")
    key_id: str | None = Field(default=None, min_length=1, description="the Key ID (kid) Okta "
                               "shows for the public key; may be left out for a JWK that has a kid")
    keys: list[OktaKeySettings] | None = Field(default=None, min_length=1, description=
                                               "several keys instead of `private_key`, to rotate "
                                               "without downtime: the one Okta accepts is used")
    scopes: list[str] = Field(default_factory=lambda: list(DEFAULT_SCOPES), min_length=1,
                              description="the Okta API scopes to ask for; grant each to the app")
    dpop: bool = Field(default=True, description="bind tokens to a key of Latchkey's with DPoP; "
                       "false only for an app that does not require DPoP (Bearer tokens)")

    @field_validator("scopes")
    @classmethod
    def _scopes_are_words(cls, scopes: list[str]) -> list[str]:
        for scope in scopes:
            if not scope or any(c.isspace() for c in scope):
                raise ValueError(f"{scope!r} is not a scope name such as okta.users.read")
        return scopes

    @model_validator(mode="after")
    def _one_way_to_give_keys(self) -> OktaOAuthSettings:
        if (self.private_key is None) == (self.keys is None):
            raise ValueError("give either `private_key` (with `key_id`) or `keys`, a list of "
                             "them, not both")
        if self.keys is not None and self.key_id is not None:
            raise ValueError("`key_id` goes with `private_key`; in `keys`, give each key its own")
        if self.private_key is not None:
            _app_key(self.private_key, self.key_id)
        return self

    def app_keys(self) -> list[AppKey]:
        if self.keys is not None:
            return [key.app_key() for key in self.keys]
        assert self.private_key is not None  # the validator saw to it
        return [_app_key(self.private_key, self.key_id)]


def _app_key(private_key: SecretStr, key_id: str | None) -> AppKey:
    key = load_app_key(private_key.get_secret_value(), key_id)  # ValueError says what is wrong
    if key.key_id is None:
        raise ValueError("the key has no key id: set `key_id` to the Key ID (kid) Okta shows for "
                         "its public half")
    return key

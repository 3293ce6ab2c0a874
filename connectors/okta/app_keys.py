"""The private keys of an Okta API Services app, and the client assertion each one signs.

Okta's service apps authenticate with `private_key_jwt`: the token request carries a JWT signed
with a private key whose public half is registered in the app (its "Public Keys").  The claims
are those of Okta's "Implement OAuth for Okta with a service app": `iss` = `sub` = the client
id, `aud` = the token URL, a short `exp` (Okta refuses one more than an hour ahead), `iat`, and a
unique `jti` (Okta refuses a replay).  The header's `kid` names the registered key.

A key is given as PEM (PKCS#1, PKCS#8 or SEC1, as Okta's "Generate new key" offers it) or as a
JWK (the JSON Okta shows beside it); RSA keys sign with RS256, EC keys with the ES algorithm of
their curve.  Nothing here shows the key: not the repr, not an error message.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

ASSERTION_SECONDS = 300  # how long a client assertion is valid: one token request, with slack
CURVE_ALGORITHMS = {"secp256r1": "ES256", "secp384r1": "ES384", "secp521r1": "ES512"}
ALGORITHMS = ("RS256", "RS384", "RS512", *CURVE_ALGORITHMS.values())  # what Okta accepts
PRIVATE_JWK_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")  # of RSA and EC JWKs (RFC 7518)


class AppKey:
    """One private key of the app: signs client assertions; shows only its key id."""

    def __init__(self, private_key: Any, algorithm: str, key_id: str | None) -> None:
        self._private_key = private_key
        self.algorithm = algorithm
        self.key_id = key_id

    def __repr__(self) -> str:
        return f"AppKey(key_id={self.key_id!r}, algorithm={self.algorithm!r})"

    @property
    def name(self) -> str:
        """How messages name the key: its id, or its algorithm when it has none."""
        return repr(self.key_id) if self.key_id else f"(no key id, {self.algorithm})"

    def client_assertion(self, client_id: str, token_url: str, now: float) -> str:
        issued = int(now)
        claims = {"iss": client_id, "sub": client_id, "aud": token_url, "iat": issued,
                  "exp": issued + ASSERTION_SECONDS, "jti": uuid.uuid4().hex}
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._private_key, algorithm=self.algorithm, headers=headers)


def load_app_key(text: str, key_id: str | None = None) -> AppKey:
    """The key in `text` (PEM or JWK); `key_id` wins over a JWK's own `kid`.

    Raises ValueError saying what is wrong, never quoting the text."""
    text = text.strip()
    if text.startswith("{"):
        return _from_jwk(text, key_id)
    if "-----BEGIN" in text:
        return _from_pem(text.replace("\\n", "\n"), key_id)  # a PEM squeezed into one line
    raise ValueError("the private key is neither PEM (-----BEGIN … PRIVATE KEY-----) nor a JWK "
                     "(a JSON object)")


def _from_pem(text: str, key_id: str | None) -> AppKey:
    if "PRIVATE KEY-----" not in text:
        raise ValueError("the PEM holds no private key (a public key or a certificate?): give "
                         "the private key whose public half is registered in the Okta app")
    try:
        private_key = load_pem_private_key(text.encode(), password=None)
    except (ValueError, TypeError):
        raise ValueError("the PEM private key cannot be read (damaged, or protected by a "
                         "password, which Latchkey does not take)") from None
    return AppKey(private_key, _algorithm(private_key), key_id)


def _from_jwk(text: str, key_id: str | None) -> AppKey:
    try:
        members = json.loads(text)
    except ValueError:
        raise ValueError("the private key looks like a JWK but is not valid JSON") from None
    if not isinstance(members, dict) or "d" not in members:
        raise ValueError("the JWK holds no private key (no `d`): give the private JWK, not the "
                         "public one registered in the Okta app")
    try:
        private_key = jwt.PyJWK(members).key
    except (jwt.PyJWKError, ValueError, TypeError):
        raise ValueError("the JWK cannot be read as an RSA or EC private key") from None
    algorithm = members.get("alg") or _algorithm(private_key)
    if algorithm not in ALGORITHMS:
        raise ValueError(f"the JWK's alg {algorithm!r} is not one Okta accepts "
                         f"({', '.join(ALGORITHMS)})")
    return AppKey(private_key, algorithm, key_id or members.get("kid"))


def _algorithm(private_key: Any) -> str:
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and \
            private_key.curve.name in CURVE_ALGORITHMS:
        return CURVE_ALGORITHMS[private_key.curve.name]
    raise ValueError("the private key is neither RSA nor EC on P-256, P-384 or P-521, the kinds "
                     "Okta accepts")

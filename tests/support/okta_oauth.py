"""Keys, client assertions and DPoP proofs for Okta OAuth tests, made here with PyJWT directly
(as Okta's guides build them), so the sandbox is tested on its own and not through Latchkey's
client; and the `auth:` entry of a connector that uses them."""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import time
import uuid

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# The scopes Latchkey asks for by default, and what each capability needs of them.
READ_SCOPES = ("okta.users.read", "okta.groups.read", "okta.apps.read", "okta.roles.read")
ALL_SCOPES = (*READ_SCOPES, "okta.groups.manage", "okta.apps.manage", "okta.roles.manage")


@functools.cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key per name, made once per test process (making one takes a while)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def public_jwk(key, kid: str | None = None) -> dict:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    found = algorithm.to_jwk(key.public_key(), as_dict=True)
    return {**found, "kid": kid} if kid else found


def private_jwk_text(key, kid: str) -> str:
    algorithm = RSAAlgorithm if isinstance(key, rsa.RSAPrivateKey) else ECAlgorithm
    return json.dumps({**algorithm.to_jwk(key, as_dict=True), "kid": kid})


def client_assertion(key, kid: str | None, client_id: str, audience: str, *,
                     lifetime: int = 300, issuer: str | None = None, jti: str | None = None) -> str:
    now = int(time.time())
    claims = {"iss": issuer or client_id, "sub": client_id, "aud": audience, "iat": now,
              "exp": now + lifetime, "jti": jti or uuid.uuid4().hex}
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid} if kid else None)


def dpop_proof(key, method: str, url: str, *, nonce: str | None = None,
               access_token: str | None = None, iat: float | None = None,
               jti: str | None = None, jwk: dict | None = None) -> str:
    claims = {"htm": method, "htu": url, "iat": int(time.time() if iat is None else iat),
              "jti": jti or uuid.uuid4().hex}
    if nonce:
        claims["nonce"] = nonce
    if access_token:
        digest = hashlib.sha256(access_token.encode()).digest()
        claims["ath"] = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    header = {"typ": "dpop+jwt", "jwk": jwk or public_jwk(key)}
    return jwt.encode(claims, key, algorithm="ES256", headers=header)


def token_form(assertion: str, scopes=ALL_SCOPES) -> dict[str, str]:
    return {"grant_type": "client_credentials", "scope": " ".join(scopes),
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}


def oauth_entry(client_id: str, key_id: str = "k1", private_key: str = "${OKTA_PRIVATE_KEY}",
                **more) -> dict:
    """The `auth:` of an Okta connector entry: the app, one key (from the environment)."""
    return {"type": "oauth", "client_id": client_id, "private_key": private_key,
            "key_id": key_id, **more}

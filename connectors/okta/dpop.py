"""DPoP (RFC 9449): the proof, signed for each request, that the sender holds the key the access
token is bound to, so a token that leaks (a log, a proxy) is worth nothing without the key.

A proof is a JWT with header `typ: dpop+jwt`, `alg`, and `jwk` (the PUBLIC key); its claims are
`htm` (the method), `htu` (the URL without query and fragment), `iat`, a unique `jti`, the
server's `nonce` once it asked for one, and on resource calls `ath`, the base64url SHA-256 of
the access token.  Okta binds the token to the key's thumbprint (`cnf.jkt`) and checks each
proof against it.

The process makes ONE key pair, the first time an OAuth connector is built, and keeps it in
memory only: a restart simply makes a new pair and fetches new tokens.  EC P-256 (ES256): Okta
accepts it, and it is made in a millisecond, where an RSA key takes a noticeable while.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
import uuid

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ALGORITHM = "ES256"


class DPoPKey:
    """A key pair that signs DPoP proofs; only its public half ever leaves it."""

    def __init__(self) -> None:
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        self.public_jwk = ECAlgorithm.to_jwk(self._private_key.public_key(), as_dict=True)

    def __repr__(self) -> str:
        return f"DPoPKey({ALGORITHM}, x={self.public_jwk['x'][:8]}…)"

    def proof(self, method: str, url: httpx.URL | str, *, nonce: str | None = None,
              access_token: str | None = None, now: float | None = None) -> str:
        claims: dict[str, object] = {"htm": method.upper(), "htu": target_uri(url),
                                     "iat": int(time.time() if now is None else now),
                                     "jti": uuid.uuid4().hex}
        if nonce:
            claims["nonce"] = nonce
        if access_token:
            claims["ath"] = access_token_hash(access_token)
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM,
                          headers={"typ": "dpop+jwt", "jwk": self.public_jwk})


def target_uri(url: httpx.URL | str) -> str:
    """`htu`: the request's URL without query and fragment, its path as sent (still encoded)."""
    url = httpx.URL(url)
    path = url.raw_path.split(b"?", 1)[0].decode("ascii")
    return f"{url.scheme}://{url.netloc.decode('ascii')}{path}"


def access_token_hash(access_token: str) -> str:
    """`ath`: base64url (unpadded) of the SHA-256 of the access token's ASCII bytes."""
    digest = hashlib.sha256(access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


_process_key: DPoPKey | None = None
_lock = threading.Lock()


def process_key() -> DPoPKey:
    """The process's one DPoP key pair, made on first use."""
    global _process_key
    with _lock:
        if _process_key is None:
            _process_key = DPoPKey()
        return _process_key

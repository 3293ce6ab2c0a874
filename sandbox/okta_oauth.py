"""Okta's org authorization server for service apps, and how Okta's API checks what it issues:
the OAuth half of the Okta sandbox (sandbox/okta.py routes to it).

Built from Okta's guides ("Implement OAuth for Okta with a service app", "Configure OAuth 2.0
Demonstrating Proof-of-Possession"), its OAuth and Management API references and RFC 9449:

`POST /oauth2/v1/token` (client credentials, `private_key_jwt`):
- the client assertion must be signed (RS256/384/512, ES256/384/512) by a public key registered
  in the app (several may be: key rotation; the header's `kid` picks one), with `iss` = `sub` =
  the client id, `aud` = the token URL, an `exp` not past and at most an hour ahead, and a `jti`
  never seen before; else 401 `invalid_client`;
- DPoP: an app that requires it refuses a request without a proof (400 `invalid_dpop_proof`);
  a proof (typ `dpop+jwt`, a public `jwk`, `htm` POST, `htu` the token URL, `iat` within a
  minute, an unused `jti`) without the current nonce is answered 400 `use_dpop_nonce` with a
  `DPoP-Nonce` header; the nonce then stays valid after it is renewed, as Okta's does;
- the token carries the asked-for scopes the app was granted, silently fewer than asked for;
  `expires_in` is `token_lifetime` (an hour, as Okta's; a test may shorten it).

Resource calls (`Authorization: DPoP <token>` with a `DPoP` proof, or `Bearer <token>` for a
token that is not DPoP-bound): an unknown or expired token is 401 `invalid_token`; a DPoP-bound
token needs a proof with `htm`, `htu`, `ath` = the token's hash and the key it is bound to (and
the resource nonce, when `require_resource_nonce` is on: 401 `use_dpop_nonce`, as RFC 9449 §9
allows; Okta says it does not ask yet); a token without the endpoint's scope is 403
`insufficient_scope`.  Each refusal carries `WWW-Authenticate` as Okta writes it (e.g.
`DPoP algs="…", authorization_uri="…", realm="…", scope="okta.groups.read",
error="insufficient_scope", error_description="…", resource="/api/v1/groups"`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs

import jwt

from sandbox.server import Call, Reply

TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")
MAX_ASSERTION_SECONDS = 3600  # Okta: exp "must be a maximum of only an hour in the future"
PROOF_WINDOW = 60  # seconds a DPoP proof's iat may be from now
THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}  # RFC 7638
PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi")
ROLE_RIGHTS = {  # what each standard role lets a service app do here (as the token tiers do)
    "SUPER_ADMIN": {"read", "write", "role_read", "role_write"},
    "ORG_ADMIN": {"read", "write", "role_read"},
    "APP_ADMIN": {"read", "write"}, "USER_ADMIN": {"read", "write"},
    "GROUP_MEMBERSHIP_ADMIN": {"read", "write"}, "READ_ONLY_ADMIN": {"read"},
    "HELP_DESK_ADMIN": {"read"}, "REPORT_ADMIN": {"read"},
}


@dataclass
class ServiceApp:
    """An API Services app: its registered public keys (kid → JWK), granted scopes and roles."""

    client_id: str
    public_keys: dict[str, dict]
    scopes: set[str]
    roles: list[dict] = field(default_factory=list)  # role assignments, assignmentType CLIENT
    require_dpop: bool = True

    def rights(self) -> set[str]:
        return {right for role in self.roles for right in ROLE_RIGHTS.get(role["type"], ())}


@dataclass
class AccessToken:
    value: str
    client_id: str
    scopes: frozenset[str]
    expires_at: float
    jkt: str | None  # the thumbprint of the DPoP key it is bound to; None: a Bearer token


class Refused(Exception):
    """An answer that ends the call (a refusal, or a nonce challenge)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class ProofRefused(Exception):
    """A DPoP proof that fails a check; the message is the error description."""


class NonceNeeded(Exception):
    """A DPoP proof without the nonce the server wants."""


class AuthorizationServer:
    """The apps, the tokens issued to them and the nonces and ids already used."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.apps: dict[str, ServiceApp] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.token_lifetime = 3600
        self.require_resource_nonce = False
        self.issued = 0  # tokens issued, for tests that count refreshes
        self._nonces = [secrets.token_urlsafe(24)]  # the current one last; older still valid
        self._resource_nonce = secrets.token_urlsafe(24)
        self._assertion_ids: set[str] = set()
        self._proof_ids: set[str] = set()

    def rotate_nonce(self) -> None:
        self._nonces.append(secrets.token_urlsafe(24))

    def expire_tokens(self) -> None:
        for token in self.tokens.values():
            token.expires_at = min(token.expires_at, self.clock() - 1)

    # -- the token endpoint ---------------------------------------------------------------------
    def token(self, call: Call, base_url: str) -> Reply:
        token_url = base_url + TOKEN_PATH
        form = {k: v[0] for k, v in parse_qs(call.body.decode(), keep_blank_values=True).items()}
        try:
            if form.get("grant_type") != "client_credentials":
                raise _oauth(400, "unsupported_grant_type", "The authorization grant type is not "
                             "supported by the authorization server.")
            app = self._client(form)
            jkt = self._token_proof(call, app, token_url)
            self._check_assertion(form["client_assertion"], app, token_url)
            return self._issue(app, form.get("scope", ""), jkt)
        except Refused as refused:
            return refused.reply

    def _client(self, form: dict[str, str]) -> ServiceApp:
        if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
            raise _oauth(401, "invalid_client", "Client authentication failed. Either the client "
                         "or the client credentials are invalid.")
        try:
            claims = jwt.decode(form["client_assertion"], options={"verify_signature": False})
        except jwt.PyJWTError:
            raise _oauth(401, "invalid_client", "The client_assertion is not a JWT.") from None
        app = self.apps.get(str(claims.get("iss")))
        if app is None:
            raise _oauth(401, "invalid_client", "Invalid value for 'client_id' parameter.")
        return app

    def _token_proof(self, call: Call, app: ServiceApp, token_url: str) -> str | None:
        proof = call.headers.get("dpop")
        if proof is None:
            if app.require_dpop:
                raise _oauth(400, "invalid_dpop_proof", "The DPoP proof JWT header is missing.")
            return None
        try:
            return self.check_proof(proof, "POST", token_url, nonces=self._nonces)
        except ProofRefused as refused:
            raise _oauth(400, "invalid_dpop_proof", str(refused)) from None
        except NonceNeeded:
            raise _oauth(400, "use_dpop_nonce", "Authorization server requires nonce in DPoP "
                         "proof.", {"DPoP-Nonce": self._nonces[-1]}) from None

    def _check_assertion(self, assertion: str, app: ServiceApp, token_url: str) -> None:
        def refuse(description: str) -> Refused:
            return _oauth(401, "invalid_client", description)
        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise refuse("The client_assertion is not a JWT.") from None
        if header.get("alg") not in ALGORITHMS:
            raise refuse("The client_assertion signature algorithm is not supported.")
        kid = header.get("kid")
        keys = [app.public_keys[kid]] if kid in app.public_keys else \
            [] if kid else list(app.public_keys.values())
        claims = None
        for public_jwk in keys:
            try:
                claims = jwt.decode(assertion, jwt.PyJWK(public_jwk).key, algorithms=[header["alg"]],
                                    options={"verify_aud": False, "verify_exp": False,
                                             "verify_iat": False, "verify_nbf": False})
                break
            except jwt.PyJWTError:
                continue
        if claims is None:
            raise refuse("The client_assertion signature is invalid.")
        now = self.clock()
        if claims.get("iss") != app.client_id or claims.get("sub") != app.client_id:
            raise refuse("The client_assertion 'iss' and 'sub' claims must be the client_id.")
        if claims.get("aud") != token_url:
            raise refuse("The audience claim for client_assertion must be the endpoint invoked "
                         "for the request.")
        if not isinstance(claims.get("exp"), (int, float)) or claims["exp"] <= now:
            raise refuse("The client_assertion token is expired.")
        if claims["exp"] > now + MAX_ASSERTION_SECONDS:
            raise refuse("The client_assertion token has an expiration too far into the future.")
        jti = claims.get("jti")
        if jti is not None:
            if jti in self._assertion_ids:
                raise refuse("The client_assertion token has already been used (jti replay).")
            self._assertion_ids.add(jti)

    def _issue(self, app: ServiceApp, scope: str, jkt: str | None) -> Reply:
        asked = scope.split()
        if not asked:
            raise _oauth(400, "invalid_scope", "The authorization server resource does not have "
                         "any configured default scopes, 'scope' must be provided.")
        granted = [s for s in asked if s in app.scopes]
        if not granted:
            raise _oauth(400, "invalid_scope", "None of the requested scopes is granted to the "
                         "client.")
        value = secrets.token_urlsafe(32)
        self.tokens[value] = AccessToken(value, app.client_id, frozenset(granted),
                                         self.clock() + self.token_lifetime, jkt)
        self.issued += 1
        return Reply.json(200, {"token_type": "DPoP" if jkt else "Bearer",
                                "expires_in": self.token_lifetime, "access_token": value,
                                "scope": " ".join(granted)},
                          {"Cache-Control": "no-cache, no-store", "Pragma": "no-cache"})

    # -- resource calls -------------------------------------------------------------------------
    def bearer(self, call: Call, base_url: str) -> AccessToken | None:
        """The valid token a resource call carries; None when it carries no OAuth token (an
        SSWS token, or nothing); a bad one is refused as Okta refuses it."""
        scheme, _, value = call.headers.get("authorization", "").partition(" ")
        if scheme.lower() not in ("dpop", "bearer"):
            return None
        token = self.tokens.get(value)
        if token is None or token.expires_at <= self.clock():
            raise self._unauthorized(call, base_url, token, "invalid_token",
                                     "The access token is invalid.")
        if (token.jkt is not None) != (scheme.lower() == "dpop"):
            raise self._unauthorized(call, base_url, token, "invalid_token", "The access token "
                                     "must be presented with the DPoP scheme if and only if it "
                                     "is DPoP-bound.")
        if token.jkt is not None:
            self._resource_proof(call, base_url, token)
        return token

    def _resource_proof(self, call: Call, base_url: str, token: AccessToken) -> None:
        nonces = [self._resource_nonce] if self.require_resource_nonce else None
        try:
            thumbprint = self.check_proof(call.headers.get("dpop"), call.method,
                                          base_url + call.path, nonces=nonces,
                                          access_token=token.value)
        except ProofRefused as refused:
            raise self._unauthorized(call, base_url, token, "invalid_dpop_proof", str(refused)) \
                from None
        except NonceNeeded:
            raise self._unauthorized(call, base_url, token, "use_dpop_nonce", "Resource server "
                                     "requires nonce in DPoP proof",
                                     {"DPoP-Nonce": self._resource_nonce}) from None
        if thumbprint != token.jkt:
            raise self._unauthorized(call, base_url, token, "invalid_dpop_proof", "The DPoP "
                                     "proof is not signed by the key the token is bound to.")

    def require_scope(self, call: Call, base_url: str, token: AccessToken, scope: str) -> None:
        if scope not in token.scopes:
            challenge = _challenge(token, base_url, scope, "insufficient_scope", "The access "
                                   "token provided does not contain the required scopes.",
                                   call.path)
            raise Refused(Reply(403, b"", {"WWW-Authenticate": challenge}))

    def _unauthorized(self, call: Call, base_url: str, token: AccessToken | None, error: str,
                      description: str, headers: dict[str, str] | None = None) -> Refused:
        challenge = _challenge(token, base_url, None, error, description, call.path)
        body = {"errorCode": "E0000011", "errorSummary": "Invalid token provided",
                "errorLink": "E0000011", "errorId": "oae" + secrets.token_hex(10),
                "errorCauses": []}
        return Refused(Reply.json(401, body, {"WWW-Authenticate": challenge, **(headers or {})}))

    # -- DPoP proofs (RFC 9449 §4.3) --------------------------------------------------------------
    def check_proof(self, proof: str | None, method: str, uri: str, *,
                    nonces: list[str] | None, access_token: str | None = None) -> str:
        """The thumbprint of the key that signed a valid proof for this request."""
        if not proof:
            raise ProofRefused("The DPoP proof JWT header is missing.")
        try:
            header = jwt.get_unverified_header(proof)
        except jwt.PyJWTError:
            raise ProofRefused("The DPoP proof is not a JWT.") from None
        public_jwk = header.get("jwk")
        if header.get("typ") != "dpop+jwt":
            raise ProofRefused("The DPoP proof 'typ' header must be 'dpop+jwt'.")
        if header.get("alg") not in ALGORITHMS:
            raise ProofRefused("The DPoP proof 'alg' header is not supported.")
        if not isinstance(public_jwk, dict) or any(m in public_jwk for m in PRIVATE_MEMBERS):
            raise ProofRefused("The DPoP proof 'jwk' header must be a public key.")
        try:
            claims = jwt.decode(proof, jwt.PyJWK(public_jwk).key, algorithms=[header["alg"]],
                                options={"verify_aud": False, "verify_iat": False,
                                         "verify_exp": False, "verify_nbf": False})
        except jwt.PyJWTError:
            raise ProofRefused("The DPoP proof signature is invalid.") from None
        self._check_claims(claims, method, uri, nonces, access_token)
        return thumbprint(public_jwk)

    def _check_claims(self, claims: dict, method: str, uri: str, nonces: list[str] | None,
                      access_token: str | None) -> None:
        if claims.get("htm") != method:
            raise ProofRefused(f"The DPoP proof 'htm' claim must be {method}.")
        if claims.get("htu") != uri:
            raise ProofRefused(f"The DPoP proof 'htu' claim must be {uri}.")
        iat = claims.get("iat")
        if not isinstance(iat, (int, float)) or abs(self.clock() - iat) > PROOF_WINDOW:
            raise ProofRefused("The DPoP proof 'iat' claim is too far from now.")
        jti = claims.get("jti")
        if not jti or jti in self._proof_ids:
            raise ProofRefused("The DPoP proof 'jti' claim is missing or was used before.")
        self._proof_ids.add(jti)
        if nonces is not None and claims.get("nonce") not in nonces:
            raise NonceNeeded()
        if access_token is not None and claims.get("ath") != token_hash(access_token):
            raise ProofRefused("The DPoP proof 'ath' claim does not match the access token.")


def thumbprint(public_jwk: dict) -> str:
    """RFC 7638: SHA-256 of the key's required members, sorted, without whitespace."""
    members = THUMBPRINT_MEMBERS.get(public_jwk.get("kty", ""), ())
    canonical = json.dumps({m: public_jwk[m] for m in members if m in public_jwk},
                           sort_keys=True, separators=(",", ":"))
    return _b64(hashlib.sha256(canonical.encode()).digest())


def token_hash(access_token: str) -> str:
    return _b64(hashlib.sha256(access_token.encode("ascii")).digest())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _oauth(status: int, error: str, description: str,
           headers: dict[str, str] | None = None) -> Refused:
    body = {"error": error, "error_description": description}
    return Refused(Reply.json(status, body, {"Cache-Control": "no-cache, no-store", **(headers or {})}))


def _challenge(token: AccessToken | None, base_url: str, scope: str | None, error: str,
               description: str, resource: str) -> str:
    scheme = "DPoP" if token is None or token.jkt else "Bearer"
    algs = f'algs="{" ".join(ALGORITHMS)}", ' if scheme == "DPoP" else ""
    wanted = f'scope="{scope}", ' if scope else ""
    return (f'{scheme} {algs}authorization_uri="{base_url}/oauth2/v1/authorize", '
            f'realm="{base_url}", {wanted}error="{error}", error_description="{description}", '
            f'resource="{resource}"')

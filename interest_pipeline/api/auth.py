"""Who is calling: an opaque bearer token (only its SHA-256 stored) or an HS256 JWT with Hasura claims.

A bank that fronts its services with Hasura keeps its tokens: the role is read where Hasura puts
it (`https://hasura.io/jwt/claims` -> `x-hasura-default-role`). HS256 is checked here with the
standard library (hmac), which is all it needs, rather than adding a JWT dependency.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from interest_pipeline.settings import JWT_SECRET_ENV

HASURA_CLAIMS = "https://hasura.io/jwt/claims"
HASURA_ROLE = "x-hasura-default-role"
ROLES = ("admin", "user")
# A token: a recognisable prefix (secret scanners, logs) and 256 random bits.
TOKEN_PREFIX = "ipk_"


@dataclass(frozen=True)
class Principal:
    """The caller: `name` is what mutations record (token name or JWT subject)."""

    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


class AuthenticationFailed(Exception):
    """No credentials, or credentials that do not hold: the request is answered HTTP 401."""


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64decode(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and not token.startswith(TOKEN_PREFIX)


def verify_jwt(token: str, secret: str, now: float | None = None) -> Principal:
    """The principal of an HS256 JWT signed with `secret`; AuthenticationFailed otherwise."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(_b64decode(header_b64))
        payload = json.loads(_b64decode(payload_b64))
        signature = _b64decode(signature_b64)
    except (ValueError, binascii.Error) as error:
        raise AuthenticationFailed("malformed JWT") from error
    if not isinstance(header, dict) or header.get("alg") != "HS256":
        raise AuthenticationFailed("only HS256 JWTs are accepted")
    expected = hmac.new(secret.encode(), f"{header_b64}.{payload_b64}".encode(), hashlib.sha256).digest()
    if not hmac.compare_digest(signature, expected):
        raise AuthenticationFailed("JWT signature does not verify")
    if not isinstance(payload, dict):
        raise AuthenticationFailed("JWT payload is not an object")
    moment = time.time() if now is None else now
    exp = payload.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or moment >= exp):
        raise AuthenticationFailed("JWT expired")
    nbf = payload.get("nbf")
    if nbf is not None and (not isinstance(nbf, int | float) or moment < nbf):
        raise AuthenticationFailed("JWT not yet valid")
    claims = payload.get(HASURA_CLAIMS)
    role = claims.get(HASURA_ROLE) if isinstance(claims, dict) else None
    if role not in ROLES:
        raise AuthenticationFailed(f"JWT has no {HASURA_CLAIMS} {HASURA_ROLE} of {', '.join(ROLES)}")
    subject = payload.get("sub")
    if not isinstance(subject, str) or not subject:
        raise AuthenticationFailed("JWT has no subject")
    return Principal(name=f"jwt:{subject}", role=str(role))


def sign_jwt(payload: dict[str, Any], secret: str) -> str:
    """An HS256 JWT (used by docs and tests to show what is accepted)."""
    header = _b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64encode(json.dumps(payload).encode())
    signature = hmac.new(secret.encode(), f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{_b64encode(signature)}"


# Looks a token's hash up among the live (not revoked) tokens, marking it used: (name, role) or None.
TokenLookup = Callable[[str], tuple[str, str] | None]


def authenticate(authorization: str | None, lookup: TokenLookup, jwt_secret: str | None) -> Principal:
    """The caller of a request from its Authorization header; AuthenticationFailed for 401.
    `jwt_secret`: the settings' INTEREST_API_JWT_SECRET; None refuses every JWT."""
    if not authorization:
        raise AuthenticationFailed("no Authorization header")
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationFailed("Authorization must be 'Bearer <token>'")
    if looks_like_jwt(token):
        secret = jwt_secret
        if not secret:
            raise AuthenticationFailed(f"JWTs are not accepted: {JWT_SECRET_ENV} is not set")
        return verify_jwt(token, secret)
    found = lookup(token_sha256(token))
    if found is None:
        raise AuthenticationFailed("unknown or revoked token")
    return Principal(name=found[0], role=found[1])

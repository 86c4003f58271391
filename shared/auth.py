"""Verifying Supabase access tokens: HS256 with the project's secret, and the asymmetric
keys (ES256, RS256, EdDSA) Supabase issues, through the project's JWKS.

Verification happens here, before any database call, so expired, forged and
malformed tokens get a 401 without a round trip; PostgREST checks them again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import jwt

from shared.errors import ApiError, unauthorized
from shared.settings import Settings

if TYPE_CHECKING:
    from jwt import PyJWKClient

_ASYMMETRIC = {"ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "EdDSA"}
_jwks_clients: dict[str, PyJWKClient] = {}
_jwks_lock = threading.Lock()


@dataclass(frozen=True)
class Caller:
    user_id: UUID
    token: str
    claims: dict[str, Any]

    @property
    def email(self) -> str | None:
        value = self.claims.get("email")
        return value if isinstance(value, str) else None


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise unauthorized("missing_token", "sign in: the Authorization header is missing")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized("invalid_token", "the Authorization header must be 'Bearer <token>'")
    return token.strip()


def _jwks_client(url: str) -> PyJWKClient:
    with _jwks_lock:
        client = _jwks_clients.get(url)
        if client is None:
            from jwt import PyJWKClient  # noqa: PLC0415  (only asymmetric keys need it)

            client = PyJWKClient(url, cache_keys=True, lifespan=600, timeout=5)
            _jwks_clients[url] = client
        return client


def verify(token: str, settings: Settings) -> Caller:
    """The caller named by a valid user access token, or a 401."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise unauthorized("invalid_token", "the access token is malformed") from None
    alg = header.get("alg")
    key: Any
    if alg == "HS256" and settings.supabase_jwt_secret:
        key = settings.supabase_jwt_secret
    elif alg in _ASYMMETRIC:
        try:
            key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key
        except jwt.PyJWKClientConnectionError:
            raise ApiError(
                503,
                "service_unavailable",
                "the signing keys could not be fetched; retry shortly",
                headers={"Retry-After": "1"},
            ) from None
        except jwt.PyJWTError:
            raise unauthorized("invalid_token", "the access token's key is unknown") from None
    else:
        raise unauthorized("invalid_token", "the access token's algorithm is not accepted")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[str(alg)],
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub"]},
            leeway=5,
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("token_expired", "the session has expired; sign in again") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized("invalid_token", "the access token is not valid yet") from None
    except jwt.PyJWTError:
        raise unauthorized("invalid_token", "the access token was refused") from None
    if claims.get("role") != "authenticated":
        raise unauthorized("invalid_token", "a signed-in user's access token is required")
    try:
        user_id = UUID(str(claims["sub"]))
    except ValueError:
        raise unauthorized("invalid_token", "the access token names no user") from None
    return Caller(user_id=user_id, token=token, claims=claims)

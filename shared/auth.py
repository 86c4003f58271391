"""Verifying Supabase access tokens: HS256 with the project's secret, and the asymmetric
keys (ES256, RS256, EdDSA) Supabase issues, through the project's JWKS.

Verification happens here, before any database call, so expired, forged and
malformed tokens get a 401 without a round trip; PostgREST checks them again.

HS256 is checked with the standard library (``hmac``): PyJWT imports ``cryptography``
when it is imported, which cost every function ~45 ms of its cold start (about 15 % of
the framework's own import; bench/RESULTS.md) for keys most projects never use. PyJWT is
imported only when a token signed with an asymmetric key arrives.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

from shared.errors import ApiError, unauthorized
from shared.settings import Settings

if TYPE_CHECKING:
    from jwt import PyJWKClient

_ASYMMETRIC = {"ES256", "ES384", "RS256", "RS384", "RS512", "PS256", "EdDSA"}
_jwks_clients: dict[str, PyJWKClient] = {}
_jwks_lock = threading.Lock()
# A JWKS with no signing keys (a project on the HS256 secret alone) is remembered for a
# while, and so is an unreachable one: otherwise every forged ES256/RS256 token, signed
# in by nobody, made this function fetch the JWKS again (one request to Auth per
# anonymous request; PyJWT's refetch cooldown only applies once a key set was cached).
JWKS_EMPTY_SECONDS = 60.0
JWKS_DOWN_SECONDS = 2.0
_jwks_not_before: dict[str, tuple[float, str]] = {}  # url -> (monotonic until, "empty"|"down")
LEEWAY_SECONDS = 5
_MAX_TOKEN_BYTES = 16_384


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


def _jwks_client(url: str, api_key: str) -> PyJWKClient:
    with _jwks_lock:
        client = _jwks_clients.get(url)
        if client is None:
            from jwt import PyJWKClient  # noqa: PLC0415  (only asymmetric keys need it)

            # The apikey header, as for every other call through Supabase's gateway
            # (the local one refuses a request without it: the fetch failed, and every
            # asymmetric token, forged or not, was a 503).
            client = PyJWKClient(
                url, cache_keys=True, lifespan=600, timeout=5, headers={"apikey": api_key}
            )
            _jwks_clients[url] = client
        return client


def _jwks_unavailable() -> ApiError:
    return ApiError(
        503,
        "service_unavailable",
        "the signing keys could not be fetched; retry shortly",
        headers={"Retry-After": "1"},
    )


def _remember(url: str, state: str, seconds: float) -> None:
    with _jwks_lock:
        _jwks_not_before[url] = (time.monotonic() + seconds, state)


def _remembered(url: str) -> str | None:
    with _jwks_lock:
        until, state = _jwks_not_before.get(url, (0.0, ""))
    return state if time.monotonic() < until else None


def _b64decode(part: str) -> bytes:
    if not part or len(part) % 4 == 1 or not part.isascii():
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _split(token: str) -> tuple[dict[str, Any], str, str, str]:
    """The header, and the three parts, of a compact JWS; ValueError when malformed."""
    if len(token) > _MAX_TOKEN_BYTES:
        raise ValueError("too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not three parts")
    try:
        header = json.loads(_b64decode(parts[0]))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError("bad header") from exc
    if not isinstance(header, dict):
        raise ValueError("bad header")
    return header, parts[0], parts[1], parts[2]


def _verify_hs256(token: str, secret: str) -> dict[str, Any]:
    """The claims of an HS256 token whose signature is the secret's, or a 401."""
    _, head, body, signature = _split(token)
    expected = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    try:
        given = _b64decode(signature)
    except (ValueError, binascii.Error):
        raise unauthorized("invalid_token", "the access token was refused") from None
    if not hmac.compare_digest(expected, given):
        raise unauthorized("invalid_token", "the access token was refused")
    try:
        claims = json.loads(_b64decode(body))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise unauthorized("invalid_token", "the access token is malformed") from None
    if not isinstance(claims, dict):
        raise unauthorized("invalid_token", "the access token is malformed")
    return claims


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise unauthorized("invalid_token", f"the access token's {name} is not a number")
    return float(value)


def _check_claims(claims: dict[str, Any], audience: str) -> None:
    """exp (required), nbf and aud, as PyJWT checks them, with the same leeway."""
    now = time.time()
    expires = _number(claims, "exp")
    if expires is None or "sub" not in claims:
        raise unauthorized("invalid_token", "the access token was refused")
    if expires <= now - LEEWAY_SECONDS:
        raise unauthorized("token_expired", "the session has expired; sign in again")
    not_before = _number(claims, "nbf")
    if not_before is not None and not_before > now + LEEWAY_SECONDS:
        raise unauthorized("invalid_token", "the access token is not valid yet")
    _number(claims, "iat")
    aud = claims.get("aud")
    audiences = aud if isinstance(aud, list) else [aud]
    if audience not in audiences:
        raise unauthorized("invalid_token", "the access token was refused")


def _cached_key(client: PyJWKClient, token: str) -> Any:
    """The key the token names among those already fetched, or a 503: the JWKS was
    unreachable a moment ago and is not asked again yet."""
    kid = _split(token)[0].get("kid")
    cached = client.jwk_set_cache.get() if client.jwk_set_cache is not None else None
    for jwk in cached.keys if cached is not None else []:
        if jwk.key_id == kid:
            return jwk.key
    raise _jwks_unavailable()


def _verify_asymmetric(token: str, alg: str, settings: Settings) -> dict[str, Any]:
    import jwt  # noqa: PLC0415  (imports cryptography: only for asymmetric keys)

    url = settings.jwks_url
    remembered = _remembered(url)
    if remembered == "empty":
        raise unauthorized("invalid_token", "the access token's key is unknown")
    client = _jwks_client(url, settings.supabase_anon_key)
    try:
        if remembered == "down":
            # Keys fetched before still verify; only a fetch is not tried again yet.
            key = _cached_key(client, token)
        else:
            key = client.get_signing_key_from_jwt(token).key
    except jwt.PyJWKClientConnectionError:
        _remember(url, "down", JWKS_DOWN_SECONDS)
        raise _jwks_unavailable() from None
    except jwt.PyJWTError as exc:
        if isinstance(exc, jwt.PyJWKSetError) or "did not contain any" in str(exc):
            _remember(url, "empty", JWKS_EMPTY_SECONDS)
        raise unauthorized("invalid_token", "the access token's key is unknown") from None
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=[alg],
            audience=settings.jwt_audience,
            options={"require": ["exp", "sub"]},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.ExpiredSignatureError:
        raise unauthorized("token_expired", "the session has expired; sign in again") from None
    except jwt.ImmatureSignatureError:
        raise unauthorized("invalid_token", "the access token is not valid yet") from None
    except jwt.PyJWTError:
        raise unauthorized("invalid_token", "the access token was refused") from None
    return claims


def verify(token: str, settings: Settings) -> Caller:
    """The caller named by a valid user access token, or a 401."""
    try:
        header = _split(token)[0]
    except ValueError:
        raise unauthorized("invalid_token", "the access token is malformed") from None
    alg = header.get("alg")
    if alg == "HS256" and settings.supabase_jwt_secret:
        claims = _verify_hs256(token, settings.supabase_jwt_secret)
        _check_claims(claims, settings.jwt_audience)
    elif isinstance(alg, str) and alg in _ASYMMETRIC:
        claims = _verify_asymmetric(token, alg, settings)
    else:
        raise unauthorized("invalid_token", "the access token's algorithm is not accepted")
    if claims.get("role") != "authenticated":
        raise unauthorized("invalid_token", "a signed-in user's access token is required")
    try:
        user_id = UUID(str(claims["sub"]))
    except ValueError:
        raise unauthorized("invalid_token", "the access token names no user") from None
    return Caller(user_id=user_id, token=token, claims=claims)

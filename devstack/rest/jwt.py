"""Bearer-token verification as PostgREST does it.

No ``Authorization`` header → the anonymous role. Otherwise the token must be a JWS
signed with the HS256 secret or with one of the JWKS keys (``kid`` matched when the
token names one); ``exp``/``nbf``/``iat`` are checked with 30 seconds of skew and must
be numbers; ``aud`` is not checked (Supabase configures no audience). The role comes
from the ``role`` claim, else ``anon``; the claims passed to the database always carry
that role.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from devstack.config import StackConfig
from devstack.rest.errors import jwt_claims_error, jwt_decode_error

ANON_ROLE = "anon"
ALLOWED_SKEW = 30
_HMAC = {"HS256", "HS384", "HS512"}
_ASYMMETRIC = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
_ASYMMETRIC |= {"EdDSA"}


@dataclass(frozen=True)
class Identity:
    role: str
    claims: dict[str, Any]
    claims_json: str

    @property
    def anonymous(self) -> bool:
        return self.role == ANON_ROLE


ANONYMOUS = Identity(ANON_ROLE, {"role": ANON_ROLE}, json.dumps({"role": ANON_ROLE}))


class Authenticator:
    def __init__(self, config: StackConfig) -> None:
        self.secret = config.keys.jwt_secret.encode()
        self.jwks: list[jwt.PyJWK] = []
        if config.jwks:
            for key in config.jwks.get("keys", []):
                try:
                    self.jwks.append(jwt.PyJWK.from_dict(key))
                except jwt.PyJWTError:  # an unusable key (unknown kty, bad params): skip it
                    continue
        self._algorithms = get_default_algorithms()
        # Verified tokens are cheap to re-check but not free to verify: cache the claims
        # (never the time checks, which run on every request).
        self._cache: dict[str, dict[str, Any]] = {}

    def authenticate(self, authorization: str | None) -> Identity:
        if authorization is None:
            return ANONYMOUS
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer":
            return ANONYMOUS
        token = token.strip()
        if not token:
            raise jwt_decode_error("Empty JWT is sent in Authorization header")
        claims = self._cache.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = claims
        _check_times(claims)
        role = claims.get("role")
        if role is None:
            role_text = ANON_ROLE
        elif isinstance(role, str):
            role_text = role
        else:
            role_text = json.dumps(role)
        with_role = {**claims, "role": role_text}
        return Identity(role_text, with_role, json.dumps(with_role))

    def _verify(self, token: str) -> dict[str, Any]:  # noqa: PLR0912 - one branch per case PostgREST distinguishes
        parts = token.split(".")
        if len(parts) != 3:
            raise jwt_decode_error(f"Expected 3 parts in JWT; got {len(parts)}")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise jwt_decode_error("JWT cryptographic operation failed") from None
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in self._algorithms or alg == "none":
            raise jwt_decode_error("Wrong or unsupported encoding algorithm")
        keys: list[Any]
        if alg in _HMAC:
            keys = [self.secret]
            keys += [k for k in self.jwks if k.key_type == "oct" and _kid_ok(k, header)]
        elif alg in _ASYMMETRIC:
            keys = [k for k in self.jwks if k.key_type != "oct" and _kid_ok(k, header)]
            if not keys:
                raise jwt_decode_error("No suitable key or wrong key type")
        else:
            raise jwt_decode_error("Wrong or unsupported encoding algorithm")
        for key in keys:
            try:
                payload = jwt.api_jws.decode_complete(
                    token, key=key, algorithms=[alg], options={"verify_signature": True}
                )["payload"]
            except jwt.InvalidSignatureError:
                continue
            except jwt.InvalidKeyError:
                continue
            except jwt.PyJWTError:
                raise jwt_decode_error("JWT cryptographic operation failed") from None
            try:
                claims = json.loads(payload)
            except ValueError:
                raise jwt_claims_error("Parsing claims failed") from None
            if not isinstance(claims, dict):
                raise jwt_claims_error("Parsing claims failed")
            return claims
        raise jwt_decode_error("JWT cryptographic operation failed")


def _kid_ok(key: jwt.PyJWK, header: dict[str, Any]) -> bool:
    kid = header.get("kid")
    return kid is None or key.key_id is None or key.key_id == kid


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_times(claims: dict[str, Any]) -> None:
    now = int(time.time())
    if "exp" in claims:
        if not _is_number(claims["exp"]):
            raise jwt_claims_error("The JWT 'exp' claim must be a number")
        if now > int(claims["exp"]) + ALLOWED_SKEW:
            raise jwt_claims_error("JWT expired")
    if "nbf" in claims:
        if not _is_number(claims["nbf"]):
            raise jwt_claims_error("The JWT 'nbf' claim must be a number")
        if now < int(claims["nbf"]) - ALLOWED_SKEW:
            raise jwt_claims_error("JWT not yet valid")
    if "iat" in claims:
        if not _is_number(claims["iat"]):
            raise jwt_claims_error("The JWT 'iat' claim must be a number")
        if now < int(claims["iat"]) - ALLOWED_SKEW:
            raise jwt_claims_error("JWT issued at future")

"""Access tokens (JWTs), refresh tokens and TOTP codes, as GoTrue makes them.

* Access tokens: GoTrue's ``AccessTokenClaims`` (internal/tokens/service.go), signed
  HS256 with the JWT secret, or with the configured private JWK (ES256/RS256, ``kid`` in
  the header) when there is one. ``aud`` is a plain string.
* Refresh tokens: GoTrue's legacy tokens, 12 characters of lower-case base32
  (``crypto.SecureAlphanumeric(12)``), stored in ``auth.refresh_tokens``.
* TOTP: RFC 6238 with SHA-1, 6 digits, a 30 s step and a skew of one step either way
  (GoTrue's ``totp.ValidateCustom`` options).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import jwt

from devstack.config import StackConfig


class TokenError(Exception):
    """The bearer token could not be parsed or verified."""


def _alg_for(jwk: dict[str, Any]) -> str:
    alg = jwk.get("alg")
    if isinstance(alg, str) and alg:
        return alg
    return "ES256" if jwk.get("kty") == "EC" else "RS256"


class Signer:
    """Signs access tokens and verifies bearer tokens with the stack's keys."""

    def __init__(self, config: StackConfig) -> None:
        self.secret = config.keys.jwt_secret
        self.signing_jwk = config.signing_jwk
        self._signing_key: Any = None
        self._signing_alg = "HS256"
        self._kid: str | None = None
        # kid -> (key, alg) of every public key a token may be verified with.
        self._public: dict[str, tuple[Any, str]] = {}
        if config.signing_jwk is not None:
            self._signing_alg = _alg_for(config.signing_jwk)
            self._signing_key = jwt.PyJWK(config.signing_jwk, algorithm=self._signing_alg).key
            kid = config.signing_jwk.get("kid")
            self._kid = kid if isinstance(kid, str) else None
            if self._kid:
                self._public[self._kid] = (self._signing_key.public_key(), self._signing_alg)
        for key in (config.jwks or {}).get("keys", []):
            kid = key.get("kid")
            if isinstance(kid, str) and kid not in self._public:
                alg = _alg_for(key)
                self._public[kid] = (jwt.PyJWK(key, algorithm=alg).key, alg)

    def public_jwks(self) -> dict[str, Any]:
        """What ``/.well-known/jwks.json`` serves: the public half of the signing key
        (none for HS256, as GoTrue)."""
        keys: list[dict[str, Any]] = []
        if self.signing_jwk is not None:
            public = {
                k: v
                for k, v in self.signing_jwk.items()
                if k not in {"d", "p", "q", "dp", "dq", "qi"}
            }
            public.setdefault("alg", self._signing_alg)
            keys.append(public)
        return {"keys": keys}

    def sign(self, claims: dict[str, Any]) -> str:
        if self._signing_key is None:
            return jwt.encode(claims, self.secret, algorithm="HS256")
        headers = {"kid": self._kid} if self._kid else None
        return jwt.encode(claims, self._signing_key, algorithm=self._signing_alg, headers=headers)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; TokenError otherwise. Like GoTrue's parser:
        a ``kid`` picks a known public key, else HS256 falls back to the secret;
        ``exp``/``nbf`` are checked, ``aud`` and ``iat`` are not."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenError(f"token is malformed: {exc}") from exc
        kid = header.get("kid")
        alg = header.get("alg")
        key: Any
        if isinstance(kid, str) and kid in self._public:
            key, expected = self._public[kid]
            algorithms = [expected]
        elif alg == "HS256":
            key, algorithms = self.secret, ["HS256"]
        else:
            raise TokenError(f"unrecognized JWT kid {kid} for algorithm {alg}")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                options={"verify_aud": False, "verify_iat": False, "verify_iss": False},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenError("token has invalid claims: token is expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenError(str(exc)) from exc
        return claims


def new_refresh_token() -> str:
    """12 characters of lower-case, unpadded base32, like ``SecureAlphanumeric(12)``."""
    raw = secrets.token_bytes(8)
    return base64.b32encode(raw).decode().rstrip("=").lower()[:12]


# -----------------------------------------------------------------------------
# TOTP (RFC 6238 over RFC 4226)
# -----------------------------------------------------------------------------

TOTP_PERIOD = 30
TOTP_DIGITS = 6
TOTP_SKEW = 1


def new_totp_secret() -> str:
    """A 20-byte secret in unpadded base32 (32 characters), pquerna/otp's default."""
    return base64.b32encode(secrets.token_bytes(20)).decode().rstrip("=")


def _secret_bytes(secret: str) -> bytes:
    cleaned = secret.strip().replace(" ", "").upper()
    return base64.b32decode(cleaned + "=" * (-len(cleaned) % 8))


def hotp(secret: str, counter: int, digits: int = TOTP_DIGITS) -> str:
    digest = hmac.new(_secret_bytes(secret), struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    value = struct.unpack(">I", digest[offset : offset + 4])[0] & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def totp(secret: str, at: float | None = None) -> str:
    """The code for ``at`` (now when omitted)."""
    moment = time.time() if at is None else at
    return hotp(secret, int(moment // TOTP_PERIOD))


def verify_totp(secret: str, code: str, at: float | None = None) -> bool:
    """True when ``code`` matches the current step or one step either side."""
    if len(code) != TOTP_DIGITS or not code.isdigit():
        return False
    moment = time.time() if at is None else at
    counter = int(moment // TOTP_PERIOD)
    return any(
        hmac.compare_digest(hotp(secret, counter + delta), code)
        for delta in range(-TOTP_SKEW, TOTP_SKEW + 1)
    )


def totp_uri(secret: str, issuer: str, account: str) -> str:
    """The ``otpauth://`` URI pquerna/otp builds (``key.URL()``)."""
    label = quote(f"{issuer}:{account}", safe=":@")
    query = urlencode(
        {
            "algorithm": "SHA1",
            "digits": str(TOTP_DIGITS),
            "issuer": issuer,
            "period": str(TOTP_PERIOD),
            "secret": secret,
        }
    )
    return f"otpauth://totp/{label}?{query}"


# -----------------------------------------------------------------------------
# Times as Go's encoding/json writes time.Time (RFC 3339, trimmed nanoseconds)
# -----------------------------------------------------------------------------


def go_time(value: datetime | None) -> str | None:
    if value is None:
        return None
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += "." + f"{value.microsecond:06d}".rstrip("0")
    return text + "Z"

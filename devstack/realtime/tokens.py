"""A channel's token checked as Realtime checks it (RealtimeWeb.ChannelsAuthorization and
JwtVerification): the same errors, in the same words."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from jwt.algorithms import get_default_algorithms

from devstack.config import StackConfig

HMAC = {"HS256", "HS384", "HS512"}


class TokenError(Exception):
    """``code`` and ``message`` as the channel's join error names them."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    @property
    def reason(self) -> str:
        return f"{self.code}: {self.message}"


class Verifier:
    def __init__(self, config: StackConfig) -> None:
        self.secret = config.keys.jwt_secret.encode()
        self.jwks = (config.jwks or {}).get("keys", [])
        self.algorithms = get_default_algorithms()

    def claims(self, token: str) -> dict[str, Any]:
        """The verified claims, ``role`` and ``exp`` required, ``exp`` in the future."""
        token = "".join(token.split())
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise TokenError("MalformedJWT", "The token provided is not a valid JWT") from None
        if not isinstance(unverified, dict):
            raise TokenError("MalformedJWT", "The token provided is not a valid JWT")
        alg = header.get("alg")
        key = self._key(header)
        if alg not in self.algorithms or key is None:
            raise TokenError(
                "JwtSignerError",
                "Failed to generate JWT signer, check your JWT secret or JWKS configuration",
            )
        try:
            payload = jwt.api_jws.decode_complete(token, key=key, algorithms=[alg])["payload"]
        except jwt.PyJWTError:
            raise TokenError("JwtSignatureError", "Failed to validate JWT signature") from None
        claims: dict[str, Any] = json.loads(payload)
        now = int(time.time())
        exp = claims.get("exp")
        if isinstance(exp, (int, float)) and exp <= now:
            raise TokenError("InvalidJWTToken", f"Token has expired {now - int(exp)} seconds ago")
        if "role" not in claims or "exp" not in claims:
            raise TokenError("InvalidJWTToken", "Fields `role` and `exp` are required in JWT")
        if not isinstance(exp, (int, float)):
            raise TokenError("InvalidJWTToken", "Token expiration time is invalid")
        return claims

    def _key(self, header: dict[str, Any]) -> Any:
        alg, kid = header.get("alg"), header.get("kid")
        if alg in HMAC:
            for jwk in self.jwks:
                if jwk.get("kty") == "oct" and jwk.get("kid") == kid and kid is not None:
                    return jwt.PyJWK.from_dict(jwk).key
            return self.secret
        for jwk in self.jwks:
            if jwk.get("kid") == kid and jwk.get("kty") != "oct":
                try:
                    return jwt.PyJWK.from_dict(jwk).key
                except jwt.PyJWTError:
                    return None
        return None

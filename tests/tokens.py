"""Access tokens the API must refuse, built from a user's id and the project's keys:
used by the whole-stack matrix (reliability/test_security.py) and the default suite's
tests/api/test_forged_asymmetric_tokens.py (tests/api/test_security.py still builds its
own ten kinds). Each is the ``Authorization`` header a client would send (None: no
header) with the error code the API answers (always a 401).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class Refused:
    header: str | None  # the Authorization header, None for none
    code: str  # the 401's error code


def _part(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def user_claims(user_id: str, **changes: Any) -> dict[str, Any]:
    """What Supabase Auth puts in a user's access token (for an hour from now)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": user_id,
        "role": "authenticated",
        "aud": "authenticated",
        "iat": now,
        "exp": now + 3600,
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def hs256(claims: dict[str, Any], secret: str, **headers: Any) -> str:
    return jwt.encode(claims, secret, algorithm="HS256", headers=headers or None)


def _signed(claims: dict[str, Any], secret: str, alg: str) -> str:
    """An HMAC token by hand (PyJWT warns about a short key for HS384/HS512)."""
    digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
    signing_input = _part({"alg": alg, "typ": "JWT"}) + "." + _part(claims)
    mac = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def unsigned(claims: dict[str, Any], alg: str = "none", signature: str = "") -> str:
    """An ``alg: none`` token (or any header alg, with the signature given)."""
    return _part({"alg": alg, "typ": "JWT"}) + "." + _part(claims) + "." + signature


def refused_tokens(
    user_id: str, secret: str, anon_key: str, service_role_key: str
) -> dict[str, Refused]:
    """Every kind of token the API must refuse, by name.

    ``service_role_key`` and ``user_as_service_role`` are signed with the project's real
    secret: whoever holds the secret (or the service-role key) is the platform, yet the
    HTTP routes act only for a signed-in user (RLS decides as that user), so a
    service-role token is refused there as any other non-user token."""
    now = int(time.time())
    bearer = "Bearer "
    forged_key = ec.generate_private_key(ec.SECP256R1())
    tokens = {
        "anonymous": Refused(None, "missing_token"),
        "empty_bearer": Refused("Bearer", "invalid_token"),
        "basic_scheme": Refused("Basic dXNlcjpwYXNz", "invalid_token"),
        "expired": Refused(
            bearer + hs256(user_claims(user_id, exp=now - 60, iat=now - 3660), secret),
            "token_expired",
        ),
        "future_nbf": Refused(
            bearer + hs256(user_claims(user_id, nbf=now + 600), secret), "invalid_token"
        ),
        "missing_sub": Refused(
            bearer + hs256(user_claims(user_id, sub=None), secret), "invalid_token"
        ),
        "sub_not_a_uuid": Refused(
            bearer + hs256(user_claims(user_id, sub="admin"), secret), "invalid_token"
        ),
        "missing_exp": Refused(
            bearer + hs256(user_claims(user_id, exp=None), secret), "invalid_token"
        ),
        "alg_none": Refused(bearer + unsigned(user_claims(user_id)), "invalid_token"),
        "alg_none_capitalised": Refused(
            bearer + unsigned(user_claims(user_id), alg="None"), "invalid_token"
        ),
        "alg_hs512_right_key": Refused(
            bearer + _signed(user_claims(user_id), secret, "HS512"), "invalid_token"
        ),
        "wrong_key": Refused(bearer + hs256(user_claims(user_id), "x" * 40), "invalid_token"),
        "service_role_wrong_key": Refused(
            bearer + hs256(user_claims(user_id, role="service_role"), "y" * 40),
            "invalid_token",
        ),
        "service_role_key": Refused(bearer + service_role_key, "invalid_token"),
        "user_as_service_role": Refused(
            bearer + hs256(user_claims(user_id, role="service_role"), secret), "invalid_token"
        ),
        "anon_key": Refused(bearer + anon_key, "invalid_token"),
        "wrong_audience": Refused(
            bearer + hs256(user_claims(user_id, aud="somebody-else"), secret), "invalid_token"
        ),
        "forged_es256": Refused(
            bearer
            + jwt.encode(
                user_claims(user_id), forged_key, algorithm="ES256", headers={"kid": "forged"}
            ),
            "invalid_token",
        ),
        "garbage": Refused(bearer + "not-a-jwt", "invalid_token"),
        "three_bad_parts": Refused(bearer + "a.b.c", "invalid_token"),
        "header_not_an_object": Refused(
            bearer + _part([1, 2]) + "." + _part(user_claims(user_id)) + ".x", "invalid_token"
        ),
        "oversized": Refused(bearer + "a" * 20_000 + ".b.c", "invalid_token"),
    }
    return tokens

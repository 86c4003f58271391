"""The local stack's JWT secret and the API keys derived from it.

Like the Supabase CLI, the local stack uses one fixed, public HS256 secret, and the
``anon`` and ``service_role`` API keys are long-lived JWTs signed with it. Never use
these outside local development.
"""

from __future__ import annotations

from dataclasses import dataclass

import jwt

# 40 characters, as Supabase requires (>= 32); public on purpose: local only.
LOCAL_JWT_SECRET = "invoiceflow-local-jwt-secret-0123456789ab"  # noqa: S105
LOCAL_ISSUER = "supabase-demo"
# Far in the future, fixed, so the keys are the same on every machine and every start.
_KEY_IAT = 1_700_000_000
_KEY_EXP = 2_000_000_000


def api_key(role: str, secret: str = LOCAL_JWT_SECRET) -> str:
    """A Supabase-style API key: an HS256 JWT whose only authority is its role."""
    claims = {"iss": LOCAL_ISSUER, "role": role, "iat": _KEY_IAT, "exp": _KEY_EXP}
    return jwt.encode(claims, secret, algorithm="HS256")


@dataclass(frozen=True)
class Keys:
    jwt_secret: str
    anon_key: str
    service_role_key: str

    @classmethod
    def local(cls, secret: str = LOCAL_JWT_SECRET) -> Keys:
        return cls(
            jwt_secret=secret,
            anon_key=api_key("anon", secret),
            service_role_key=api_key("service_role", secret),
        )

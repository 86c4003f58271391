"""What the local Supabase-compatible servers need to know, in one object."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from devstack.keys import Keys


@dataclass(frozen=True)
class StackConfig:
    database_url: str  # a superuser URL of the local PostgreSQL
    public_url: str  # where clients reach the gateway, e.g. http://127.0.0.1:54321
    keys: Keys = field(default_factory=Keys.local)
    # Public keys (a JWKS document) accepted besides the HS256 secret, as Supabase's
    # asymmetric signing keys: {"keys": [{"kty": "EC", "kid": ..., ...}]}.
    jwks: dict[str, Any] | None = None
    # The private JWK Auth signs with when set (else HS256 with keys.jwt_secret).
    signing_jwk: dict[str, Any] | None = None
    db_max_rows: int = 1000
    jwt_expiry: int = 3600
    minimum_password_length: int = 6
    refresh_token_reuse_interval: int = 10
    db_pool_size: int = 10

    @property
    def authenticator_url(self) -> str:
        """The same server, logged in as `authenticator` (what PostgREST uses)."""
        parts = urlsplit(self.database_url)
        host = parts.hostname or "127.0.0.1"
        netloc = f"authenticator:postgres@{host}:{parts.port or 5432}"
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))

    @property
    def auth_issuer(self) -> str:
        return self.public_url.rstrip("/") + "/auth/v1"

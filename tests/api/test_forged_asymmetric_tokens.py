"""Forged ES256/RS256 tokens against the real local stack: refused as any forged token
(401 invalid_token), not a 503. The functions fetch the project's JWKS through the
gateway, which wants the apikey header (as Supabase's does); without it every asymmetric
token, signed by anyone, was "the signing keys could not be fetched" (found by
reliability/test_security.py). tests/unit/test_auth_jwks.py checks the fetch itself."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.api.conftest import Api, World
from tests.tokens import refused_tokens, user_claims


@pytest.mark.parametrize("alg", ["ES256", "RS256"])
def test_a_forged_asymmetric_token_is_401(any_api: Api, world: World, alg: str) -> None:
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if alg == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    token = jwt.encode(
        user_claims(world.people["alice"].id), key, algorithm=alg, headers={"kid": "forged"}
    )
    for _ in range(3):  # the first fetches the (empty) key set, the others do not
        reply = any_api.get("/api/clients", token=token)
        assert reply.status == 401, reply.json()
        assert reply.error["code"] == "invalid_token"


def test_the_shared_refused_tokens_are_401_in_process(api: Api, world: World) -> None:
    """tests/tokens.py's kinds (but the logged-out session, which needs a real one)."""
    keys = world.stack.config.keys
    tokens = refused_tokens(
        world.people["alice"].id, keys.jwt_secret, keys.anon_key, keys.service_role_key
    )
    for kind, refused in tokens.items():
        headers = {"authorization": refused.header} if refused.header is not None else {}
        reply = api.get("/api/clients", headers=headers)
        assert reply.status == 401, (kind, reply.json())
        assert reply.error["code"] == refused.code, kind

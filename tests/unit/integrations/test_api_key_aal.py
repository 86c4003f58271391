"""The token minted for an API key says its assurance level and its method (migration
20261206160100: aal2 only for a key its creator made at aal2)."""

from __future__ import annotations

import uuid

import jwt

from shared import api_keys
from tests.unit.integrations.test_webhooks_and_keys import settings


def test_the_minted_token_carries_the_keys_aal_and_method() -> None:
    account = uuid.uuid4()
    config = settings()
    for aal in ("aal1", "aal2"):
        token, claims = api_keys.mint_token(account, account, config, now=1_800_000_000, aal=aal)
        decoded = jwt.decode(
            token,
            "x" * 40,
            algorithms=["HS256"],
            audience="authenticated",
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
        assert decoded == claims
        assert decoded["aal"] == aal
        assert decoded["amr"] == [{"method": "api_key", "timestamp": 1_800_000_000}]
    # By default a key's token is aal1: an organization requiring MFA refuses it.
    assert api_keys.mint_token(account, account, config)[1]["aal"] == "aal1"

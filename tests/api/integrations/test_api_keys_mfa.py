"""API keys in an organization that requires MFA (migration 20261206160100,
docs/integrations.md): a key made by an admin at aal2 counts as satisfying the
requirement (its minted token carries aal2 and amr api_key); a key made below aal2 keeps
aal1 and is refused with 403 mfa_required once the organization requires MFA; an admin
below aal2 cannot make a key there; the key's creator level cannot be forged."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from tests.api.auth.test_mfa import enroll_and_verify, signed_up
from tests.api.conftest import Api, World
from tests.api.integrations.conftest import unique

pytestmark = pytest.mark.usefixtures("aws")


def _key(api: Api, token: str, org: str, scopes: list[str]) -> Any:
    return api.post(
        "/api/api-keys",
        token=token,
        org=org,
        json_body={"name": unique("MFA key"), "scopes": scopes},
    )


def forged_level(world: World, org: str) -> bool:
    """created_at_aal2 of a key row inserted with true from an aal1 session (rolled back)."""
    account = str(uuid.uuid4())
    with psycopg.connect(world.database.url) as conn:
        conn.execute(
            "select set_config('request.jwt.claims', %s, true)",
            (json.dumps({"sub": account, "role": "authenticated", "aal": "aal1"}),),
        )
        conn.execute(
            "insert into auth.users (id, aud, role, raw_app_meta_data)"
            " values (%s, 'authenticated', 'authenticated', '{\"invoiceflow_api_key\": true}')",
            (account,),
        )
        row = conn.execute(
            "insert into public.api_keys (id, organization_id, name, prefix, key_hash, scopes,"
            " role, created_at_aal2) values (%s, %s, 'forged', 'ifk_', repeat('a', 64),"
            " '{read}', 'viewer', true) returning created_at_aal2",
            (account, org),
        ).fetchone()
        conn.rollback()
    assert row is not None
    return bool(row[0])


def test_keys_in_an_organization_that_requires_mfa(api: Api, world: World) -> None:
    owner = signed_up(api)
    org = owner["organization"]["id"]
    aal1 = owner["session"]["access_token"]
    _, _, aal2 = enroll_and_verify(api, aal1)
    client = api.post(
        "/api/clients",
        token=aal1,
        org=org,
        json_body={"company_name": "Keyed Ltd", "email": "k@example.com"},
    )
    assert client.status == 201, client.json()

    # Made before the requirement: one by the owner at aal1, one at aal2.
    early_aal1 = _key(api, aal1, org, ["read"])
    early_aal2 = _key(api, aal2, org, ["write"])
    assert early_aal1.status == 201, early_aal1.json()
    assert early_aal2.status == 201, early_aal2.json()
    stored = dict(
        world.sql(
            "select id::text, created_at_aal2 from public.api_keys where organization_id = %s", org
        )
    )
    assert stored == {early_aal1.json()["id"]: False, early_aal2.json()["id"]: True}

    # Without the requirement both work.
    for made in (early_aal1, early_aal2):
        assert api.get("/api/clients", token=made.json()["key"]).status == 200

    on = api.put("/api/settings/business", token=aal2, org=org, json_body={"require_mfa": True})
    assert on.status == 200, on.json()
    try:
        # The key made below aal2 is refused as a person at aal1 is.
        refused = api.get("/api/clients", token=early_aal1.json()["key"])
        assert refused.status == 403, refused.json()
        assert refused.json()["error"]["code"] == "mfa_required"
        # The key made at aal2 reads and writes under RLS.
        key = early_aal2.json()["key"]
        listed = api.get("/api/clients", token=key)
        assert listed.status == 200, listed.json()
        assert [c["company_name"] for c in listed.json()["data"]] == ["Keyed Ltd"]
        written = api.post(
            "/api/clients",
            token=key,
            json_body={"company_name": "Written by key", "email": "w@example.com"},
        )
        assert written.status == 201, written.json()

        # An admin below aal2 cannot make a key here; at aal2 they can, and it works.
        below = _key(api, aal1, org, ["read"])
        assert below.status == 403, below.json()
        assert below.json()["error"]["code"] == "mfa_required"
        made = _key(api, aal2, org, ["read"])
        assert made.status == 201, made.json()
        assert api.get("/api/clients", token=made.json()["key"]).status == 200

        # The level is the creator's session's, whatever the insert says; nobody else
        # may write it.
        assert forged_level(world, org) is False
        assert world.sql(
            "select has_column_privilege('authenticated', 'public.api_keys',"
            " 'created_at_aal2', 'INSERT'), has_column_privilege('authenticated',"
            " 'public.api_keys', 'created_at_aal2', 'UPDATE')"
        ) == [(False, False)]
    finally:
        off = api.put(
            "/api/settings/business", token=aal2, org=org, json_body={"require_mfa": False}
        )
        assert off.status == 200, off.json()

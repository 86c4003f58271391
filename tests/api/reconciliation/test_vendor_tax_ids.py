"""Vendors' tax ids at rest: the API takes and answers the clear value, the database holds
the KMS envelope and a keyed hash only; lookups by tax id go through the hash; a row from
before the migration (clear) still reads until the seal job seals it."""

from __future__ import annotations

import json
import uuid

import pytest

from devstack.functions import FunctionHost
from tests.api.conftest import Api, World

pytestmark = pytest.mark.usefixtures("aws")


def vendor(world: World, org: str, name: str, tax_id: str | None = None) -> str:
    found: str = world.sql(
        "insert into public.vendors (organization_id, name, tax_id) values (%s, %s, %s)"
        " returning id::text",
        org,
        name,
        tax_id,
    )[0][0]
    return found


def test_a_tax_id_is_sealed_hashed_and_answered_in_clear(api: Api, world: World) -> None:
    name = f"tax-{uuid.uuid4().hex[:8]}"
    org = world.add_person(name).personal_org
    vendor_id = vendor(world, org, "Sealed GmbH")
    reply = api.put(
        f"/api/reconciliation/vendors/{vendor_id}", as_=name, json_body={"tax_id": "DE 987.654-321"}
    )
    assert reply.status == 200, reply.json()
    assert reply.json()["tax_id"] == "DE 987.654-321"
    clear, sealed, hashed = world.sql(
        "select tax_id, tax_id_sealed, tax_id_hash from public.vendors where id = %s", vendor_id
    )[0]
    assert clear is None
    assert "987654" not in json.dumps(sealed)
    assert sealed["kid"].startswith("arn:aws:kms:")
    assert len(hashed) == 64
    assert "987654" not in hashed

    got = api.get(f"/api/reconciliation/vendors/{vendor_id}", as_=name)
    assert got.json()["tax_id"] == "DE 987.654-321"
    listed = api.get("/api/reconciliation/vendors", as_=name, query={"tax_id": "de987654321"})
    assert [v["id"] for v in listed.json()["data"]] == [vendor_id]
    assert listed.json()["data"][0]["tax_id"] == "DE 987.654-321"
    other = api.get("/api/reconciliation/vendors", as_=name, query={"tax_id": "DE987654320"})
    assert other.json()["data"] == []

    # Another organization's vendor with the same tax id: not found from here, and its seal
    # does not open in this organization's context.
    stranger = f"tax-{uuid.uuid4().hex[:8]}"
    stranger_org = world.add_person(stranger).personal_org
    theirs = vendor(world, stranger_org, "Theirs")
    api.put(
        f"/api/reconciliation/vendors/{theirs}", as_=stranger, json_body={"tax_id": "DE987654321"}
    )
    listed = api.get("/api/reconciliation/vendors", as_=name, query={"tax_id": "DE987654321"})
    assert [v["id"] for v in listed.json()["data"]] == [vendor_id]

    cleared = api.put(
        f"/api/reconciliation/vendors/{vendor_id}", as_=name, json_body={"tax_id": None}
    )
    assert cleared.json()["tax_id"] is None
    assert world.sql(
        "select tax_id, tax_id_sealed, tax_id_hash from public.vendors where id = %s", vendor_id
    ) == [(None, None, None)]


def test_a_clear_tax_id_from_before_reads_until_the_seal_job_seals_it(
    api: Api, world: World, function_host: FunctionHost
) -> None:
    name = f"tax-{uuid.uuid4().hex[:8]}"
    org = world.add_person(name).personal_org
    vendor_id = vendor(world, org, "Old AG", "ATU12345678")
    assert api.get(f"/api/reconciliation/vendors/{vendor_id}", as_=name).json()["tax_id"] == (
        "ATU12345678"
    )
    result = function_host.invoke_by_name("jobsSealFields", {})
    assert result["sealed"] >= 1, result
    clear, sealed = world.sql(
        "select tax_id, tax_id_sealed is not null from public.vendors where id = %s", vendor_id
    )[0]
    assert (clear, sealed) == (None, True)
    assert api.get(f"/api/reconciliation/vendors/{vendor_id}", as_=name).json()["tax_id"] == (
        "ATU12345678"
    )
    listed = api.get("/api/reconciliation/vendors", as_=name, query={"tax_id": "atu 1234 5678"})
    assert [v["id"] for v in listed.json()["data"]] == [vendor_id]
    again = function_host.invoke_by_name("jobsSealFields", {})
    assert again["sealed"] == 0

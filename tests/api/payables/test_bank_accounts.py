"""Bank accounts of payables sealed at rest (migration 20261206170200): a vendor's IBAN and
the debtor IBAN go in sealed (the vendor's hashed too), the database holds no clear value
(queried as postgres, audit log included), the answers and the pain.001 file show the
opened values; the clear values written before are sealed by jobsSealFields, which a
second run finds done; the organization's VAT id and payment instructions likewise."""

from __future__ import annotations

import json
from importlib import resources

import pytest
import xmlschema

from devstack.functions import FunctionHost
from tests.api.conftest import Api, World
from tests.api.payables.test_approvals import XSD, _matched_invoice

pytestmark = pytest.mark.usefixtures("aws")

DEBTOR_IBAN = "DE89370400440532013000"
VENDOR_IBAN = "FR1420041010050500013M02606"
OTHER_IBAN = "GB29NWBK60161331926819"


def row_of(world: World, table: str, key: str, value: str) -> dict[str, object]:
    found = world.sql(f"select to_jsonb(t) from public.{table} t where {key} = %s", value)
    row: dict[str, object] = found[0][0]
    return row


def audit_text(world: World, org: str) -> str:
    return json.dumps(
        world.sql(
            "select jsonb_agg(jsonb_build_array(old_record, new_record)) from public.audit_log"
            " where organization_id = %s",
            org,
        )[0][0]
    )


def test_ibans_are_sealed_and_the_bank_file_shows_them(api: Api, world: World, admin: str) -> None:
    settings = api.put(
        "/api/payables/settings", as_="alice", json_body={"debtor_iban": DEBTOR_IBAN}
    )
    assert settings.status == 200, settings.json()
    assert settings.json()["debtor_iban"] == DEBTOR_IBAN
    assert api.get("/api/payables/settings", as_="victor").json()["debtor_iban"] == DEBTOR_IBAN
    invoice, vendor = _matched_invoice(world, api, importer="maria", qty=4)
    bank = api.put(
        f"/api/payables/vendors/{vendor}/bank-account",
        as_="maria",
        json_body={"iban": VENDOR_IBAN, "bic": "BNPAFRPP"},
    )
    assert bank.status == 200, bank.json()
    assert (bank.json()["iban"], bank.json()["bic"]) == (VENDOR_IBAN, "BNPAFRPP")
    got = api.get(f"/api/reconciliation/vendors/{vendor}", as_="victor")
    assert got.json()["iban"] == VENDOR_IBAN
    assert "iban_sealed" not in got.json()

    vendor_row = row_of(world, "vendors", "id", vendor)
    settings_row = row_of(world, "payables_settings", "organization_id", world.org_a)
    assert vendor_row["iban"] is None
    assert settings_row["debtor_iban"] is None
    assert len(str(vendor_row["iban_hash"])) == 64
    stored = json.dumps([vendor_row, settings_row]) + audit_text(world, world.org_a)
    assert VENDOR_IBAN not in stored
    assert DEBTOR_IBAN not in stored

    assert api.post(f"/api/payables/approvals/{invoice}/approve", as_="alice").status == 200
    batch = api.post(
        "/api/payables/payment-batches",
        as_=admin,
        org=world.org_a,
        json_body={"invoice_ids": [invoice]},
    )
    assert batch.status == 201, batch.json()
    item = batch.json()["items"][0]
    assert item["vendor_iban"] == VENDOR_IBAN
    assert "vendor_iban_sealed" not in item
    xml = api.get(f"/api/payables/payment-batches/{batch.json()['id']}/export", as_="victor")
    assert xml.status == 200, xml.json()
    text = xml.content.decode()
    with resources.as_file(XSD) as path:
        xmlschema.XMLSchema(str(path)).validate(text)
    assert VENDOR_IBAN in text
    assert DEBTOR_IBAN in text
    cancelled = api.post(
        f"/api/payables/payment-batches/{batch.json()['id']}/cancel", as_=admin, org=world.org_a
    )
    assert cancelled.status == 200


@pytest.fixture(scope="module")
def admin(world: World) -> str:
    if "ada" not in world.people:
        world.add_person("ada", world.org_a, "admin")
    return "ada"


def test_bad_ibans_are_422_naming_the_field(api: Api, world: World) -> None:
    _, vendor = _matched_invoice(world, api, importer="maria", qty=1)
    reply = api.put(
        f"/api/payables/vendors/{vendor}/bank-account",
        as_="maria",
        json_body={"iban": "FR1420041010050500013M02607"},
    )
    assert reply.status == 422
    assert reply.error["details"][0]["field"] == "iban"
    reply = api.put("/api/payables/settings", as_="alice", json_body={"debtor_iban": "DE00"})
    assert reply.status == 422


def test_the_job_seals_what_was_written_in_clear(
    api: Api, world: World, function_host: FunctionHost
) -> None:
    owner = world.add_person("sealjob")
    org = owner.personal_org
    vendor = world.sql(
        "insert into public.vendors (organization_id, name, iban, tax_id)"
        " values (%s, 'Clear Vendor', %s, 'DE136695976') returning id::text",
        org,
        OTHER_IBAN,
    )[0][0]
    world.sql(
        "insert into public.payables_settings (organization_id, debtor_iban) values (%s, %s)",
        org,
        DEBTOR_IBAN,
    )
    world.sql(
        "update public.organization_settings set tax_id = 'FR61954506077',"
        " default_payment_instructions = 'Wire to GB29 NWBK 6016 1331 9268 19'"
        " where organization_id = %s",
        org,
    )
    result = function_host.invoke_by_name("jobsSealFields", {})
    assert result["fields"]["vendors.iban"] >= 1, result
    assert result["fields"]["organization_settings.tax_id"] >= 1, result
    assert "unfinished" not in result

    stored = json.dumps(
        [
            row_of(world, "vendors", "id", vendor),
            row_of(world, "payables_settings", "organization_id", org),
            row_of(world, "organization_settings", "organization_id", org),
        ]
    ) + audit_text(world, org)
    for clear in (OTHER_IBAN, DEBTOR_IBAN, "FR61954506077", "DE136695976", "GB29 NWBK"):
        assert clear not in stored, clear

    # Nothing reads less: the API opens what the job sealed.
    business = api.get("/api/settings/business", as_=owner.name, org=org).json()
    assert business["tax_id"] == "FR61954506077"
    assert business["default_payment_instructions"] == "Wire to GB29 NWBK 6016 1331 9268 19"
    payables = api.get("/api/payables/settings", as_=owner.name, org=org).json()
    assert payables["debtor_iban"] == DEBTOR_IBAN
    got = api.get(f"/api/reconciliation/vendors/{vendor}", as_=owner.name, org=org).json()
    assert (got["iban"], got["tax_id"]) == (OTHER_IBAN, "DE136695976")

    again = function_host.invoke_by_name("jobsSealFields", {})
    assert again["sealed"] == 0, again

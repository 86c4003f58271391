"""The seller's fields in the business settings (migration 20261206170200): structured
address, VAT and other ids checked with python-stdnum, the bank account, e-invoice format,
the client page's color and link lifetime; the VAT id, tax number, IBAN and payment
instructions sealed at rest (the database holds no clear value, queried as postgres),
opened for the members who read the settings and on the documents (the PDF prints them).
"""

from __future__ import annotations

import json
from typing import Any

import psycopg
import pytest

from tests.api.conftest import Api, Person, World
from tests.api.invoices.test_invoices import created, item, new_client
from tests.api.invoices.test_pdf import get_pdf, pdf_of, text_of

pytestmark = pytest.mark.usefixtures("aws")

VAT = "DE136695976"
IBAN = "DE89370400440532013000"
INSTRUCTIONS = "Bank transfer to IBAN DE89 3704 0044 0532 0130 00, reference the invoice number"


@pytest.fixture(scope="module")
def people(world: World) -> dict[str, Person]:
    owner = world.add_person("parties_owner")
    org = owner.personal_org
    return {
        "owner": owner,
        "admin": world.add_person("parties_admin", org, "admin"),
        "viewer": world.add_person("parties_viewer", org, "viewer"),
        "stranger": world.add_person("parties_stranger"),
    }


def put(api: Api, who: Person, org: str, body: dict[str, Any]) -> Any:
    return api.request("PUT", "/api/settings/business", as_=who.name, org=org, json_body=body)


def fields(reply: Any) -> list[str]:
    assert reply.status == 422, reply.json()
    return [detail["field"] for detail in reply.error["details"]]


def stored(world: World, org: str) -> dict[str, Any]:
    rows = world.sql(
        "select to_jsonb(s) from public.organization_settings s where organization_id = %s", org
    )
    value: dict[str, Any] = rows[0][0]
    return value


def test_seller_fields_round_trip_sealed(api: Api, world: World, people: dict[str, Person]) -> None:
    org = people["owner"].personal_org
    reply = put(
        api,
        people["admin"],
        org,
        {
            "country_code": "de",
            "tax_id": "DE 136 695 976",
            "tax_registration_id": "21/815/08150",
            "legal_registration_id": "HRB 12345",
            "address_line2": "Hinterhaus",
            "iban": "DE89 3704 0044 0532 0130 00",
            "bic": "cobadeffxxx",
            "payment_account_name": "Parties GmbH",
            "payment_means_code": "58",
            "default_payment_instructions": INSTRUCTIONS,
            "einvoice_format": "xrechnung-cii",
            "electronic_address": "rechnung@parties.example",
            "electronic_address_scheme": "EM",
            "brand_color": "#336699",
            "client_link_days": 30,
        },
    )
    assert reply.status == 200, reply.json()
    body = reply.json()
    assert body["country_code"] == "DE"
    assert body["tax_id"] == VAT
    assert len(body["tax_id_hash"]) == 64
    assert body["tax_registration_id"] == "21/815/08150"
    assert body["iban"] == IBAN
    assert body["bic"] == "COBADEFFXXX"
    assert body["default_payment_instructions"] == INSTRUCTIONS
    assert body["einvoice_format"] == "xrechnung-cii"
    assert (body["brand_color"], body["client_link_days"]) == ("#336699", 30)
    assert not any(key.endswith("_sealed") for key in body)

    # A viewer reads the clear values too; the database holds none of them.
    viewer = api.request("GET", "/api/settings", as_=people["viewer"].name, org=org)
    assert viewer.status == 200
    business = viewer.json()["business"]
    assert (business["tax_id"], business["iban"]) == (VAT, IBAN)
    assert business["default_payment_instructions"] == INSTRUCTIONS
    row = stored(world, org)
    assert row["tax_id"] is None
    assert row["default_payment_instructions"] is None
    text = json.dumps(row)
    for clear in (VAT, IBAN, "21/815/08150", INSTRUCTIONS):
        assert clear not in text
    assert row["tax_id_sealed"]["kid"]
    assert row["iban_sealed"]["c"]
    audit = json.dumps(
        world.sql(
            "select jsonb_agg(jsonb_build_array(old_record, new_record)) from public.audit_log"
            " where table_name = 'public.organization_settings' and organization_id = %s",
            org,
        )[0][0]
    )
    assert VAT not in audit
    assert IBAN not in audit


def test_the_pdf_prints_the_opened_values(
    api: Api, world: World, people: dict[str, Person]
) -> None:
    org = people["owner"].personal_org
    assert (
        put(
            api, people["owner"], org, {"tax_id": VAT, "default_payment_instructions": INSTRUCTIONS}
        ).status
        == 200
    )
    client = new_client(world, org, currency="EUR")
    invoice = created(api, client, as_=people["owner"].name, items=[item("Work", "1", "100")])
    text = text_of(pdf_of(get_pdf(api, invoice["id"], as_=people["owner"].name)))
    assert VAT in text
    assert "DE89 3704 0044 0532 0130 00" in text


def test_a_clear_value_written_before_the_seals_still_prints(api: Api, world: World) -> None:
    person = world.add_person("parties_legacy")
    org = person.personal_org
    world.sql(
        "update public.organization_settings set tax_id = 'FR61954506077',"
        " default_payment_instructions = 'Pay by cheque' where organization_id = %s",
        org,
    )
    reply = api.request("GET", "/api/settings/business", as_=person.name, org=org)
    assert (reply.json()["tax_id"], reply.json()["default_payment_instructions"]) == (
        "FR61954506077",
        "Pay by cheque",
    )
    client = new_client(world, org, currency="EUR")
    invoice = created(api, client, as_=person.name, items=[item()])
    text = text_of(pdf_of(get_pdf(api, invoice["id"], as_=person.name)))
    assert "FR61954506077" in text
    assert "Pay by cheque" in text


def test_null_clears_a_sealed_value_and_its_hash(
    api: Api, world: World, people: dict[str, Person]
) -> None:
    org = people["owner"].personal_org
    assert put(api, people["admin"], org, {"tax_id": VAT, "iban": IBAN}).status == 200
    reply = put(api, people["admin"], org, {"tax_id": None, "iban": None})
    assert reply.status == 200, reply.json()
    assert (reply.json()["tax_id"], reply.json()["tax_id_hash"], reply.json()["iban"]) == (
        None,
        None,
        None,
    )
    row = stored(world, org)
    assert row["tax_id_sealed"] is None
    assert row["tax_id_hash"] is None
    assert row["iban_sealed"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"tax_id": "DE136695977"}, "tax_id"),  # check digit
        ({"country_code": "CH", "tax_id": "CHE-107.787.578 IVA"}, "tax_id"),  # Swiss rules
        ({"tax_id": "??"}, "tax_id"),  # no country: shape
        ({"iban": "DE89370400440532013001"}, "iban"),
        ({"bic": "COBA"}, "bic"),
        ({"bic": "COBAXXFFXXX"}, "bic"),  # no such country
        ({"country_code": "XX"}, "country_code"),
        ({"country_code": "Germany"}, "country_code"),
        ({"einvoice_format": "pdf"}, "einvoice_format"),
        ({"payment_means_code": "SEPA"}, "payment_means_code"),
        (
            {"electronic_address_scheme": "GLN", "electronic_address": "x"},
            "electronic_address_scheme",
        ),
        # Checked when entered: an EAS code, and the scheme's Peppol rule (a GLN's digit).
        (
            {"electronic_address": "x", "electronic_address_scheme": "1234"},
            "electronic_address_scheme",
        ),
        (
            {"electronic_address": "7300010000002", "electronic_address_scheme": "0088"},
            "electronic_address",
        ),
        (
            {"electronic_address": "no-email", "electronic_address_scheme": "EM"},
            "electronic_address",
        ),
        ({"brand_color": "red"}, "brand_color"),
        ({"brand_color": None}, "brand_color"),
        ({"client_link_days": 0}, "client_link_days"),
        ({"client_link_days": 731}, "client_link_days"),
    ],
)
def test_bad_values_are_422_naming_the_field(
    api: Api, people: dict[str, Person], body: dict[str, Any], field: str
) -> None:
    org = people["owner"].personal_org
    assert field in fields(put(api, people["admin"], org, body))


def test_non_eu_vat_ids_by_their_country_or_their_shape(
    api: Api, people: dict[str, Person]
) -> None:
    org = people["owner"].personal_org
    swiss = put(api, people["admin"], org, {"country_code": "CH", "tax_id": "CHE-107.787.577 IVA"})
    assert swiss.status == 200, swiss.json()
    assert swiss.json()["tax_id"] == "CHE107787577IVA"
    shaped = put(api, people["admin"], org, {"country_code": "US", "tax_id": "12-3456789"})
    assert shaped.status == 200, shaped.json()
    assert shaped.json()["tax_id"] == "123456789"
    # An EU id without its prefix gets it from the country.
    german = put(api, people["admin"], org, {"country_code": "DE", "tax_id": "136695976"})
    assert german.json()["tax_id"] == VAT


def test_an_address_needs_its_scheme(api: Api, people: dict[str, Person]) -> None:
    org = people["owner"].personal_org
    reply = put(api, people["admin"], org, {"electronic_address": "0123456789012"})
    assert reply.status == 422


def test_a_direct_call_cannot_store_a_clear_tax_id(world: World, people: dict[str, Person]) -> None:
    """The RPC refuses a clear value (PostgREST's callers too): only envelopes go in."""
    org = people["owner"].personal_org
    claims = json.dumps({"sub": people["admin"].id, "role": "authenticated"})
    with psycopg.connect(world.database.url) as conn:
        conn.execute("select set_config('request.jwt.claims', %s, true)", (claims,))
        conn.execute("set local role authenticated")
        with pytest.raises(psycopg.errors.InvalidParameterValue, match="stored sealed"):
            conn.execute(
                "select public.update_settings(%s::uuid, null, %s::jsonb)",
                (org, json.dumps({"tax_id": VAT})),
            )


def test_a_member_cannot_change_the_bank_account(
    api: Api, world: World, people: dict[str, Person]
) -> None:
    org = people["owner"].personal_org
    member = world.add_person("parties_member", org, "member")
    reply = put(api, member, org, {"iban": IBAN})
    assert reply.status == 403
    stranger = put(api, people["stranger"], org, {"iban": IBAN})
    assert stranger.status == 403

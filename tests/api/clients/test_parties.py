"""A client's buyer fields (migration 20261206170200): structured address, the VAT id
checked with python-stdnum and sealed at rest (the database holds no clear value, queried
as postgres), found by its keyed hash; opened in every answer and on the documents."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from shared.settings import get_settings
from tests.api.conftest import Api, Person, World
from tests.api.invoices.test_invoices import created, item
from tests.api.invoices.test_pdf import get_pdf

pytestmark = pytest.mark.usefixtures("aws")

CLIENTS = "/api/clients"
VAT = "FR61954506077"


def fresh(world: World) -> Person:
    return world.add_person(f"buyer-{uuid.uuid4().hex[:8]}")


def post(api: Api, who: Person, **body: Any) -> Any:
    return api.post(CLIENTS, as_=who.name, org=who.personal_org, json_body=body)


def fields(reply: Any) -> list[str]:
    assert reply.status == 422, reply.json()
    return [detail["field"] for detail in reply.error["details"]]


def test_buyer_fields_round_trip_with_the_vat_id_sealed(api: Api, world: World) -> None:
    who = fresh(world)
    reply = post(
        api,
        who,
        company_name="Acheteur SARL",
        address_line1="12 Rue de la Paix",
        city="Paris",
        postal_code="75002",
        country_code="fr",
        vat_id="FR 61 954 506 077",
        legal_registration_id="954506077",
        buyer_reference="PO-DEPT-7",
        einvoice_format="peppol",
        electronic_address="954506077",
        electronic_address_scheme="0002",
    )
    assert reply.status == 201, reply.json()
    client = reply.json()
    assert (client["vat_id"], client["country_code"]) == (VAT, "FR")
    assert len(client["vat_id_hash"]) == 64
    assert "vat_id_sealed" not in client
    row = world.sql("select to_jsonb(c) from public.clients c where id = %s", client["id"])[0][0]
    assert VAT not in json.dumps(row)
    assert row["vat_id_sealed"]["c"]

    got = api.get(f"{CLIENTS}/{client['id']}", as_=who.name, org=who.personal_org)
    assert got.json()["vat_id"] == VAT
    assert got.json()["buyer_reference"] == "PO-DEPT-7"

    changed = api.put(
        f"{CLIENTS}/{client['id']}",
        as_=who.name,
        org=who.personal_org,
        json_body={"vat_id": "DE136695976"},
    )
    assert changed.status == 200, changed.json()
    assert changed.json()["vat_id"] == "DE136695976"
    assert changed.json()["vat_id_hash"] != client["vat_id_hash"]
    cleared = api.put(
        f"{CLIENTS}/{client['id']}", as_=who.name, org=who.personal_org, json_body={"vat_id": None}
    )
    assert (cleared.json()["vat_id"], cleared.json()["vat_id_hash"]) == (None, None)


def test_clients_are_found_by_vat_id(api: Api, world: World) -> None:
    who = fresh(world)
    wanted = post(api, who, company_name="Wanted", vat_id=VAT).json()
    post(api, who, company_name="Other", vat_id="DE136695976")
    post(api, who, company_name="None")
    found = api.get(CLIENTS, as_=who.name, org=who.personal_org, query={"vat_id": "fr 61954506077"})
    assert found.status == 200
    assert [c["id"] for c in found.json()["data"]] == [wanted["id"]]
    listed = api.get(CLIENTS, as_=who.name, org=who.personal_org)
    assert {c["company_name"]: c["vat_id"] for c in listed.json()["data"]} == {
        "Wanted": VAT,
        "Other": "DE136695976",
        "None": None,
    }
    # Another organization's client with the same VAT id is not found.
    stranger = fresh(world)
    none = api.get(CLIENTS, as_=stranger.name, org=stranger.personal_org, query={"vat_id": VAT})
    assert none.json()["data"] == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"vat_id": "FR61954506078"}, "vat_id"),
        ({"country_code": "GB", "vat_id": "GB980780685"}, "vat_id"),
        ({"vat_id": "!"}, "vat_id"),
        ({"country_code": "ZZ"}, "country_code"),
        ({"einvoice_format": "ubl"}, "einvoice_format"),
        (
            {"electronic_address": "x", "electronic_address_scheme": "peppol"},
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
        ({"postal_code": "x" * 21}, "postal_code"),
    ],
)
def test_bad_buyer_fields_are_422_naming_the_field(
    api: Api, world: World, body: dict[str, Any], field: str
) -> None:
    who = fresh(world)
    assert field in fields(post(api, who, company_name="Bad", **body))


def test_an_address_without_its_scheme_is_refused(api: Api, world: World) -> None:
    who = fresh(world)
    reply = post(api, who, company_name="Half", electronic_address="0123456789012")
    assert reply.status == 422


def test_the_documents_carry_the_buyer(api: Api, world: World) -> None:
    """The loaders attach the parties: the invoice's PDF renders (one extra RPC) and the
    document has the buyer's opened VAT id and structured address."""
    from shared import db  # noqa: PLC0415
    from shared.documents import load_invoice_document  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    who = fresh(world)
    client = post(
        api,
        who,
        company_name="Buyer",
        vat_id=VAT,
        address_line1="1 Main St",
        country_code="FR",
        currency="EUR",
    ).json()
    invoice = created(api, client["id"], as_=who.name, items=[item()])
    assert get_pdf(api, invoice["id"], as_=who.name).status == 200
    rest = db.rest(get_settings(), world.token(who.name))
    document = load_invoice_document(rest, who.personal_org, invoice["id"])
    assert document is not None
    buyer = document["buyer"]
    assert (buyer["vat_id"], buyer["address_line1"], buyer["country_code"]) == (
        VAT,
        "1 Main St",
        "FR",
    )
    assert document["seller"]["name"]
    # A stranger loading it gets nothing.
    stranger = fresh(world)
    rest = db.rest(get_settings(), world.token(stranger.name))
    assert load_invoice_document(rest, who.personal_org, invoice["id"]) is None


@pytest.fixture
def info_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The functions at LOG_LEVEL=INFO: every request's access line is written."""
    monkeypatch.setenv("LOG_LEVEL", "INFO")
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


@pytest.mark.usefixtures("info_logs")
def test_no_clear_vat_id_or_iban_in_the_logs(
    api: Api, world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """The access lines, the library logs (httpx logs every URL the functions call: the
    lookup by VAT id sends its hash) and the 422s: no clear VAT id or IBAN."""
    caplog.set_level(logging.INFO)
    who = fresh(world)
    assert post(api, who, company_name="Logged", vat_id="BE 0203.201.340").status == 201
    found = api.get(CLIENTS, as_=who.name, org=who.personal_org, query={"vat_id": "BE0203201340"})
    assert len(found.json()["data"]) == 1
    assert post(api, who, company_name="Bad", vat_id="BE0203201341").status == 422
    settings = api.put(
        "/api/settings/business",
        as_=who.name,
        org=who.personal_org,
        json_body={"tax_id": "ATU13585627", "iban": "DE89370400440532013000"},
    )
    assert settings.status == 200
    logged = capsys.readouterr().out + "\n".join(r.getMessage() for r in caplog.records)
    assert '"status": 200' in logged  # the requests were logged: the check reads them
    for clear in ("0203201340", "0203201341", "13585627", "DE89370400440532013000"):
        assert clear not in logged, clear

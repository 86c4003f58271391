"""GET /api/invoices/{id}/einvoice and GET /api/credit-notes/{id}/einvoice (docs/api.md,
"E-invoices"): a German organization's invoice in every format, each validated again here
by the same official rules; a document the rules refuse is 422 ``einvoice_invalid`` naming
the rule and the field to fill; the format defaults to the client's, then the
organization's. 401/403 for every caller kind are the security matrix's."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from facturx import get_xml_from_pdf

from shared.einvoice import validate
from shared.einvoice.profiles import PROFILES
from tests.api.conftest import Api, Response, World
from tests.api.invoices.test_invoices import created, item, new_person
from tests.api.invoices.test_send import message_by_id, parse, sent_messages, status_of

# The seals of the tax id, the IBAN and the client's VAT id need KMS (moto).
pytestmark = pytest.mark.usefixtures("aws")

BUSINESS = {
    "business_name": "Muster Software GmbH",
    "business_email": "billing@muster.example",
    "business_phone": "+49 30 1234567",
    "business_address": "Hauptstraße 1",
    "city": "Berlin",
    "zip_code": "10115",
    "country_code": "DE",
    "tax_id": "DE136695976",
    "legal_registration_id": "HRB 12345",
    "iban": "DE02120300000000202051",
    "bic": "BYLADEM1001",
    # Its VAT id as its Peppol participant id (9930): entered, not derived.
    "electronic_address_scheme": "9930",
    "electronic_address": "DE136695976",
}
CLIENT = {
    "currency": "EUR",
    "address_line1": "Marienplatz 2",
    "city": "München",
    "postal_code": "80331",
    "country_code": "DE",
    "vat_id": "DE129273398",
    "buyer_reference": "04011000-12345-34",
    "electronic_address": "DE129273398",
    "electronic_address_scheme": "9930",
}
NO_ADDRESS = {"electronic_address": None, "electronic_address_scheme": None}


def german_organization(api: Api, world: World, **business: Any) -> str:
    """A fresh owner whose organization is set up to issue e-invoices."""
    owner = new_person(world)
    reply = api.put("/api/settings/business", as_=owner, json_body={**BUSINESS, **business})
    assert reply.status == 200, reply.json()
    return owner


def german_client(api: Api, owner: str, **fields: Any) -> str:
    body = {"company_name": f"Kunde AG {uuid.uuid4().hex[:6]}", **CLIENT, **fields}
    reply = api.post("/api/clients", as_=owner, json_body=body)
    assert reply.status == 201, reply.json()
    return str(reply.json()["id"])


def an_invoice(api: Api, owner: str, client: str) -> dict[str, Any]:
    return created(
        api,
        client,
        as_=owner,
        items=[item("Beratung", "10", "120.00"), item("Schulung", "1", "999.99")],
        tax_rate="19",
        discount="50",
    )


def einvoice(api: Api, owner: str, invoice_id: str, fmt: str | None) -> Response:
    query = {"format": fmt} if fmt else None
    return api.get(f"/api/invoices/{invoice_id}/einvoice", as_=owner, query=query)


def xml_of(reply: Response, fmt: str) -> bytes:
    assert reply.status == 200, reply.content[:500]
    if fmt == "facturx":
        assert reply.headers["content-type"] == "application/pdf"
        _, xml = get_xml_from_pdf(reply.content, check_xsd=False)
        return bytes(xml)
    assert reply.headers["content-type"].startswith("application/xml")
    return reply.content


@pytest.mark.parametrize("fmt", sorted(PROFILES))
def test_every_format_validates(api: Api, world: World, fmt: str) -> None:
    owner = german_organization(api, world)
    invoice = an_invoice(api, owner, german_client(api, owner))
    reply = einvoice(api, owner, invoice["id"], fmt)
    xml = xml_of(reply, fmt)
    assert validate.fatal(validate.validate(xml, PROFILES[fmt].validation)) == []
    assert invoice["invoice_number"].encode() in xml
    assert b"DE136695976" in xml  # the seller's VAT id, opened from its seal
    assert b"04011000-12345-34" in xml  # the client's buyer reference (Leitweg-ID)
    assert "attachment; filename=" in reply.headers["content-disposition"]
    assert reply.headers["cache-control"] == "private, no-store"


def test_a_client_without_city_is_refused_for_xrechnung_naming_the_field(
    api: Api, world: World
) -> None:
    owner = german_organization(api, world)
    client = german_client(api, owner, city=None, postal_code=None)
    invoice = an_invoice(api, owner, client)
    reply = einvoice(api, owner, invoice["id"], "xrechnung-ubl")
    assert reply.status == 422
    error = reply.error
    assert error["code"] == "einvoice_invalid"
    findings = {f["rule"]: f for f in error["details"]["findings"]}
    assert findings["BR-DE-8"]["field"] == "clients.city"
    assert findings["BR-DE-9"]["field"] == "clients.postal_code"
    assert "BR-DE-8" in error["message"]
    # The EN 16931 core does not require them: the same invoice is a valid UBL.
    assert einvoice(api, owner, invoice["id"], "ubl").status == 200


def test_an_organization_without_vat_id_is_refused_naming_settings_tax_id(
    api: Api, world: World
) -> None:
    owner = german_organization(api, world, tax_id=None, legal_registration_id=None)
    invoice = an_invoice(api, owner, german_client(api, owner))
    reply = einvoice(api, owner, invoice["id"], "peppol")
    assert reply.status == 422
    fields = {f["rule"]: f["field"] for f in reply.error["details"]["findings"]}
    assert fields["BR-S-02"] == "settings.tax_id"


def test_peppol_needs_participant_ids_and_names_whose_is_missing(api: Api, world: World) -> None:
    """No email stands in for a Peppol endpoint (Peppol's EAS list has no EM): R020 and
    R010 name the settings' and the client's electronic address; the other formats take
    the emails under EM."""
    owner = german_organization(api, world, **NO_ADDRESS)
    client = german_client(api, owner, email="ap@kunde.example", **NO_ADDRESS)
    invoice = an_invoice(api, owner, client)
    reply = einvoice(api, owner, invoice["id"], "peppol")
    assert reply.status == 422
    assert reply.error["code"] == "einvoice_invalid"
    assert {f["rule"]: f["field"] for f in reply.error["details"]["findings"]} == {
        "PEPPOL-EN16931-R020": "settings.electronic_address",
        "PEPPOL-EN16931-R010": "clients.electronic_address",
    }
    assert "PEPPOL-EN16931-R020" in reply.error["message"]
    for fmt in ("xrechnung-ubl", "xrechnung-cii"):
        xml = xml_of(einvoice(api, owner, invoice["id"], fmt), fmt)
        assert b'schemeID="EM">billing@muster.example<' in xml
        assert b'schemeID="EM">ap@kunde.example<' in xml


def test_an_email_endpoint_is_refused_for_peppol_naming_the_scheme(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    client = german_client(
        api, owner, electronic_address="ap@kunde.example", electronic_address_scheme="EM"
    )
    invoice = an_invoice(api, owner, client)
    reply = einvoice(api, owner, invoice["id"], "peppol")
    assert reply.status == 422
    assert {f["rule"]: f["field"] for f in reply.error["details"]["findings"]} == {
        "PEPPOL-EN16931-CL008": "clients.electronic_address_scheme"
    }
    assert einvoice(api, owner, invoice["id"], "xrechnung-ubl").status == 200


def test_the_format_defaults_to_the_clients_then_the_organizations(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    plain = an_invoice(api, owner, german_client(api, owner))
    reply = einvoice(api, owner, plain["id"], None)
    assert reply.status == 422
    assert reply.error["code"] == "validation_failed"
    assert (
        api.put(
            "/api/settings/business", as_=owner, json_body={"einvoice_format": "xrechnung-cii"}
        ).status
        == 200
    )
    reply = einvoice(api, owner, plain["id"], None)
    assert validate.detect_profile(xml_of(reply, "xrechnung-cii")) == "xrechnung-cii"
    chosen = an_invoice(api, owner, german_client(api, owner, einvoice_format="peppol"))
    reply = einvoice(api, owner, chosen["id"], None)
    assert validate.detect_profile(xml_of(reply, "peppol")) == "peppol"


def test_an_unknown_format_is_422_and_a_strangers_invoice_404(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    invoice = an_invoice(api, owner, german_client(api, owner))
    assert einvoice(api, owner, invoice["id"], "zugferd-1").status == 422
    assert einvoice(api, "bob", invoice["id"], "ubl").status == 404


def test_a_credit_note_is_a_381_referring_to_its_invoice(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    invoice = an_invoice(api, owner, german_client(api, owner))
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice["id"])
    reply = api.post(
        "/api/credit-notes",
        as_=owner,
        json_body={"invoice_id": invoice["id"], "kind": "amount", "amount": "119.00"},
    )
    assert reply.status == 201, reply.json()
    note = reply.json()
    for fmt in ("xrechnung-ubl", "xrechnung-cii", "facturx"):
        reply = api.get(
            f"/api/credit-notes/{note['id']}/einvoice", as_=owner, query={"format": fmt}
        )
        xml = xml_of(reply, fmt)
        assert validate.fatal(validate.validate(xml, PROFILES[fmt].validation)) == []
        assert invoice["invoice_number"].encode() in xml
        assert b"381" in xml


# =============================================================================
# Sending attaches the chosen format, and refuses an invalid one
# =============================================================================


def sent_attachments(record: dict[str, Any]) -> dict[str, tuple[str, bytes]]:
    message = parse(message_by_id(record["ses_message_id"]))
    return {
        str(part.get_filename()): (part.get_content_type(), bytes(part.get_content()))
        for part in message.iter_attachments()
    }


def test_sending_attaches_the_clients_xml_format_beside_the_pdf(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    client = german_client(api, owner, email="ap@kunde.example", einvoice_format="xrechnung-cii")
    invoice = an_invoice(api, owner, client)
    reply = api.post(f"/api/invoices/{invoice['id']}/send", as_=owner, json_body={})
    assert reply.status == 200, reply.json()
    attachments = sent_attachments(reply.json()["send"])
    xml_name = f"{invoice['invoice_number']}-xrechnung-cii.xml"
    assert set(attachments) == {f"invoice-{invoice['invoice_number']}.pdf", xml_name}
    content_type, xml = attachments[xml_name]
    assert content_type == "application/xml"
    assert validate.fatal(validate.validate(xml, "xrechnung-cii")) == []


def test_sending_with_facturx_attaches_the_hybrid_pdf(api: Api, world: World) -> None:
    owner = german_organization(api, world, einvoice_format="facturx")
    invoice = an_invoice(api, owner, german_client(api, owner, email="ap@kunde.example"))
    reply = api.post(f"/api/invoices/{invoice['id']}/send", as_=owner, json_body={})
    assert reply.status == 200, reply.json()
    [(content_type, pdf)] = sent_attachments(reply.json()["send"]).values()
    assert content_type == "application/pdf"
    _, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert validate.fatal(validate.validate(xml, "facturx")) == []


def test_an_invalid_einvoice_is_not_sent(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    client = german_client(
        api, owner, email="ap@kunde.example", einvoice_format="xrechnung-ubl", city=None
    )
    invoice = an_invoice(api, owner, client)
    before = len(sent_messages())
    reply = api.post(f"/api/invoices/{invoice['id']}/send", as_=owner, json_body={})
    assert reply.status == 422
    assert reply.error["code"] == "einvoice_invalid"
    assert {f["field"] for f in reply.error["details"]["findings"]} >= {"clients.city"}
    assert len(sent_messages()) == before
    assert status_of(world, invoice["id"]) == "draft"


# =============================================================================
# The tax model: reverse charge (issue 19's "done means")
# =============================================================================


def reverse_charge_invoice(api: Api, owner: str, client: str) -> Response:
    return api.post(
        "/api/invoices",
        as_=owner,
        json_body={
            "client_id": client,
            "items": [
                {
                    "description": "Software-Entwicklung",
                    "quantity": "40",
                    "rate": "95.00",
                    "vat_category": "AE",
                    "tax_exemption_reason_code": "VATEX-EU-AE",
                    "tax_exemption_reason": "Reverse charge",
                },
                {"description": "Lizenz", "quantity": "1", "rate": "500.00", "tax_rate": "19"},
            ],
            "tax_rate": "19",
        },
    )


FRENCH_CLIENT = {
    "address_line1": "12 rue de la Paix",
    "city": "Paris",
    "postal_code": "75002",
    "country_code": "FR",
    "vat_id": "FR40303265045",
}


@pytest.mark.parametrize("fmt", ["xrechnung-ubl", "xrechnung-cii", "facturx", "peppol"])
def test_a_reverse_charge_invoice_validates(any_api: Api, world: World, fmt: str) -> None:
    """In process and over HTTP (the API Gateway emulator: a PDF's bytes base64 through
    Mangum)."""
    api = any_api
    owner = german_organization(api, world)
    client = german_client(api, owner, **FRENCH_CLIENT)
    reply = reverse_charge_invoice(api, owner, client)
    assert reply.status == 201, reply.json()
    xml = xml_of(einvoice(api, owner, reply.json()["id"], fmt), fmt)
    assert validate.fatal(validate.validate(xml, PROFILES[fmt].validation)) == []
    assert b"VATEX-EU-AE" in xml
    assert b"FR40303265045" in xml


def test_reverse_charge_without_the_clients_vat_id_names_clients_vat_id(
    api: Api, world: World
) -> None:
    owner = german_organization(api, world)
    client = german_client(api, owner, **{**FRENCH_CLIENT, "vat_id": None})
    reply = reverse_charge_invoice(api, owner, client)
    assert reply.status == 201, reply.json()
    reply = einvoice(api, owner, reply.json()["id"], "xrechnung-cii")
    assert reply.status == 422
    fields = {f["rule"]: f["field"] for f in reply.error["details"]["findings"]}
    assert fields["BR-AE-02"] == "clients.vat_id"


def test_a_credit_note_is_sent_with_the_chosen_format(api: Api, world: World) -> None:
    owner = german_organization(api, world)
    client = german_client(api, owner, email="ap@kunde.example", einvoice_format="peppol")
    invoice = an_invoice(api, owner, client)
    world.sql("update public.invoices set status = 'sent' where id = %s", invoice["id"])
    reply = api.post(
        "/api/credit-notes",
        as_=owner,
        json_body={"invoice_id": invoice["id"], "kind": "amount", "amount": "119.00"},
    )
    assert reply.status == 201, reply.json()
    note = reply.json()
    reply = api.post(f"/api/credit-notes/{note['id']}/send", as_=owner, json_body={})
    assert reply.status == 200, reply.json()
    attachments = sent_attachments(reply.json()["send"])
    [xml] = [body for kind, body in attachments.values() if kind == "application/xml"]
    assert validate.fatal(validate.validate(xml, "peppol")) == []
    assert b"<CreditNote" in xml

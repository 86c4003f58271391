"""shared/einvoice/service.py: a Peppol document needs Peppol participant ids for both
parties (no email under EM, which Peppol's EAS list lacks), and a refusal names the field
of the party the finding's location names (the settings' or the client's)."""

from __future__ import annotations

from typing import Any

import pytest

from shared.einvoice import from_document, service
from tests.einvoice.documents import BUYER, SELLER, tax_document

NO_ADDRESS = {"electronic_address": None, "electronic_address_scheme": None}


def document(seller: dict[str, Any] | None = None, buyer: dict[str, Any] | None = None) -> Any:
    made = tax_document([("Beratung", "10", "120.00", "S", "19")])
    made["seller"] = {**SELLER, **(seller or {})}
    made["buyer"] = {**BUYER, **(buyer or {})}
    return made


def refusal(made: dict[str, Any], fmt: str = "peppol") -> dict[str, str | None]:
    with pytest.raises(service.Invalid) as raised:
        service.make(made, fmt)
    error = service.invalid_error(raised.value)
    assert error.status == 422
    assert error.code == "einvoice_invalid"
    return {f["rule"]: f["field"] for f in error.details["findings"]}


def test_peppol_with_participant_ids_is_made() -> None:
    made = service.make(document(), "peppol")
    assert b'schemeID="0088">4000001000005<' in made.body
    assert b'schemeID="9930">DE987654321<' in made.body


def test_peppol_without_electronic_addresses_names_both_fields() -> None:
    """The email is not written as a Peppol endpoint: R020 and R010 name the settings' and
    the client's electronic address (before: the email under EM, a CL008 warning)."""
    fields = refusal(document(NO_ADDRESS, NO_ADDRESS))
    assert fields == {
        "PEPPOL-EN16931-R020": "settings.electronic_address",
        "PEPPOL-EN16931-R010": "clients.electronic_address",
    }


def test_an_email_endpoint_breaks_cl008_naming_the_partys_scheme() -> None:
    email = {"electronic_address": "ap@mueller.example", "electronic_address_scheme": "EM"}
    assert refusal(document(buyer=email)) == {
        "PEPPOL-EN16931-CL008": "clients.electronic_address_scheme"
    }
    seller_email = {**email, "electronic_address": "billing@northwind.example"}
    assert refusal(document(seller=seller_email)) == {
        "PEPPOL-EN16931-CL008": "settings.electronic_address_scheme"
    }


def test_a_bad_participant_id_names_the_partys_electronic_address() -> None:
    bad_gln = {"electronic_address": "4000001000006", "electronic_address_scheme": "0088"}
    assert refusal(document(buyer=bad_gln)) == {"PEPPOL-COMMON-R040": "clients.electronic_address"}
    assert refusal(document(seller=bad_gln)) == {
        "PEPPOL-COMMON-R040": "settings.electronic_address"
    }


@pytest.mark.parametrize("fmt", ["ubl", "xrechnung-ubl", "cii", "xrechnung-cii"])
def test_other_formats_take_the_email_under_em(fmt: str) -> None:
    made = service.make(document(NO_ADDRESS, NO_ADDRESS), fmt)
    assert b'schemeID="EM">billing@northwind.example<' in made.body
    assert b'schemeID="EM">accounts@mueller.example<' in made.body


def test_xrechnung_without_addresses_or_emails_names_both_fields() -> None:
    """KoSIT's rules require BT-34 and BT-49 (its R020 / R010): no email, no endpoint."""
    bare = {**NO_ADDRESS, "email": None}
    fields = refusal(document(bare, bare), "xrechnung-ubl")
    assert fields["PEPPOL-EN16931-R020"] == "settings.electronic_address"
    assert fields["PEPPOL-EN16931-R010"] == "clients.electronic_address"


def field(rule: str, location: str) -> str | None:
    return service.field_of(rule, from_document.from_document(document()), location)


UBL_BUYER = "/*/cac:AccountingCustomerParty/cac:Party"
UBL_SELLER = "/*/cac:AccountingSupplierParty/cac:Party"
CII_BUYER = (
    "/Q{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice[1]"
    "/Q{x}SupplyChainTradeTransaction[1]/Q{x}ApplicableHeaderTradeAgreement[1]"
    "/Q{x}BuyerTradeParty[1]/Q{x}URIUniversalCommunication[1]/Q{x}URIID[1]"
)


@pytest.mark.parametrize(
    ("rule", "location", "expected"),
    [
        ("BR-CL-25", CII_BUYER, "clients.electronic_address_scheme"),
        ("BR-CL-25", f"{UBL_SELLER}/cbc:EndpointID", "settings.electronic_address_scheme"),
        ("BR-63", f"{UBL_BUYER}/cbc:EndpointID", "clients.electronic_address_scheme"),
        # A CII BR-62 is reported on the document's root: the rule's own party.
        ("BR-62", "/Q{x}CrossIndustryInvoice[1]", "settings.electronic_address_scheme"),
        ("BR-63", "/Q{x}CrossIndustryInvoice[1]", "clients.electronic_address_scheme"),
        (
            "PEPPOL-COMMON-R043",
            f"{UBL_BUYER}/cac:PartyLegalEntity/cbc:CompanyID",
            "clients.legal_registration_id",
        ),
        (
            "PEPPOL-COMMON-R040",
            f"{UBL_BUYER}/cac:PartyIdentification/cbc:ID",
            "clients.legal_registration_id",
        ),
        ("PEPPOL-COMMON-R047", f"{UBL_SELLER}/cac:PartyTaxScheme/cbc:CompanyID", "settings.tax_id"),
        ("PEPPOL-COMMON-R049", f"{UBL_SELLER}/cbc:EndpointID", "settings.electronic_address"),
        ("PEPPOL-EN16931-R010", UBL_BUYER, "clients.electronic_address"),
        ("BR-S-02", "/*", "settings.tax_id"),
    ],
)
def test_the_location_decides_whose_field(rule: str, location: str, expected: str) -> None:
    assert field(rule, location) == expected

"""shared.parties and shared.models.parties without a database: the seller and the buyer
as the documents get them (structured fields first, fallbacks for rows written before),
the seals opened in their own contexts only, and the checks of VAT ids, IBANs, BICs and
country codes by python-stdnum (moto's KMS for the seals)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pydantic import ValidationError

from shared import aws, envelope, parties
from shared.einvoice import peppol_ids
from shared.models.clients import ClientCreate
from shared.models.parties import CEN_EAS, vat_id
from shared.models.settings import BusinessUpdate

ORG = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"


@pytest.fixture
def kms(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("FIELD_HASH_KEY", "a-test-hash-key")
    aws.reset()
    envelope.forget_keys()
    with mock_aws():
        client = boto3.client("kms", region_name="us-east-1")
        monkeypatch.setenv("KMS_KEY_ID", client.create_key()["KeyMetadata"]["KeyId"])
        yield client
    envelope.forget_keys()
    aws.reset()


def test_a_seller_written_before_the_fields_still_reads_whole() -> None:
    seller = parties.seller_party(
        ORG,
        {
            "organization_name": "Org",
            "business_name": " ",
            "business_address": "12 Rue de la Paix\nBâtiment B\n2e étage",
            "zip_code": "75002",
            "city": "Paris",
            "state": "IDF",
            "country": "fr",
            "tax_id": "FR61954506077",
            "business_email": "billing@org.test",
            "default_payment_instructions": "Cheque",
        },
    )
    assert seller["name"] == "Org"
    assert (seller["address_line1"], seller["address_line2"]) == (
        "12 Rue de la Paix",
        "Bâtiment B, 2e étage",
    )
    assert (seller["postal_code"], seller["subdivision"], seller["country_code"]) == (
        "75002",
        "IDF",
        "FR",
    )
    assert seller["vat_id"] == "FR61954506077"
    # No electronic address named: none (the writers decide whether the email stands in).
    assert (seller["electronic_address"], seller["electronic_address_scheme"]) == (None, None)
    assert seller["email"] == "billing@org.test"
    assert seller["payment_means_code"] is None
    assert seller["payment_instructions"] == "Cheque"
    assert set(parties.PARTY_KEYS + parties.SELLER_PAYMENT_KEYS) <= set(seller)


def test_a_country_name_is_not_a_code() -> None:
    assert parties.seller_party(ORG, {"country": "France"})["country_code"] is None


def test_sealed_fields_open_in_their_organization_only(kms: Any) -> None:
    columns = parties.seal_business(
        ORG, {"tax_id": "DE136695976", "iban": "DE89370400440532013000", "city": "Köln"}
    )
    assert "tax_id" not in columns
    assert "iban" not in columns
    assert len(columns["tax_id_hash"]) == 64
    assert columns["city"] == "Köln"
    seller = parties.seller_party(ORG, {**columns, "business_name": "Seller"})
    assert (seller["vat_id"], seller["iban"]) == ("DE136695976", "DE89370400440532013000")
    assert seller["payment_means_code"] == parties.SEPA_CREDIT_TRANSFER
    assert seller["payment_account_name"] == "Seller"
    with pytest.raises(envelope.EnvelopeError):
        parties.seller_party(OTHER, columns)
    opened = parties.open_business({**columns, "organization_id": ORG})
    assert opened["tax_id"] == "DE136695976"
    assert not [key for key in opened if key.endswith("_sealed")]


def test_a_client_vat_id_is_sealed_hashed_and_found_normalized(kms: Any) -> None:
    columns = parties.seal_client(ORG, {"vat_id": "DE136695976", "company_name": "Buyer"})
    assert columns["vat_id_hash"] == parties.vat_id_hash("de 136.695-976")
    assert columns["vat_id_hash"] != parties.tax_id_hash("DE136695976")  # per purpose
    buyer = parties.buyer_party(ORG, {**columns, "address": "1 Main St\nSpringfield"})
    assert buyer["vat_id"] == "DE136695976"
    assert (buyer["address_line1"], buyer["address_line2"]) == ("1 Main St", "Springfield")
    cleared = parties.seal_client(ORG, {"vat_id": None})
    assert cleared == {"vat_id_sealed": None, "vat_id_hash": None}


def test_attach_parties_fills_the_business_block(kms: Any) -> None:
    sealed = parties.seal_business(ORG, {"tax_id": "DE136695976"})
    document: dict[str, Any] = {
        "organization_id": ORG,
        "client": {"id": "c1", "company_name": "Buyer"},
        "business": {"tax_id": None, "name": "Seller"},
    }
    answer = {"seller": {**sealed, "business_name": "Seller"}, "buyers": {"c1": {"id": "c1"}}}
    parties.attach_parties(None, document, answer)
    assert document["business"]["tax_id"] == "DE136695976"
    assert document["buyer"]["name"] == "Buyer"
    assert document["seller"]["vat_id"] == "DE136695976"


@pytest.mark.parametrize(
    ("value", "country", "expected"),
    [
        ("DE 136 695 976", None, "DE136695976"),
        ("136695976", "DE", "DE136695976"),
        ("094259216", "GR", "EL094259216"),
        ("CHE-107.787.577 IVA", "CH", "CHE107787577IVA"),
        ("12-3456789", "US", "123456789"),
        ("X1234567", None, "X1234567"),
    ],
)
def test_vat_ids_by_their_rules(value: str, country: str | None, expected: str) -> None:
    assert vat_id(value, country) == expected


@pytest.mark.parametrize(
    "body",
    [
        {"tax_id": "DE136695977"},
        {"country_code": "CH", "tax_id": "CHE-107.787.578 IVA"},
        {"country_code": "DE", "tax_id": "136695977"},
        {"iban": "DE89370400440532013001"},
        {"bic": "DEUTXXFF"},
        {"country_code": "UK"},
    ],
)
def test_bad_ids_are_refused_at_their_field(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as error:
        BusinessUpdate.model_validate(body)
    assert error.value.errors()[0]["loc"][0] in body


@pytest.mark.parametrize(
    ("scheme", "address", "field"),
    [
        ("0088", "7300010000002", "electronic_address"),  # GS1 check digit (PEPPOL-COMMON-R040)
        ("0208", "0202239953", "electronic_address"),  # Belgian mod 97 (R043)
        ("0007", "5560360794", "electronic_address"),  # Swedish Luhn (R049)
        ("EM", "not an email", "electronic_address"),
        ("1234", "x", "electronic_address_scheme"),  # four digits, not an EAS code
        ("XX", "x", "electronic_address_scheme"),
    ],
)
def test_an_electronic_address_is_checked_against_its_scheme_when_entered(
    scheme: str, address: str, field: str
) -> None:
    body = {"electronic_address": address, "electronic_address_scheme": scheme}
    for model in (BusinessUpdate, ClientCreate):
        with pytest.raises(ValidationError) as error:
            model.model_validate({"company_name": "C", **body} if model is ClientCreate else body)
        assert [e["loc"][0] for e in error.value.errors()] == [field]
    if field == "electronic_address" and scheme != "EM":
        assert "PEPPOL-COMMON-R0" in str(error.value)


@pytest.mark.parametrize(
    ("scheme", "address"),
    [
        ("0088", "7300010000001"),
        ("0208", "0202239951"),
        ("9930", "DE136695976"),  # no Peppol rule for 9930
        ("0211", "IT00743110158"),  # R047 is a warning in Peppol: an access point takes it
        ("EM", "ap@kunde.example"),  # for the formats other than Peppol
        ("0219", "anything"),  # CEN's EAS list, not Peppol's
    ],
)
def test_good_electronic_addresses_are_taken(scheme: str, address: str) -> None:
    body = {"electronic_address": address, "electronic_address_scheme": scheme.lower()}
    update = BusinessUpdate.model_validate(body)
    assert (update.electronic_address, update.electronic_address_scheme) == (address, scheme)


def test_the_eas_list_holds_peppols() -> None:
    assert peppol_ids.EAS < CEN_EAS
    assert "EM" in CEN_EAS - peppol_ids.EAS

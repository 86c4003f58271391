"""The bank files: pain.001.001.03 validated against the official ISO 20022 XSD (the one
the `sepaxml` package ships, read from disk: nothing is fetched), the SEPA refusals (other
currencies, bad IBANs and BICs, amounts out of range) and the CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import xmlschema

from shared.errors import ApiError
from shared.payables.accounts import clean_bic, clean_iban
from shared.payables.csv_file import batch_csv
from shared.payables.pain001 import NAMESPACE, pain001, sepa_text

XSD = resources.files("sepaxml") / "schemas" / "pain.001.001.03.xsd"
NS = {"p": NAMESPACE}


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    with resources.as_file(XSD) as path:
        return xmlschema.XMLSchema(str(path))


def _batch(**changes: Any) -> dict[str, Any]:
    batch: dict[str, Any] = {
        "id": "7d0c8f4e-3f0a-4a53-9a57-2c1f0c5e9a11",
        "message_id": "4f1b2c3d4e5f60718293a4b5c6d7e8f9",
        "execution_date": "2031-03-02",
        "debtor": {
            "name": "Société Générale d'Ëxample & Co",
            "iban": "DE89370400440532013000",
            "bic": "COBADEFFXXX",
        },
        "items": [
            {
                "vendor_invoice_id": "0b7e3f86-8f0e-4d5e-8a40-7b9a2c1d0e01",
                "invoice_number": "INV-1",
                "vendor_id": "5a0e",
                "vendor_name": "Müller GmbH <Tools>",
                "vendor_iban": "FR1420041010050500013M02606",
                "vendor_bic": None,
                "currency": "EUR",
                "amount": "1234.50",
            },
            {
                "vendor_invoice_id": "0b7e3f86-8f0e-4d5e-8a40-7b9a2c1d0e02",
                "invoice_number": "INV/2",
                "vendor_id": "5a0f",
                "vendor_name": "Acme",
                "vendor_iban": "NL91ABNA0417164300",
                "vendor_bic": "ABNANL2A",
                "currency": "EUR",
                "amount": "0.10",
            },
        ],
    }
    batch.update(changes)
    return batch


def test_pain001_validates_against_the_iso_xsd(schema: xmlschema.XMLSchema) -> None:
    document = pain001(_batch(), datetime(2031, 3, 1, 9, 30, tzinfo=UTC))
    schema.validate(document.decode())
    root = ET.fromstring(document)  # noqa: S314 - our own document
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:NbOfTxs", namespaces=NS) == "2"
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:CtrlSum", namespaces=NS) == "1234.60"
    info = root.find("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert info is not None
    assert info.findtext("p:ReqdExctnDt", namespaces=NS) == "2031-03-02"
    assert info.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == "DE89370400440532013000"
    assert info.findtext("p:Dbtr/p:Nm", namespaces=NS) == "Societe Generale d'Example Co"
    amounts = [e.text for e in info.iterfind("p:CdtTrfTxInf/p:Amt/p:InstdAmt", NS)]
    assert amounts == ["1234.50", "0.10"]
    names = [e.text for e in info.iterfind("p:CdtTrfTxInf/p:Cdtr/p:Nm", NS)]
    assert names == ["Muller GmbH Tools", "Acme"]


def test_a_file_without_bics_still_validates(schema: xmlschema.XMLSchema) -> None:
    batch = _batch()
    batch["debtor"]["bic"] = None
    schema.validate(pain001(batch, datetime.now(UTC)).decode())


def test_the_xsd_refuses_what_the_writer_must_never_make(schema: xmlschema.XMLSchema) -> None:
    """The validation can fail: a currency code of four letters, a missing service level."""
    good = pain001(_batch(), datetime.now(UTC)).decode()
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(good.replace('Ccy="EUR"', 'Ccy="EURO"'))
    document = good.replace("<Cd>SEPA</Cd>", "<Cd></Cd>")
    with pytest.raises(xmlschema.XMLSchemaValidationError):
        schema.validate(document)


def test_other_currencies_are_refused_naming_them() -> None:
    batch = _batch()
    batch["items"][1]["currency"] = "USD"
    with pytest.raises(ApiError) as caught:
        pain001(batch, datetime.now(UTC))
    assert caught.value.status == 422
    assert "USD" in caught.value.message
    assert caught.value.details["invoices"] == [
        {"vendor_invoice_id": "0b7e3f86-8f0e-4d5e-8a40-7b9a2c1d0e02", "currency": "USD"}
    ]


@pytest.mark.parametrize(
    ("where", "field", "value"),
    [
        ("debtor", "iban", "DE89370400440532013001"),
        ("debtor", "iban", None),
        ("debtor", "bic", "COBA"),
        ("item", "vendor_iban", "FR1420041010050500013M02607"),
        ("item", "vendor_iban", None),
        ("item", "amount", "0.00"),
    ],
)
def test_bad_accounts_and_amounts_are_refused(where: str, field: str, value: Any) -> None:
    batch = _batch()
    if where == "debtor":
        batch["debtor"][field] = value
    else:
        batch["items"][0][field] = value
    with pytest.raises(ApiError) as caught:
        pain001(batch, datetime.now(UTC))
    assert caught.value.status == 422
    fields = {d["field"] for d in caught.value.details}
    assert fields == {("debtor_" + field) if where == "debtor" else field}


def test_iban_and_bic_are_checked_and_compacted() -> None:
    assert clean_iban("de89 3704 0044 0532 0130 00", "iban") == "DE89370400440532013000"
    assert clean_bic("cobadeff", "bic") == "COBADEFF"
    with pytest.raises(ApiError) as caught:
        clean_iban("DE00370400440532013000", "debtor_iban")
    assert caught.value.details[0]["field"] == "debtor_iban"


def test_sepa_text_keeps_the_character_set() -> None:
    assert sepa_text("Zoë & Søn — “Ltd”", 70) == "Zoe Sn Ltd"
    assert sepa_text("€€€", 35) == "NOTPROVIDED"
    assert len(sepa_text("x" * 200, 70)) == 70


def test_csv_has_every_currency_and_no_formulas() -> None:
    batch = _batch()
    batch["items"][1]["currency"] = "USD"
    batch["items"][1]["invoice_number"] = "=HYPERLINK(1)"
    rows = list(csv.DictReader(io.StringIO(batch_csv(batch).decode())))
    assert [r["currency"] for r in rows] == ["EUR", "USD"]
    assert [Decimal(r["amount"]) for r in rows] == [Decimal("1234.50"), Decimal("0.10")]
    assert rows[1]["invoice_number"] == "'=HYPERLINK(1)"


def test_an_empty_batch_is_refused() -> None:
    with pytest.raises(ApiError) as caught:
        pain001(_batch(items=[]), datetime.now(UTC))
    assert caught.value.status == 422

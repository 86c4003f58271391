"""E-invoice credit notes read for payables (shared/reconciliation/ingest/einvoice.py): a
UBL CreditNote and a CII document of type 381 (and UNCL1001's other credit note codes)
become a vendor credit note's import document (``document_type``, BT-25 and BT-26), valid
against the EN 16931 rules; an invoice (380) stays a vendor invoice. Before vendor credit
notes these were refused ("is a credit note")."""

from __future__ import annotations

import pytest

from shared.reconciliation.ingest.einvoice import CREDIT_NOTE_TYPES, parse_einvoice
from tests.einvoice.read_fixtures import FixtureInvoice, cii, ubl

REFERENCE = (
    "<ram:InvoiceReferencedDocument><ram:IssuerAssignedID>RE-2026-001</ram:IssuerAssignedID>"
    '<ram:FormattedIssueDateTime><qdt:DateTimeString format="102">20261201'
    "</qdt:DateTimeString></ram:FormattedIssueDateTime></ram:InvoiceReferencedDocument>"
)


def cii_credit_note(number: str, type_code: str = "381") -> bytes:
    """The fixture's CII invoice as a credit note naming RE-2026-001 of 2026-12-01."""
    data = cii(FixtureInvoice(number=number, po_number=None)).decode()
    data = data.replace(
        "<ram:TypeCode>380</ram:TypeCode>", f"<ram:TypeCode>{type_code}</ram:TypeCode>"
    )
    summation = "</ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
    return data.replace(summation, summation + REFERENCE).encode()


def test_a_cii_381_is_a_vendor_credit_note() -> None:
    parsed = parse_einvoice(cii_credit_note("GS-1"), "gs-1.xml")
    assert parsed.errors == []
    [document] = parsed.documents
    assert document["document_type"] == "credit_note"
    assert document["invoice_number"] == "GS-1"
    assert document["preceding_invoice_reference"] == "RE-2026-001"
    assert document["preceding_invoice_date"] == "2026-12-01"
    assert document["total_amount"] == "113.05"  # 10 x 9.50 + 19 %: positive, as EN 16931


def test_a_ubl_credit_note_is_a_vendor_credit_note_an_invoice_is_not() -> None:
    [note] = parse_einvoice(ubl(FixtureInvoice(number="CN-9"), credit_note=True), "c.xml").documents
    assert (note["document_type"], note["preceding_invoice_reference"]) == ("credit_note", "RE-1")
    [invoice] = parse_einvoice(ubl(FixtureInvoice(number="RE-9")), "r.xml").documents
    assert "document_type" not in invoice
    assert "preceding_invoice_reference" not in invoice


@pytest.mark.parametrize("code", ["381", "396", "261"])
def test_uncl1001_credit_note_codes_are_credit_notes(code: str) -> None:
    assert code in CREDIT_NOTE_TYPES
    parsed = parse_einvoice(cii_credit_note(f"GS-{code}", code), "gs.xml", validate=False)
    assert parsed.documents[0]["document_type"] == "credit_note"

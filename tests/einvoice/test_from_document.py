"""Documents (as shared.documents loads them) -> the exchange model -> every format, valid;
and a document missing what a rule needs is refused with that rule."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from shared.einvoice import cii, from_document, model, profiles, ubl, validate
from tests.einvoice.documents import BUYER_FR, tax_document

XML_FORMATS = ["ubl", "xrechnung-ubl", "peppol", "cii", "xrechnung-cii", "facturx"]


def write(invoice: model.Invoice, profile: str) -> bytes:
    if profiles.profile(profile).syntax == "ubl":
        return ubl.to_ubl(invoice, profile)
    return cii.to_cii(invoice, profile)


def standard() -> dict[str, Any]:
    return tax_document(
        [
            ("Beratung", "10", "120.00", "S", "19"),
            ("Fachbuch", "3", "24.90", "S", "7"),
            ("Versand", "1", "4.99", "S", "19"),
        ],
        discount="33.33",
    )


def reverse_charge() -> dict[str, Any]:
    return tax_document(
        [("Entwicklung", "40", "95.00", "AE", None)],
        buyer=BUYER_FR,
        reasons={"AE": ("VATEX-EU-AE", "Reverse charge")},
    )


@pytest.mark.parametrize("profile", XML_FORMATS)
@pytest.mark.parametrize("make", [standard, reverse_charge])
def test_a_tax_model_document_is_valid_in_every_format(make: Any, profile: str) -> None:
    invoice = from_document.from_document(make())
    assert validate.fatal(validate.validate(write(invoice, profile), profile)) == []


def test_the_mapping_of_a_document() -> None:
    invoice = from_document.from_document(standard())
    assert invoice.type_code == "380"
    assert invoice.buyer_reference == "04011000-12345-34"
    assert invoice.purchase_order_reference == "PO-77"
    assert invoice.seller.vat_id == "DE123456789"
    assert invoice.buyer.address.city == "München"
    assert invoice.payment is not None
    assert invoice.payment.iban == "DE02120300000000202051"
    assert [(t.vat_category, t.vat_rate) for t in invoice.tax_breakdown] == [
        ("S", Decimal(7)),
        ("S", Decimal(19)),
    ]
    # The discount is one allowance per group, as the document's breakdown split it.
    assert sum(a.amount for a in invoice.allowances) == Decimal("33.33")
    assert {(a.vat_category, a.vat_rate) for a in invoice.allowances} == {
        ("S", Decimal(19)),
        ("S", Decimal(7)),
    }
    assert invoice.totals.payable == invoice.totals.tax_inclusive


def test_a_document_from_before_the_tax_model_uses_its_rate_for_every_line() -> None:
    document = standard()
    legacy = {key: value for key, value in document.items() if key != "tax_breakdown"}
    legacy["items"] = [
        {key: value for key, value in item.items() if key not in ("vat_category", "tax_rate")}
        for item in document["items"]
    ]
    legacy["tax_rate"] = Decimal(19)
    subtotal = sum((item["amount"] for item in legacy["items"]), Decimal(0))
    tax = model.money((subtotal - legacy["discount"]) * Decimal("0.19"), "EUR")
    legacy.update(
        subtotal=subtotal, tax_amount=tax, total_amount=subtotal - legacy["discount"] + tax
    )
    invoice = from_document.from_document(legacy)
    assert {line.vat_category for line in invoice.lines} == {"S"}
    assert [a.amount for a in invoice.allowances] == [legacy["discount"]]
    assert validate.is_valid(validate.validate(write(invoice, "xrechnung-ubl"), "xrechnung-ubl"))


def test_the_discount_split_puts_the_remainder_on_the_largest_group() -> None:
    groups = {("S", Decimal(19)): Decimal("200.00"), ("S", Decimal(7)): Decimal("100.00")}
    shares = from_document.split_discount(Decimal("10.00"), groups, "EUR")
    assert shares == {("S", Decimal(19)): Decimal("6.67"), ("S", Decimal(7)): Decimal("3.33")}
    shares = from_document.split_discount(Decimal("0.01"), groups, "EUR")
    assert shares == {("S", Decimal(19)): Decimal("0.01")}


def test_a_credit_note_refers_to_its_invoice() -> None:
    document = standard()
    document.update(
        credit_note_number="CN-0001", credited_invoice_number="INV-0042", reason="Returned"
    )
    invoice = from_document.from_document(document, credit_note=True)
    assert (invoice.type_code, invoice.number) == ("381", "CN-0001")
    assert invoice.preceding_invoice_reference == "INV-0042"
    assert invoice.totals.prepaid == 0
    for profile in XML_FORMATS:
        assert validate.fatal(validate.validate(write(invoice, profile), profile)) == [], profile
    assert b"<cac:BillingReference>" in ubl.to_ubl(invoice, "peppol")
    assert b"<CreditNote" in ubl.to_ubl(invoice, "peppol")


def test_reverse_charge_without_the_sellers_vat_id_is_refused_with_br_ae_02() -> None:
    document = reverse_charge()
    document["seller"]["vat_id"] = None
    document["seller"]["legal_registration_id"] = None
    invoice = from_document.from_document(document)
    for profile in XML_FORMATS:
        rules = {
            f.rule_id for f in validate.fatal(validate.validate(write(invoice, profile), profile))
        }
        assert "BR-AE-02" in rules, profile


def test_an_exempt_line_without_a_reason_is_refused_with_br_e_10() -> None:
    document = tax_document([("Heilbehandlung", "1", "80.00", "E", None)])
    invoice = from_document.from_document(document)
    rules = {f.rule_id for f in validate.fatal(validate.validate(write(invoice, "ubl"), "ubl"))}
    assert "BR-E-10" in rules


def test_a_partly_paid_invoice_says_what_is_prepaid() -> None:
    document = standard()
    document["amount_paid"] = Decimal("100.00")
    invoice = from_document.from_document(document)
    assert invoice.totals.prepaid == Decimal("100.00")
    assert invoice.totals.payable == invoice.totals.tax_inclusive - Decimal("100.00")
    assert validate.is_valid(validate.validate(write(invoice, "peppol"), "peppol"))


def test_a_document_without_issue_date_is_refused() -> None:
    document = standard()
    document["issue_date"] = None
    with pytest.raises(ValueError, match="issue_date"):
        from_document.from_document(document)

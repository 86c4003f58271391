"""The PDF of a document with several tax groups or an exempt one (shared/pdf/invoice.py,
the tax model): the lines' rates, the breakdown table, the reverse-charge mention and the
exemption reasons; one standard group prints as before."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from bench.pdf_sample import sample_document
from shared.pdf import TEMPLATES, render_document_pdf, render_invoice_pdf


def text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def group(
    category: str, rate: str, net: str, allowance: str, tax: str, **extra: Any
) -> dict[str, Any]:
    taxable = Decimal(net) - Decimal(allowance)
    return {
        "vat_category": category,
        "tax_rate": Decimal(rate),
        "line_net_total": Decimal(net),
        "allowance_amount": Decimal(allowance),
        "taxable_amount": taxable,
        "tax_amount": Decimal(tax),
        "tax_exemption_reason_code": extra.get("code"),
        "tax_exemption_reason": extra.get("reason"),
    }


def mixed_document() -> dict[str, Any]:
    document = sample_document(3)
    items = document["items"]
    items[0].update(vat_category="S", tax_rate=Decimal(19))
    items[1].update(vat_category="S", tax_rate=Decimal(7))
    items[2].update(vat_category="AE", tax_rate=Decimal(0))
    document["tax_breakdown"] = [
        group("AE", "0", "200.00", "5.00", "0.00", code="VATEX-EU-AE", reason="Reverse charge"),
        group("S", "7", "100.00", "2.50", "6.83"),
        group("S", "19", "100.00", "2.50", "18.53"),
    ]
    return document


@pytest.mark.parametrize("template", TEMPLATES)
def test_several_groups_print_their_breakdown(template: str) -> None:
    extracted = text(render_document_pdf(mixed_document(), "invoice", template))
    assert "breakdown" in extracted.lower()
    for words in ("Standard rate", "Reverse charge", "19%", "7%", "18.53", "6.83", "195.00"):
        assert words in extracted, (words, extracted)


def test_an_exempt_group_alone_prints_its_reason() -> None:
    document = sample_document(1)
    document["items"][0].update(vat_category="E", tax_rate=Decimal(0))
    document["tax_breakdown"] = [
        group("E", "0", "100.00", "0", "0.00", code="VATEX-EU-132-1I", reason="Medical care")
    ]
    extracted = text(render_document_pdf(document, "invoice", "professional"))
    assert "Exempt from VAT: Medical care" in extracted
    assert "breakdown" not in extracted.lower()


def test_one_standard_group_prints_as_before() -> None:
    document = {**sample_document(2), "tax_rate": Decimal(19)}
    with_group = {**document, "tax_breakdown": [group("S", "19", "1.00", "0", "0.00")]}
    assert render_invoice_pdf(with_group) == render_invoice_pdf(document)

"""shared.pdf's document kinds: an invoice, a quote and a credit note share the layout
and differ in what they print (title, number label, facts, boxed amount, sections,
watermarks). An invoice's PDF did not change when the kinds were added."""

from __future__ import annotations

import hashlib
import io
from decimal import Decimal
from typing import Any

import pytest
from pypdf import PdfReader

from bench.pdf_sample import sample_document
from shared.pdf import KINDS, TEMPLATES, render_document_pdf, render_invoice_pdf

# The sample invoice's PDF (professional) rendered before the kinds were added (the tree
# of commit 6c0e049): the kinds leave an invoice's bytes as they were. A deliberate
# change of the invoice layout (or of reportlab or the fonts) updates it.
INVOICE_SHA256 = "f0f375a13628b59497df8ee71b0701bb29ffbf49fc6b4e650ab0f930bceef9a9"


def text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(body)).pages)


def quote_document(status: str = "sent") -> dict[str, Any]:
    document = sample_document()
    for key in ("invoice_number", "due_date", "payment_terms", "amount_paid", "balance_due"):
        document.pop(key)
    document.pop("payment_instructions")
    document.update(quote_number="QUO-2026-0007", valid_until="2027-01-05", status=status)
    return document


def credit_note_document() -> dict[str, Any]:
    document = quote_document()
    document.pop("quote_number")
    document.pop("valid_until")
    document.update(
        credit_note_number="CN-2026-0003",
        credited_invoice_number="INV-2026-0042",
        reason="Two hours billed twice",
        status="issued",
    )
    return document


def test_an_invoice_is_byte_for_byte_what_it_was() -> None:
    body = render_invoice_pdf(sample_document(), "professional")
    assert hashlib.sha256(body).hexdigest() == INVOICE_SHA256
    for template in TEMPLATES:
        document = sample_document()
        assert render_document_pdf(document, "invoice", template) == render_invoice_pdf(
            document, template
        )


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown document kind"):
        render_document_pdf(sample_document(), "receipt")


@pytest.mark.parametrize("template", TEMPLATES)
def test_a_quote_is_titled_and_dated_as_a_quote(template: str) -> None:
    extracted = text(render_document_pdf(quote_document(), "quote", template))
    assert "QUOTE" in extracted.upper()
    assert "Quote number" in extracted
    assert "QUO-2026-0007" in extracted
    assert "Valid until" in extracted
    assert "5 Jan 2027" in extracted  # valid_until
    for word in ("Invoice number", "Balance due", "Due date", "Payment instructions"):
        assert word not in extracted, word
    assert "Total" in extracted


def test_a_quote_box_holds_its_total() -> None:
    document = quote_document()
    extracted = text(render_document_pdf(document, "quote", "professional"))
    # The total appears twice: beside the client and as the last row of the totals.
    total = f"{document['total_amount']:,}"
    assert extracted.count(total) >= 2, (total, extracted)


@pytest.mark.parametrize(("status", "word"), [("draft", "DRAFT"), ("expired", "EXPIRED")])
def test_a_quote_carries_its_watermark(status: str, word: str) -> None:
    assert word in text(render_document_pdf(quote_document(status), "quote"))
    assert word not in text(render_document_pdf(quote_document("sent"), "quote"))


def test_a_credit_note_names_the_invoice_it_credits() -> None:
    extracted = text(render_document_pdf(credit_note_document(), "credit_note", "modern"))
    assert "Credit note" in extracted
    assert "Credit note number" in extracted
    assert "CN-2026-0003" in extracted
    assert "Credits invoice" in extracted
    assert "INV-2026-0042" in extracted
    assert "Two hours billed twice" in extracted
    assert "Balance due" not in extracted


def test_the_kinds_give_three_documents_from_the_same_money() -> None:
    bodies = {
        render_document_pdf(sample_document(), "invoice"),
        render_document_pdf(quote_document(), "quote"),
        render_document_pdf(credit_note_document(), "credit_note"),
    }
    assert len(bodies) == 3
    assert set(KINDS) == {"invoice", "quote", "credit_note"}


def test_float_money_is_refused_for_every_kind() -> None:
    document = quote_document()
    document["total_amount"] = 12.5
    with pytest.raises(TypeError, match="never a float"):
        render_document_pdf(document, "quote")
    document["total_amount"] = Decimal("12.50")
    assert render_document_pdf(document, "quote").startswith(b"%PDF")

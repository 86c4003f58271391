"""A realistic invoice document, as `shared.documents.load_invoice_document` returns one.

Standard library only: the fresh-process runs of bench/pdf.py import it before they
start the clock on the PDF library, so it must not warm anything the library needs.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

_DESCRIPTIONS = (
    "Website redesign — discovery workshop and stakeholder interviews",
    "Frontend development (React), sprint 1",
    "Hosting and monitoring, 12 months",
    "Café branding: logo, colour palette and typography guide for print and web, "
    "including two rounds of revisions",
    "Support hours (November)",
    "Travel expenses, Berlin on-site visit",
)

CENT = Decimal("0.01")


def sample_document(
    items: int = 6,
    *,
    currency: str = "USD",
    status: str = "sent",
    template: str = "professional",
    client_name: str = "Müller & Söhne GmbH",
    contact: str = "Jürgen Müller",
) -> dict[str, Any]:
    lines = []
    subtotal = Decimal(0)
    for n in range(items):
        quantity = Decimal(n % 4 + 1)
        rate = Decimal("125.50") + n
        amount = (quantity * rate).quantize(CENT, rounding=ROUND_HALF_UP)
        subtotal += amount
        lines.append(
            {
                "id": f"00000000-0000-4000-8000-{n:012d}",
                "position": n,
                "description": _DESCRIPTIONS[n % len(_DESCRIPTIONS)],
                "quantity": quantity,
                "rate": rate,
                "amount": amount,
            }
        )
    discount = Decimal("50.00")
    tax_rate = Decimal("8.875")
    tax = ((subtotal - discount) * tax_rate / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    total = subtotal - discount + tax
    paid = Decimal("500.00") if status != "draft" else Decimal(0)
    return {
        "id": "5b0e6f7e-1d2c-4a8b-9f00-000000000042",
        "invoice_number": "INV-2026-0042",
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "payment_terms": "net30",
        "status": status,
        "currency": currency,
        "subtotal": subtotal,
        "tax_rate": tax_rate,
        "tax_amount": tax,
        "discount": discount,
        "total_amount": total,
        "amount_paid": paid,
        "balance_due": total - paid,
        "notes": "Thank you for your business! Questions about this invoice? "
        "Write to billing@northwind.example.",
        "terms": "Payment due within 30 days. A late fee of 1.5% per month applies to "
        "overdue balances.",
        "payment_instructions": "Bank transfer to Northwind Studio Ltd\n"
        "IBAN DE89 3704 0044 0532 0130 00 · BIC COBADEFFXXX\nReference: INV-2026-0042",
        "template": template,
        "client": {
            "id": "5b0e6f7e-1d2c-4a8b-9f00-0000000000c1",
            "company_name": client_name,
            "contact_person": contact,
            "email": "accounts@mueller.example",
            "phone": "+49 30 1234567",
            "address": "Friedrichstraße 123\n10117 Berlin\nGermany",
            "currency": currency,
        },
        "items": lines,
        "payments": [],
        "business": {
            "name": "Northwind Studio",
            "business_name": "Northwind Studio",
            "business_email": "hello@northwind.example",
            "business_phone": "+1 415 555 0100",
            "website": "northwind.example",
            "tax_id": "US-12-3456789",
            "address_lines": [
                "500 Market Street, Suite 12",
                "94105 San Francisco, CA",
                "United States",
            ],
            "tax_label": "Sales tax",
            "invoice_footer": "Northwind Studio Ltd · Registered in California · "
            "Thank you for choosing us.",
            "company_logo_url": None,
        },
    }


def unicode_document() -> dict[str, Any]:
    """The sample with a Japanese client, an Arabic contact, a Hebrew address line and
    an item in Hebrew, Greek and Cyrillic (fallback fonts, shaping, right-to-left)."""
    document = sample_document(client_name="株式会社テスト 東京", contact="محمد عبد الله")
    document["client"]["address"] = "Øresundsvej 7\n2300 København S\nשדרות רוטשילד 1"  # noqa: RUF001
    document["items"][0]["description"] = "שירותי ייעוץ — Ελληνικά — Привет"
    document["items"][1]["description"] = "한국어 번역 and 東京 出張費"
    return document

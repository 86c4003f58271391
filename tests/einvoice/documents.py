"""Documents as shared.documents loads them (with the tax model's fields and the parties'
``seller`` and ``buyer``), for the tests of from_document and facturx without a database."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from bench.pdf_sample import sample_document

CENT = Decimal("0.01")

SELLER = {
    "name": "Northwind Studio GmbH",
    "vat_id": "DE123456789",
    "legal_registration_id": "HRB 4711",
    "tax_registration_id": None,
    "address_line1": "Friedrichstraße 1",
    "address_line2": None,
    "city": "Berlin",
    "postal_code": "10117",
    "subdivision": None,
    "country_code": "DE",
    "email": "billing@northwind.example",
    "phone": "+49 30 1234567",
    "electronic_address": "4000001000005",  # a GLN (0088): a Peppol participant id
    "electronic_address_scheme": "0088",
    "contact_name": "Nora North",
    "iban": "DE02 1203 0000 0000 2020 51",
    "bic": "BYLADEM1001",
    "payment_account_name": "Northwind Studio GmbH",
    "payment_means_code": "58",
    "payment_instructions": None,
}
BUYER = {
    "name": "Müller & Söhne GmbH",
    "vat_id": "DE987654321",
    "legal_registration_id": None,
    "tax_registration_id": None,
    "address_line1": "Marienplatz 2",
    "address_line2": None,
    "city": "München",
    "postal_code": "80331",
    "subdivision": None,
    "country_code": "DE",
    "email": "accounts@mueller.example",
    "phone": None,
    "electronic_address": "DE987654321",  # its VAT id in Peppol (9930)
    "electronic_address_scheme": "9930",
    "contact_name": "Jürgen Müller",
}
BUYER_FR = {
    **BUYER,
    "name": "Client SARL",
    "vat_id": "FR40303265045",
    "address_line1": "12 rue de la Paix",
    "city": "Paris",
    "postal_code": "75002",
    "country_code": "FR",
    "electronic_address": "30326504500012",  # a SIRET (0009)
    "electronic_address_scheme": "0009",
}


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def tax_document(
    items: list[tuple[str, str, str, str, str | None]],
    *,
    discount: str = "0",
    buyer: dict[str, Any] | None = None,
    reasons: dict[str, tuple[str, str]] | None = None,
    currency: str = "EUR",
) -> dict[str, Any]:
    """An invoice document in the tax model's shape: ``items`` as (description, quantity,
    rate, vat category, tax rate or None for the document's 19), the breakdown computed as
    the contract says (the discount split by line totals, the remainder on the largest)."""
    document = sample_document(items=1, currency=currency)
    reasons = reasons or {}
    lines = []
    groups: dict[tuple[str, Decimal], Decimal] = {}
    for position, (description, quantity, rate, category, tax_rate) in enumerate(items):
        amount = _round(Decimal(quantity) * Decimal(rate))
        effective = Decimal(tax_rate or "19") if category in ("S", "L", "M") else Decimal(0)
        code, text = reasons.get(category, (None, None))
        lines.append(
            {
                "id": f"00000000-0000-4000-8000-{position:012d}",
                "position": position,
                "description": description,
                "quantity": Decimal(quantity),
                "rate": Decimal(rate),
                "amount": amount,
                "vat_category": category,
                "tax_rate": str(effective),
                "tax_exemption_reason_code": code,
                "tax_exemption_reason": text,
            }
        )
        groups[(category, effective)] = groups.get((category, effective), Decimal(0)) + amount
    subtotal = sum(groups.values(), Decimal(0))
    total_discount = Decimal(discount)
    shares = {key: _round(total_discount * value / subtotal) for key, value in groups.items()}
    largest = max(groups, key=lambda key: (groups[key], key))
    shares[largest] += total_discount - sum(shares.values(), Decimal(0))
    breakdown: list[dict[str, Any]] = []
    for key in sorted(groups):
        group_category, group_rate = key
        taxable = groups[key] - shares[key]
        code, text = reasons.get(group_category, (None, None))
        breakdown.append(
            {
                "vat_category": group_category,
                "tax_rate": str(group_rate),
                "line_net_total": str(groups[key]),
                "allowance_amount": str(shares[key]),
                "taxable_amount": str(taxable),
                "tax_amount": str(_round(taxable * group_rate / 100)),
                "tax_exemption_reason_code": code,
                "tax_exemption_reason": text,
            }
        )
    tax = sum((Decimal(row["tax_amount"]) for row in breakdown), Decimal(0))
    total = subtotal - total_discount + tax
    document.update(
        {
            "items": lines,
            "subtotal": subtotal,
            "discount": total_discount,
            "tax_rate": Decimal(19),
            "tax_amount": tax,
            "total_amount": total,
            "amount_paid": Decimal(0),
            "balance_due": total,
            "tax_breakdown": breakdown,
            "buyer_reference": "04011000-12345-34",
            "purchase_order_reference": "PO-77",
            "default_vat_category": None,
            "seller": dict(SELLER),
            "buyer": dict(buyer or BUYER),
        }
    )
    document["business"]["tax_id"] = SELLER["vat_id"]
    return document

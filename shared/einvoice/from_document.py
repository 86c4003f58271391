"""A document (``shared.documents``: an invoice or a credit note, with ``seller`` and
``buyer`` from ``shared.parties.attach_parties``) -> the exchange model.

The amounts are the document's own, computed in SQL (the tax model's ``tax_breakdown``,
``subtotal``, ``discount``, ``tax_amount``, ``total_amount``): the writers print them and
the validator checks them against EN 16931's arithmetic. A document from before the tax
model (no ``tax_breakdown``, no line categories) is read as the contract says its lines
are: the invoice's ``tax_rate`` for every line, category S when it is above 0 and the
document's default category (else Z) when it is 0, the discount split over the groups in
proportion to their line totals, the remainder on the largest
(docs/einvoicing.md, "Field mapping").

Where each field comes from is docs/einvoicing.md's table; the 422 a missing one causes
names the field to fill (``FIELDS``, used by the routes).
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.einvoice import model

DISCOUNT_REASON = "Discount"
DISCOUNT_REASON_CODE = "95"  # UNCL5189 95: discount


# What XML 1.0 cannot hold (section 2.2): the C0 controls but tab, line feed and carriage
# return, lone surrogates, U+FFFE and U+FFFF. The API and the imports store them in texts
# (only NUL is refused), and lxml refuses to write them ("All strings must be XML
# compatible"): a client's address with one made its e-invoice, and the send attaching it,
# a 500. They carry nothing on a document, so they are dropped.
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = _NOT_XML.sub("", str(value)).strip()
    return text or None


def _decimal(value: Any, default: str = "0") -> Decimal:
    if value is None or value == "":
        return Decimal(default)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(default)


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    text = _text(value)
    return date.fromisoformat(text[:10]) if text else None


def party(
    data: dict[str, Any] | None, fallback_name: str = "", *, seller: bool = False
) -> model.Party:
    """A ``seller_party`` / ``buyer_party`` dict (shared.parties) -> model.Party. The
    seller's contact (BG-6, which XRechnung requires with a name: BR-DE-2, BR-DE-5) is the
    business itself when the settings name no person."""
    data = data or {}
    name = _text(data.get("name")) or fallback_name
    contact = _text(data.get("contact_name"))
    if seller and not contact and (_text(data.get("phone")) or _text(data.get("email"))):
        contact = name or None
    return model.Party(
        name=name,
        address=model.Address(
            line1=_text(data.get("address_line1")),
            line2=_text(data.get("address_line2")),
            city=_text(data.get("city")),
            postal_code=_text(data.get("postal_code")),
            subdivision=_text(data.get("subdivision")),
            country_code=(_text(data.get("country_code")) or "").upper() or None,
        ),
        vat_id=_text(data.get("vat_id")),
        legal_registration_id=_text(data.get("legal_registration_id")),
        tax_registration_id=_text(data.get("tax_registration_id")),
        electronic_address=_text(data.get("electronic_address")),
        electronic_address_scheme=_text(data.get("electronic_address_scheme")),
        contact_name=contact,
        phone=_text(data.get("phone")),
        email=_text(data.get("email")),
    )


def _fallback_seller(document: dict[str, Any]) -> dict[str, Any]:
    business = document.get("business") or {}
    return {
        "name": business.get("name"),
        "vat_id": business.get("tax_id"),
        "email": business.get("business_email"),
        "phone": business.get("business_phone"),
        "city": business.get("city"),
        "postal_code": business.get("zip_code"),
    }


def _fallback_buyer(document: dict[str, Any]) -> dict[str, Any]:
    client = document.get("client") or {}
    return {
        "name": client.get("company_name"),
        "email": client.get("email"),
        "phone": client.get("phone"),
        "contact_name": client.get("contact_person"),
    }


def _payment(
    document: dict[str, Any], seller: dict[str, Any], number: str, credited: str | None
) -> model.PaymentMeans:
    iban = _text(seller.get("iban"))
    code = _text(seller.get("payment_means_code")) or ("58" if iban else "1")
    terms = _text(document.get("terms")) or _text(seller.get("payment_instructions"))
    if credited and not terms:
        # BR-CO-25: a positive amount due needs a due date or payment terms; a credit note
        # has no due date.
        terms = f"Credit for invoice {credited}."
    return model.PaymentMeans(
        code=code,
        iban=iban.replace(" ", "").upper() if iban else None,
        bic=_text(seller.get("bic")),
        account_name=_text(seller.get("payment_account_name")),
        remittance_information=number,
        terms=terms,
    )


def _default_category(document: dict[str, Any], rate: Decimal) -> str:
    if rate > 0:
        return "S"
    return _text(document.get("default_vat_category")) or "Z"


def _lines(document: dict[str, Any], currency: str) -> list[tuple[model.Line, dict[str, Any]]]:
    items = sorted(document.get("items") or [], key=lambda item: item.get("position") or 0)
    document_rate = _decimal(document.get("tax_rate"))
    lines = []
    for index, item in enumerate(items, start=1):
        rate = _decimal(item.get("tax_rate"), str(document_rate))
        category = _text(item.get("vat_category")) or _default_category(document, rate)
        description = _text(item.get("description")) or f"Line {index}"
        quantity = _decimal(item.get("quantity"), "1")
        price = _decimal(item.get("rate"))
        amount = item.get("amount")
        net = model.money(_decimal(amount), currency) if amount is not None else None
        line = model.Line(
            id=str(index),
            name=description.splitlines()[0][:200],
            description=description if len(description) > 200 or "\n" in description else None,
            quantity=quantity,
            net_price=price,
            net_amount=net if net is not None else model.line_amount(quantity, price, currency),
            vat_category=category,
            vat_rate=Decimal(0) if category in model.ZERO_RATED else rate,
        )
        lines.append((line, item))
    if not lines:  # a credit note of an amount: one line for it
        subtotal = model.money(_decimal(document.get("subtotal")), currency)
        rate = document_rate
        category = _default_category(document, rate)
        name = _text(document.get("reason")) or "Credit"
        line = model.Line(
            id="1",
            name=name[:200],
            quantity=Decimal(1),
            net_price=subtotal,
            net_amount=subtotal,
            vat_category=category,
            vat_rate=Decimal(0) if category in model.ZERO_RATED else rate,
        )
        lines.append((line, {}))
    return lines


def split_discount(
    discount: Decimal, groups: dict[tuple[str, Decimal], Decimal], currency: str
) -> dict[tuple[str, Decimal], Decimal]:
    """The document discount over the (category, rate) groups in proportion to their line
    totals, as the tax model's SQL splits it (docs/einvoicing.md, "Splitting the
    discount"): from the smallest group to the largest (equal ones: the later category and
    rate first), each takes round(discount x running total / subtotal) less what the groups
    before it took, so the largest comes last with the remainder."""
    total = sum(groups.values(), Decimal(0))
    if not discount or not total:
        return {}
    ordered = sorted(sorted(groups, reverse=True), key=lambda key: groups[key])
    shares: dict[tuple[str, Decimal], Decimal] = {}
    running = taken = Decimal(0)
    for key in ordered:
        running += groups[key]
        reached = model.money(discount * running / total, currency)
        if reached - taken:
            shares[key] = reached - taken
        taken = reached
    return shares


def _breakdown(
    document: dict[str, Any],
    lines: list[tuple[model.Line, dict[str, Any]]],
    currency: str,
) -> tuple[tuple[model.TaxSubtotal, ...], tuple[model.AllowanceCharge, ...]]:
    rows = document.get("tax_breakdown")
    if rows:
        breakdown = []
        allowances = []
        for row in rows:
            category = _text(row.get("vat_category")) or "S"
            rate = Decimal(0) if category in model.ZERO_RATED else _decimal(row.get("tax_rate"))
            breakdown.append(
                model.TaxSubtotal(
                    vat_category=category,
                    vat_rate=rate,
                    taxable_amount=model.money(_decimal(row.get("taxable_amount")), currency),
                    tax_amount=model.money(_decimal(row.get("tax_amount")), currency),
                    exemption_reason_code=_text(row.get("tax_exemption_reason_code")),
                    exemption_reason=_text(row.get("tax_exemption_reason")),
                )
            )
            allowance = model.money(_decimal(row.get("allowance_amount")), currency)
            if allowance:
                allowances.append(
                    model.AllowanceCharge(
                        amount=allowance,
                        vat_category=category,
                        vat_rate=rate,
                        reason=DISCOUNT_REASON,
                        reason_code=DISCOUNT_REASON_CODE,
                    )
                )
        return tuple(breakdown), tuple(allowances)
    groups: dict[tuple[str, Decimal], Decimal] = {}
    reasons: dict[str, tuple[str | None, str | None]] = {}
    for line, item in lines:
        key = (line.vat_category, line.vat_rate)
        groups[key] = groups.get(key, Decimal(0)) + line.net_amount
        reason = (
            _text(item.get("tax_exemption_reason_code")),
            _text(item.get("tax_exemption_reason")),
        )
        if any(reason):
            reasons.setdefault(line.vat_category, reason)
    discount = model.money(_decimal(document.get("discount")), currency)
    allowances_tuple = tuple(
        model.AllowanceCharge(
            amount=share,
            vat_category=category,
            vat_rate=rate,
            reason=DISCOUNT_REASON,
            reason_code=DISCOUNT_REASON_CODE,
        )
        for (category, rate), share in sorted(split_discount(discount, groups, currency).items())
    )
    breakdown_tuple = model.tax_breakdown(
        [line for line, _ in lines], allowances_tuple, (), currency, reasons
    )
    return breakdown_tuple, allowances_tuple


def from_document(document: dict[str, Any], *, credit_note: bool = False) -> model.Invoice:
    """The exchange model of an invoice document, or (``credit_note``) a credit note's."""
    currency = (_text(document.get("currency")) or "EUR").upper()
    if credit_note:
        number = _text(document.get("credit_note_number")) or ""
    else:
        number = _text(document.get("invoice_number")) or ""
    seller_data = document.get("seller") or _fallback_seller(document)
    buyer_data = document.get("buyer") or _fallback_buyer(document)
    business = document.get("business") or {}
    client = document.get("client") or {}
    lines = _lines(document, currency)
    breakdown, allowances = _breakdown(document, lines, currency)
    intra = any(group.vat_category == "K" for group in breakdown)
    credited = _text(document.get("credited_invoice_number")) if credit_note else None
    model_lines = tuple(line for line, _ in lines)
    subtotal = model.money(_decimal(document.get("subtotal")), currency)
    discount = model.money(_decimal(document.get("discount")), currency)
    tax_amount = model.money(_decimal(document.get("tax_amount")), currency)
    total = model.money(_decimal(document.get("total_amount")), currency)
    prepaid = Decimal(0)
    if not credit_note:
        paid = _decimal(document.get("amount_paid")) + _decimal(document.get("amount_credited"))
        prepaid = model.money(min(paid, total), currency)
    totals = model.Totals(
        line_net_total=subtotal,
        allowance_total=discount,
        charge_total=Decimal(0),
        tax_exclusive=subtotal - discount,
        tax_total=tax_amount,
        tax_inclusive=total,
        prepaid=prepaid,
        payable=total - prepaid,
    )
    issued = _date(document.get("issue_date"))
    if issued is None:
        raise ValueError("the document has no issue_date")
    notes = _text(document.get("notes"))
    if credit_note and _text(document.get("reason")):
        notes = "\n".join(part for part in (_text(document.get("reason")), notes) if part)
    return model.Invoice(
        number=number,
        type_code=model.CREDIT_NOTE if credit_note else model.COMMERCIAL_INVOICE,
        issue_date=issued,
        due_date=None if credit_note else _date(document.get("due_date")),
        currency=currency,
        seller=party(seller_data, _text(business.get("name")) or "", seller=True),
        buyer=party(buyer_data, _text(client.get("company_name")) or ""),
        lines=model_lines,
        tax_breakdown=breakdown,
        totals=totals,
        buyer_reference=_text(document.get("buyer_reference")),
        purchase_order_reference=_text(document.get("purchase_order_reference")),
        note=notes,
        payment=_payment(document, seller_data, number, credited),
        allowances=allowances,
        preceding_invoice_reference=credited,
        # An intra-community supply (K) needs a delivery date or period (BR-IC-11) and the
        # deliver-to country (BR-IC-12): the issue date and the buyer's address, unless the
        # document says otherwise (docs/einvoicing.md).
        delivery_date=_date(document.get("delivery_date")) or (issued if intra else None),
        delivery_address=party(buyer_data).address if intra else None,
    )

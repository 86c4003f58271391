"""E-invoices (UBL 2.1, CII D16B, Factur-X / ZUGFeRD PDFs) read into a vendor-invoice
import (`parse_einvoice`): one document per file, validated against the official rules
(XSD + the CEN EN 16931 Schematron, and XRechnung's when the document claims it;
shared/einvoice/validate.py), mapped to the `Parsed` shape the import RPC stores
(docs/api.md, "E-invoices in").

A document is imported whole or not at all: a reading error, a broken rule (its id and
message: ``BR-CO-10: ...``) or a value the vendor invoices cannot hold (a negative line, a
price with more than 4 decimals) rejects it with the reason, and nothing of it is stored.

A credit note (a UBL CreditNote, a CII/Factur-X type 381, any of UNCL1001's credit note
codes) is imported as a **vendor credit note** (``"document_type": "credit_note"``, with
BT-25/BT-26, the invoice it refers to): the import RPC stores it beside the vendor's
invoices, never in matching (docs/payables.md, "Vendor credit notes"). Its amounts are
positive, as EN 16931 writes a credit note's.

The mapping (EN 16931 terms):

- vendor: the seller (BT-27 name, BT-31 VAT id). The VAT id never reaches the database in
  clear: `parse_einvoice` adds its keyed hash, what the vendors are matched by
  (shared/reconciliation/vendor_tax_ids.py), and `vendor_tax_ids.seal_vendor_tax_ids` (which
  `shared.reconciliation.imports.store` calls) replaces the clear value with the KMS seal a
  vendor the import creates gets. A caller that stores otherwise calls it first.
- invoice: BT-1 number, BT-2 date, BT-9 due date, BT-5 currency, BT-13 purchase order
  reference (-> ``po_number`` when it fits its 50 characters, which matching reads), BT-10
  buyer reference, BT-22 notes; totals BT-106 (``subtotal``), BT-110 (``tax_amount``),
  BT-112 (``total_amount``), BT-107, BT-108, BT-113, BT-115, and the VAT breakdown (BG-23).
- lines: BT-126 (its line number when it is one), the buyer's item id (BT-156, the code
  the organization's own purchase order uses) else the seller's (BT-155) else the standard
  id (BT-157) as ``item_code``, BT-153 name, BT-129 quantity, BT-146 / BT-149 net price per
  unit, BT-131 net amount, BT-151/152 VAT category and rate, the category's exemption
  reason (BT-120/121) from the breakdown.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.einvoice import model
from shared.einvoice import read as reader
from shared.reconciliation.ingest.documents import Parsed, RowError

# The type codes of credit notes (UNCL1001): imported as vendor credit notes.
CREDIT_NOTE_TYPES = frozenset(
    {"81", "83", "261", "262", "296", "308", "381", "396", "420", "458", "532"}
)
MAX_AMOUNT = Decimal("1e12")
MAX_FINDINGS = 20  # errors recorded per rejected document (the first ones)


@dataclass(frozen=True)
class Rejection:
    """Why one document is not imported: a rule id (``BR-CO-10``, ``XSD``, or the
    reader's code) and a sentence; ``location`` is where in the XML."""

    rule_id: str
    message: str
    location: str | None = None


def digest(data: bytes) -> str:
    """The document's identity: SHA-256 of its bytes, hex (vendor_invoices.source_hash)."""
    return hashlib.sha256(data).hexdigest()


def parse_einvoice(data: bytes, filename: str, *, row: int = 0, validate: bool = True) -> Parsed:
    """One e-invoice file (UBL or CII XML, or a Factur-X / ZUGFeRD PDF) as a vendor-invoice
    import of one document, or of none with the reasons in ``errors`` (row ``row``: 0, the
    file, for an upload; the document's index in a JSON import). Never raises for bad
    input. ``validate=False`` skips the rules (tests and benchmarks only)."""
    try:
        document = read_document(data, filename, validate=validate)
    except _Rejected as rejected:
        errors = [
            RowError(
                row,
                r.rule_id[:100],
                None if r.location is None else r.location[:500],
                f"{filename}: {r.rule_id}: {r.message}"
                if r.rule_id not in ("document",)
                else f"{filename}: {r.message}",
            )
            for r in rejected.reasons[:MAX_FINDINGS]
        ]
        if len(rejected.reasons) > MAX_FINDINGS:
            errors.append(
                RowError(
                    row,
                    None,
                    None,
                    f"{filename}: and {len(rejected.reasons) - MAX_FINDINGS} more broken rules",
                )
            )
        return Parsed("vendor_invoices", [], errors, 1)
    _hash_vendor_tax_id(document)
    document["index"] = row
    document["rows"] = [row]
    for line in document["lines"]:
        line["row"] = row
    return Parsed("vendor_invoices", [document], [], 1)


class _Rejected(Exception):
    def __init__(self, reasons: Sequence[Rejection]) -> None:
        super().__init__(reasons[0].message if reasons else "rejected")
        self.reasons = list(reasons)


def read_document(data: bytes, filename: str, *, validate: bool = True) -> dict[str, Any]:
    """The import RPC's document for one e-invoice (raises `_Rejected`)."""
    warnings: list[str] = []
    try:
        invoice, fmt, xml, root = reader.read_parsed(data)
        if invoice.syntax == "zugferd1":
            # Before EN 16931: its XSD and the totals' arithmetic, and a warning that the
            # EN 16931 rules were not applied (shared/einvoice/zugferd1.py).
            from shared.einvoice import zugferd1  # noqa: PLC0415

            checked = zugferd1.validate(xml, invoice, root) if validate else []
            fatal = [f for f in checked if f.flag == "fatal"]
            if fatal:
                raise _Rejected([Rejection(f.rule_id, f.message, f.location) for f in fatal])
            warnings.append(f"{zugferd1.NOT_EN16931}: {zugferd1.not_en16931(invoice).message}")
        elif validate:
            findings = _validate(xml, profile_of(invoice), root)
            if findings:
                raise _Rejected(findings)
    except reader.ReadError as error:
        raise _Rejected([Rejection(error.code, error.message, error.location)]) from None
    document = to_document(invoice)
    if warnings:
        # Not stored by the import RPC (it reads the columns it names): the routes report
        # them with the accepted document.
        document["warnings"] = warnings
    document["source_format"] = fmt
    document["source_hash"] = digest(data)
    document["source_file_name"] = filename[:255]
    return document


def profile_of(invoice: reader.ReadInvoice) -> str:
    """The rules a document read in is held to: the CEN EN 16931 rules of its syntax, and
    KoSIT's XRechnung rules too when its specification (BT-24) says XRechnung. A Peppol
    document gets the CEN rules: Peppol's own are the sending access point's to check, and
    a buyer takes any EN 16931 invoice (our Peppol checks are for what we write)."""
    spec = (invoice.specification_id or "").lower()
    base = "xrechnung" if "xrechnung" in spec else "en16931"
    return f"{base}-{invoice.syntax}"


def _validate(xml: bytes, profile: str, root: Any = None) -> list[Rejection]:
    """The fatal findings of the official rules of ``profile`` (``root``: ``xml`` parsed)."""
    from shared.einvoice import validate as rules  # noqa: PLC0415 (Saxon only when needed)

    try:
        return _findings(rules, xml, profile, root)
    except Exception as error:  # a document the rule engine chokes on is still refused
        return [
            Rejection(
                "validation",
                f"the EN 16931 rules could not be run on this document ({type(error).__name__})",
            )
        ]


def _findings(rules: Any, xml: bytes, profile: str, root: Any = None) -> list[Rejection]:
    findings = rules.fatal(rules.validate(xml, profile, root=root))
    return [
        Rejection(f.rule_id, _without_id(f.rule_id, f.message), f.location or None)
        for f in findings
    ]


def _without_id(rule_id: str, message: str) -> str:
    """The rule's message without the id it repeats (``[BR-CO-15]-The Invoice ...``)."""
    for prefix in (f"[{rule_id}]-", f"[{rule_id}] -", f"[{rule_id}]"):
        if message.startswith(prefix):
            return message[len(prefix) :].strip()
    return message


def _money(value: Decimal) -> str:
    return format(value, "f")


def _scale(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def to_document(invoice: model.Invoice) -> dict[str, Any]:  # noqa: PLR0912, PLR0915
    """The model read from a document as the import RPC's vendor invoice (raises
    `_Rejected` with every value the vendor invoices cannot hold)."""
    problems: list[Rejection] = []

    def refuse(rule: str, message: str, location: str | None = None) -> None:
        problems.append(Rejection(rule, message, location))

    credit_note = invoice.type_code in CREDIT_NOTE_TYPES
    seller = invoice.seller
    name = " ".join(seller.name.split())
    if not name:
        refuse("BT-27", "the seller's name is missing")
    elif len(name) > 200:
        refuse("BT-27", "the seller's name is longer than 200 characters")
    if len(invoice.number.strip()) > 50:
        refuse("BT-1", f"the invoice number {invoice.number[:60]!r} is longer than 50 characters")
    if not invoice.lines:
        refuse("BG-25", "the invoice has no lines (a Factur-X MINIMUM or BASIC WL carries none)")
    preceding = invoice.preceding_invoice_reference
    if credit_note and preceding is not None and len(preceding.strip()) > 200:
        refuse("BT-25", "the preceding invoice reference is longer than 200 characters")
    totals = invoice.totals
    for label, value in (
        ("BT-106", totals.line_net_total),
        ("BT-110", totals.tax_total),
        ("BT-112", totals.tax_inclusive),
    ):
        if value < 0 or value >= MAX_AMOUNT:
            refuse(label, f"{label} is {value}: vendor invoices hold amounts from 0 to 10^12")
    reasons = {t.vat_category: t for t in invoice.tax_breakdown}
    lines: list[dict[str, Any]] = []
    numbers: set[int] = set()
    for position, line in enumerate(invoice.lines, start=1):
        label = f"line {line.id}"
        number = int(line.id) if line.id.isdigit() and 1 <= int(line.id) <= 100_000 else None
        if number is None or number in numbers:
            number = position
            while number in numbers:
                number += 1
        numbers.add(number)
        base = getattr(line, "price_base_quantity", None) or Decimal(1)
        if base <= 0:
            refuse("BT-149", f"{label}: the price's base quantity {base} is not positive")
            base = Decimal(1)
        unit_price = line.net_price / base
        if line.quantity <= 0:
            refuse(
                "BT-129",
                f"{label}: the quantity {line.quantity} is not positive (a return or a "
                "correction line): vendor invoices hold positive lines; ask the vendor for a "
                "credit note",
            )
        elif line.quantity >= Decimal("1e9") or _scale(line.quantity) > 4:
            refuse("BT-129", f"{label}: the quantity {line.quantity} has more than 4 decimals")
        if unit_price < 0 or unit_price >= MAX_AMOUNT or _scale(unit_price) > 4:
            refuse(
                "BT-146",
                f"{label}: the net price per unit {unit_price} is negative, too large or has "
                "more than 4 decimals",
            )
        if line.net_amount < 0 or line.net_amount >= MAX_AMOUNT:
            refuse("BT-131", f"{label}: the net amount {line.net_amount} is negative or too large")
        item_code = (
            getattr(line, "buyer_item_id", None)
            or getattr(line, "seller_item_id", None)
            or getattr(line, "standard_item_id", None)
        )
        description = " ".join((line.name or line.description or item_code or "").split())
        if not description:
            refuse("BT-153", f"{label}: the item's name is missing")
        breakdown = reasons.get(line.vat_category)
        rate_given = getattr(line, "vat_rate_given", True)
        lines.append(
            {
                "row": 0,
                "at": "",
                "line_number": number,
                "item_code": None if item_code is None else item_code[:100],
                "description": description[:2000],
                "quantity": _money(line.quantity.normalize()),
                "unit_price": _money(unit_price.normalize() if _scale(unit_price) else unit_price),
                "amount": _money(line.net_amount),
                "vat_category": line.vat_category or None,
                "tax_rate": _money(line.vat_rate) if rate_given else None,
                "tax_exemption_reason_code": breakdown.exemption_reason_code if breakdown else None,
                "tax_exemption_reason": (
                    breakdown.exemption_reason[:1000]
                    if breakdown and breakdown.exemption_reason
                    else None
                ),
                "order_line_reference": getattr(line, "order_line_reference", None),
            }
        )
    if problems:
        raise _Rejected(problems)
    reference = invoice.purchase_order_reference
    address = seller.address
    address_text = ", ".join(
        part
        for part in (
            address.line1,
            address.line2,
            " ".join(p for p in (address.postal_code, address.city) if p) or None,
            address.subdivision,
            address.country_code,
        )
        if part
    )
    return {
        "vendor_name": name,
        "invoice_number": invoice.number.strip(),
        "invoice_date": invoice.issue_date.isoformat(),
        "due_date": None
        if invoice.due_date is None or invoice.due_date < invoice.issue_date
        else invoice.due_date.isoformat(),
        "po_number": reference if reference and len(reference) <= 50 else None,
        "currency": invoice.currency.upper(),
        "subtotal": _money(totals.line_net_total),
        "tax_amount": _money(totals.tax_total),
        "total_amount": _money(totals.tax_inclusive),
        "notes": None if invoice.note is None else invoice.note[:5000],
        "buyer_reference": None
        if invoice.buyer_reference is None
        else invoice.buyer_reference[:200],
        "purchase_order_reference": None if reference is None else reference[:200],
        "allowance_total": _money(totals.allowance_total),
        "charge_total": _money(totals.charge_total),
        "prepaid_amount": _money(totals.prepaid),
        "amount_due": _money(totals.payable),
        "tax_currency": getattr(invoice, "tax_currency", None),
        "tax_breakdown": [
            {
                "vat_category": t.vat_category,
                "tax_rate": _money(t.vat_rate),
                "taxable_amount": _money(t.taxable_amount),
                "tax_amount": _money(t.tax_amount),
                "tax_exemption_reason_code": t.exemption_reason_code,
                "tax_exemption_reason": t.exemption_reason,
            }
            for t in invoice.tax_breakdown
        ],
        # The seller's details for a vendor the import creates (and its VAT id, replaced
        # by its hash and seal before the RPC: seal_vendor_tax_ids).
        "vendor_tax_id": seller.vat_id,
        "vendor_email": None if seller.email is None else seller.email[:320],
        "vendor_phone": None if seller.phone is None else seller.phone[:50],
        "vendor_address": address_text[:500] or None,
        "lines": lines,
        **(
            {
                "document_type": "credit_note",
                "preceding_invoice_reference": None
                if not preceding or not preceding.strip()
                else preceding.strip(),
                "preceding_invoice_date": None
                if invoice.preceding_invoice_date is None
                else invoice.preceding_invoice_date.isoformat(),
            }
            if credit_note
            else {}
        ),
    }


def _hash_vendor_tax_id(document: dict[str, Any]) -> None:
    """The keyed hash of the seller's VAT id, what vendors are found by (it needs no
    organization: `seal_vendor_tax_ids` adds the seal a new vendor gets). Without the
    stage's FIELD_HASH_KEY the document is matched by name only."""
    clear = document.get("vendor_tax_id")
    if not clear:
        return
    from shared import envelope  # noqa: PLC0415
    from shared.reconciliation import vendor_tax_ids  # noqa: PLC0415

    try:
        document["vendor_tax_id_hash"] = vendor_tax_ids.lookup_hash(clear)
    except envelope.EnvelopeError:
        return


def merge(parts: Sequence[Parsed]) -> Parsed:
    """Several files' `Parsed` as one batch (a JSON import of several e-invoices)."""
    documents = [d for p in parts for d in p.documents]
    errors = sorted((e for p in parts for e in p.errors), key=lambda e: e.row)
    return Parsed("vendor_invoices", documents, errors, sum(p.rows_total for p in parts))

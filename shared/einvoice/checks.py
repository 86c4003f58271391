"""Our own checks of the Peppol BIS Billing 3.0 rules we rely on, for want of the official
Schematron in any registry package (docs/einvoicing.md). Each finding names the Peppol
rule id it checks and carries ``source="ours"``; the rules' texts follow
docs.peppol.eu/poacc/billing/3.0/rules (PEPPOL-EN16931-R001 ...)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from shared.einvoice.findings import Finding

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
PEPPOL_SPEC = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
PEPPOL_PROCESS_PREFIX = "urn:fdc:peppol.eu:"
# Peppol BIS 3.0's allowed document type codes (PEPPOL-EN16931-P0100 / P0101), the ones we
# may write.
INVOICE_TYPES = {
    *("71", "80", "82", "84", "102", "218", "219", "331", "380", "382", "383", "386"),
    *("388", "393", "395", "553", "575", "623", "780", "817", "870", "875", "876", "877"),
}
CREDIT_TYPES = {"81", "83", "381", "396", "532"}


def _text(root: Any, path: str) -> list[str]:
    return [str(value).strip() for value in root.xpath(path, namespaces=NS)]


def _decimal(value: str) -> Decimal | None:
    try:
        return Decimal(value)
    except InvalidOperation:
        return None


def _first(root: Any, path: str) -> Decimal | None:
    values = _text(root, path)
    return _decimal(values[0]) if values else None


def _sum(root: Any, path: str) -> Decimal:
    return sum((_decimal(value) or Decimal(0) for value in _text(root, path)), Decimal(0))


def _ours(rule: str, message: str, location: str = "/") -> Finding:
    return Finding(rule, "fatal", f"[{rule}] {message}", location, "ours")


def peppol(root: Any) -> list[Finding]:
    """The findings of our Peppol BIS Billing 3.0 checks on a UBL Invoice or CreditNote."""
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(root))
    return findings


def _r001(root: Any) -> list[Finding]:
    process = _text(root, "cbc:ProfileID/text()")
    if not process:
        return [_ours("PEPPOL-EN16931-R001", "Business process MUST be provided.")]
    if not process[0].startswith(PEPPOL_PROCESS_PREFIX):
        message = (
            "Business process MUST be in the format 'urn:fdc:peppol.eu:2017:poacc:billing:NN:1.0'."
        )
        return [_ours("PEPPOL-EN16931-R007", message, "/cbc:ProfileID")]
    return []


def _r002(root: Any) -> list[Finding]:
    if len(root.xpath("cbc:Note", namespaces=NS)) > 1:
        return [_ours("PEPPOL-EN16931-R002", "No more than one note is allowed on document level.")]
    return []


def _r003(root: Any) -> list[Finding]:
    if not _text(root, "cbc:BuyerReference/text()") and not _text(
        root, "cac:OrderReference/cbc:ID/text()"
    ):
        message = "A buyer reference or purchase order reference MUST be provided."
        return [_ours("PEPPOL-EN16931-R003", message)]
    return []


def _r004(root: Any) -> list[Finding]:
    spec = _text(root, "cbc:CustomizationID/text()")
    if not spec or not spec[0].startswith(PEPPOL_SPEC):
        message = f"Specification identifier MUST have the value '{PEPPOL_SPEC}'."
        return [_ours("PEPPOL-EN16931-R004", message, "/cbc:CustomizationID")]
    return []


def _r008(root: Any) -> list[Finding]:
    empty = [
        element
        for element in root.iter()
        if isinstance(element.tag, str) and len(element) == 0 and not (element.text or "").strip()
    ]
    return [
        _ours(
            "PEPPOL-EN16931-R008",
            "Document MUST not contain empty elements.",
            root.getroottree().getpath(element),
        )
        for element in empty
    ]


def _endpoints(root: Any) -> list[Finding]:
    findings = []
    for rule, party in (
        ("PEPPOL-EN16931-R020", "cac:AccountingSupplierParty"),
        ("PEPPOL-EN16931-R010", "cac:AccountingCustomerParty"),
    ):
        ids = root.xpath(f"{party}/cac:Party/cbc:EndpointID", namespaces=NS)
        role = "Seller" if "Supplier" in party else "Buyer"
        if not ids or not (ids[0].text or "").strip():
            findings.append(_ours(rule, f"{role} electronic address MUST be provided", f"/{party}"))
        elif not ids[0].get("schemeID"):
            message = f"{role} electronic address MUST have a scheme identifier"
            findings.append(_ours(rule, message, f"/{party}"))
    return findings


def _r051(root: Any) -> list[Finding]:
    currency = (_text(root, "cbc:DocumentCurrencyCode/text()") or [""])[0]
    tax_currency = (_text(root, "cbc:TaxCurrencyCode/text()") or [""])[0]
    wrong = [
        attribute
        for attribute in root.xpath("//@currencyID", namespaces=NS)
        if attribute not in (currency, tax_currency)
    ]
    if wrong:
        message = (
            "All currencyID attributes MUST have the same value as the invoice currency code "
            "(BT-5), except for the invoice total VAT amount in accounting currency (BT-111)."
        )
        return [_ours("PEPPOL-EN16931-R051", message)]
    return []


def _r053(root: Any) -> list[Finding]:
    with_subtotals = root.xpath("cac:TaxTotal[cac:TaxSubtotal]", namespaces=NS)
    if len(with_subtotals) != 1:
        return [
            _ours("PEPPOL-EN16931-R053", "Only one tax total with tax subtotals MUST be provided.")
        ]
    return []


def _r120(root: Any) -> list[Finding]:
    """R120: line net amount = quantity x (price / base quantity) + charges - allowances,
    to the currency's two decimals; R121: a base quantity is positive."""
    findings = []
    for line in root.xpath("cac:InvoiceLine | cac:CreditNoteLine", namespaces=NS):
        quantity = _decimal(
            (_text(line, "cbc:InvoicedQuantity/text() | cbc:CreditedQuantity/text()") or ["x"])[0]
        )
        price = _first(line, "cac:Price/cbc:PriceAmount/text()")
        amount = _first(line, "cbc:LineExtensionAmount/text()")
        base_text = _text(line, "cac:Price/cbc:BaseQuantity/text()")
        base = _decimal(base_text[0]) if base_text else Decimal(1)
        location = line.getroottree().getpath(line)
        if base is None or base <= 0:
            message = "Base quantity MUST be a positive number above zero."
            findings.append(_ours("PEPPOL-EN16931-R121", message, location))
            continue
        if quantity is None or price is None or amount is None:
            continue
        charges = _sum(line, "cac:AllowanceCharge[cbc:ChargeIndicator='true']/cbc:Amount/text()")
        allowances = _sum(
            line, "cac:AllowanceCharge[cbc:ChargeIndicator='false']/cbc:Amount/text()"
        )
        expected = (quantity * price / base + charges - allowances).quantize(Decimal("0.01"))
        if amount != expected:
            message = (
                "Invoice line net amount MUST equal (Invoiced quantity * (Item net price/item "
                "price base quantity) + Sum of invoice line charge amount - sum of invoice line "
                f"allowance amount: {amount} != {expected}"
            )
            findings.append(_ours("PEPPOL-EN16931-R120", message, location))
    return findings


def _p0100(root: Any) -> list[Finding]:
    invoice = _text(root, "cbc:InvoiceTypeCode/text()")
    credit = _text(root, "cbc:CreditNoteTypeCode/text()")
    if invoice and invoice[0] not in INVOICE_TYPES:
        return [
            _ours("PEPPOL-EN16931-P0100", "Invoice type code MUST be set according to the profile.")
        ]
    if credit and credit[0] not in CREDIT_TYPES:
        return [
            _ours(
                "PEPPOL-EN16931-P0101",
                "Credit note type code MUST be set according to the profile.",
            )
        ]
    return []


def _r061(root: Any) -> list[Finding]:
    """PEPPOL-EN16931-R061: direct debit (49, 59) needs the mandate reference; R043 and
    company id checks are out of our scope (we write no such schemes)."""
    codes = _text(root, "cac:PaymentMeans/cbc:PaymentMeansCode/text()")
    if any(code in ("49", "59") for code in codes) and not _text(
        root, "cac:PaymentMeans/cac:PaymentMandate/cbc:ID/text()"
    ):
        return [
            _ours("PEPPOL-EN16931-R061", "Mandate reference MUST be provided for direct debit.")
        ]
    return []


CHECKS: tuple[Callable[[Any], list[Finding]], ...] = (
    _r001,
    _r002,
    _r003,
    _r004,
    _r008,
    _endpoints,
    _r051,
    _r053,
    _r061,
    _r120,
    _p0100,
)

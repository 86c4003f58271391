"""Our own checks of the Peppol BIS Billing 3.0 rules, for want of the official Schematron
in any registry package (docs/einvoicing.md, "What is ours"). Each finding names the Peppol
rule id it checks, carries the rule's flag and ``source="ours"``; the tests are the
published rules' (docs.peppol.eu/poacc/billing/3.0/rules, the UBL Schematron of release
3.0.19, May 2025), rule by rule, including which node a rule applies to: in a Schematron
pattern a node is checked by the first rule whose context it matches (so an allowance with
a percentage and no base amount breaks R041 and is not checked for R040 or R043).

Checked: R001 ... R008, R010, R020, R040 ... R044, R046, R051, R053 ... R055, R061, R080,
R100, R101, R110, R111, R120, R121, R130, PEPPOL-COMMON-R040 ... R050 (identifiers by ICD
scheme: shared.einvoice.peppol_ids), CL007 (ISO 4217), CL008 (EAS), P0100, P0101,
P0104 ... P0112, F001. Not checked: CL001, CL002, CL003 and CL006 (the CEN rules
BR-CL-24, 19, 20 and 06 run on the same lists), the national rules (NO, DK, IT, SE, GR,
IS, NL, DE-R) and the rule ids the published set no longer has (R006, R045,
CL004, CL005, COMMON-R048)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from lxml import etree

from shared.einvoice.findings import Finding, Flag
from shared.einvoice.peppol_ids import (
    EAS,
    ENDPOINT_ONLY,
    ISO4217,
    SCHEMES,
    normalize_space,
    words,
)
from shared.einvoice.peppol_ids import decimal_or_none as _decimal

NS = {
    "cac": "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2",
    "cbc": "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2",
}
_CBC = "{" + NS["cbc"] + "}"
INVOICE_NS = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
PEPPOL_SPEC = "urn:cen.eu:en16931:2017#compliant#urn:fdc:peppol.eu:2017:poacc:billing:3.0"
# R007: XPath's matches() finds the pattern anywhere in the normalized ProfileID (its dots
# match any character, as the rule's); the profile is then the ID's 7th ':' token.
PEPPOL_PROCESS = re.compile(r"urn:fdc:peppol.eu:2017:poacc:billing:([0-9]{2}):1.0")
# P0100 / P0101 (profile 01), P0112: 326 and 384 only between German parties.
INVOICE_TYPES = words(
    "71 80 82 84 102 218 219 326 331 380 382 383 384 386 388 393 395 553 575 623 780 817 "
    "870 875 876 877"
)
GERMAN_INVOICE_TYPES = frozenset({"326", "384"})
CREDIT_TYPES = frozenset({"81", "83", "381", "396", "532"})
# P0104 ... P0111: an exemption reason code -> the only category it may go with.
EXEMPTION_CATEGORIES = {
    "VATEX-EU-G": ("PEPPOL-EN16931-P0104", "G"),
    "VATEX-EU-O": ("PEPPOL-EN16931-P0105", "O"),
    "VATEX-EU-IC": ("PEPPOL-EN16931-P0106", "K"),
    "VATEX-EU-AE": ("PEPPOL-EN16931-P0107", "AE"),
    "VATEX-EU-D": ("PEPPOL-EN16931-P0108", "E"),
    "VATEX-EU-F": ("PEPPOL-EN16931-P0109", "E"),
    "VATEX-EU-I": ("PEPPOL-EN16931-P0110", "E"),
    "VATEX-EU-J": ("PEPPOL-EN16931-P0111", "E"),
}
# The amounts R051 holds to the document currency (BT-111, the tax total without
# subtotals, is the one amount in the tax currency) and CL007 to ISO 4217 (every TaxAmount).
_AMOUNTS = words(
    "Amount BaseAmount PriceAmount TaxAmount TaxableAmount LineExtensionAmount "
    "TaxExclusiveAmount TaxInclusiveAmount AllowanceTotalAmount ChargeTotalAmount "
    "PrepaidAmount PayableRoundingAmount PayableAmount"
)
_AMOUNT_TAGS = tuple(_CBC + name for name in _AMOUNTS)
_DATE_TAGS = tuple(
    _CBC + name
    for name in (
        "IssueDate",
        "DueDate",
        "TaxPointDate",
        "StartDate",
        "EndDate",
        "ActualDeliveryDate",
    )
)
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
SLACK = Decimal("0.02")


def _xpath(path: str) -> Any:
    return etree.XPath(path, namespaces=NS)


def _text(node: Any, path: Any) -> list[str]:
    """The normalized string values ``path`` (a compiled XPath) selects."""
    return [
        normalize_space(_string(value) if isinstance(value, etree._Element) else str(value))
        for value in path(node)
    ]


def _string(element: Any) -> str:
    return "".join(element.itertext())


def _ours(rule: str, message: str, location: str = "/", flag: Flag = "fatal") -> Finding:
    return Finding(rule, flag, f"[{rule}] {message}", location, "ours")


def _where(element: Any) -> str:
    return str(element.getroottree().getpath(element))


def peppol(root: Any) -> list[Finding]:
    """The findings of our Peppol BIS Billing 3.0 checks on a UBL Invoice or CreditNote."""
    context = _Context(root)
    findings: list[Finding] = []
    for check in CHECKS:
        findings.extend(check(root, context))
    return findings


class _Context:
    """What several rules read once: the Schematron's $profile and the parties' countries."""

    def __init__(self, root: Any) -> None:
        self.invoice = etree.QName(root).namespace == INVOICE_NS
        process = _text(root, _PROFILE_ID)
        tokens = process[0].split(":") if process else []
        matches = bool(process) and PEPPOL_PROCESS.search(process[0]) is not None
        self.profile = (tokens[6] if len(tokens) > 6 else "") if matches else "Unknown"
        # $supplierCountryIsDE and $customerCountryIsDE (the postal addresses' countries)
        self.german_parties = all(
            [code.upper() for code in _text(root, path)] == ["DE"]
            for path in (_SUPPLIER_COUNTRY, _CUSTOMER_COUNTRY)
        )
        self.document_currency = _text(root, _DOCUMENT_CURRENCY)
        self.tax_currency = _text(root, _TAX_CURRENCY)


_PROFILE_ID = _xpath("cbc:ProfileID/text()")
_COUNTRY = "cac:Party/cac:PostalAddress/cac:Country/cbc:IdentificationCode"
_SUPPLIER_COUNTRY = _xpath(f"cac:AccountingSupplierParty/{_COUNTRY}")
_CUSTOMER_COUNTRY = _xpath(f"cac:AccountingCustomerParty/{_COUNTRY}")
_DOCUMENT_CURRENCY = _xpath("cbc:DocumentCurrencyCode")
_TAX_CURRENCY = _xpath("cbc:TaxCurrencyCode")


# --- Document level ----------------------------------------------------------------------


def _document(root: Any, context: _Context) -> list[Finding]:
    """R001, R007, R002, R003, R004, R053, R054, R055, R005 and (credit notes) R080."""
    findings = []
    if not _PROFILE_ELEMENT(root):
        findings.append(_ours("PEPPOL-EN16931-R001", "Business process MUST be provided."))
    if context.profile == "Unknown":
        message = (
            "Business process MUST be in the format "
            "'urn:fdc:peppol.eu:2017:poacc:billing:NN:1.0' where NN indicates the process "
            "number."
        )
        findings.append(_ours("PEPPOL-EN16931-R007", message, "/cbc:ProfileID"))
    if len(_NOTES(root)) > 1 and not context.german_parties:
        message = (
            "No more than one note is allowed on document level, unless both the buyer and "
            "seller are German organizations."
        )
        findings.append(_ours("PEPPOL-EN16931-R002", message))
    if not _BUYER_REFERENCE(root) and not _ORDER_ID(root):
        message = "A buyer reference or purchase order reference MUST be provided."
        findings.append(_ours("PEPPOL-EN16931-R003", message))
    spec = [normalize_space(str(text)) for text in _CUSTOMIZATION(root)]
    if not "".join(spec).startswith(PEPPOL_SPEC):
        message = f"Specification identifier MUST have the value '{PEPPOL_SPEC}'."
        findings.append(_ours("PEPPOL-EN16931-R004", message, "/cbc:CustomizationID"))
    totals = _TAX_TOTALS(root)
    with_subtotals = [total for total in totals if _TAX_SUBTOTALS(total)]
    if len(with_subtotals) != 1:
        message = "Only one tax total with tax subtotals MUST be provided."
        findings.append(_ours("PEPPOL-EN16931-R053", message))
    without = len(totals) - len(with_subtotals)
    if without != (1 if context.tax_currency else 0):
        message = (
            "Only one tax total without tax subtotals MUST be provided when tax currency "
            "code is provided."
        )
        findings.append(_ours("PEPPOL-EN16931-R054", message))
    findings.extend(_r055(root, context))
    for code in context.tax_currency:
        if code == normalize_space("".join(context.document_currency)):
            message = (
                "VAT accounting currency code MUST be different from invoice currency code "
                "when provided."
            )
            findings.append(_ours("PEPPOL-EN16931-R005", message, "/cbc:TaxCurrencyCode"))
    if not context.invoice and len(_PROJECT_REFERENCES(root)) > 1:
        message = "Only one project reference is allowed on document level"
        findings.append(_ours("PEPPOL-EN16931-R080", message))
    return findings


_PROFILE_ELEMENT = _xpath("cbc:ProfileID")
_NOTES = _xpath("cbc:Note")
_BUYER_REFERENCE = _xpath("cbc:BuyerReference")
_ORDER_ID = _xpath("cac:OrderReference/cbc:ID")
_CUSTOMIZATION = _xpath("cbc:CustomizationID/text()")
_TAX_TOTALS = _xpath("cac:TaxTotal")
_TAX_SUBTOTALS = _xpath("cac:TaxSubtotal")
_TAX_TOTAL_AMOUNTS = _xpath("cac:TaxTotal/cbc:TaxAmount")
_PROJECT_REFERENCES = _xpath("cac:AdditionalDocumentReference[cbc:DocumentTypeCode='50']")


def _r055(root: Any, context: _Context) -> list[Finding]:
    """R055: BT-110 and BT-111 have the same sign. XPath's general comparison: some amount
    in the tax currency <= 0 and some in the document currency <= 0, or both >= 0."""
    if not context.tax_currency:
        return []
    tax_currency, currency = context.tax_currency[0], "".join(context.document_currency)
    amounts = _TAX_TOTAL_AMOUNTS(root)

    def values(code: str) -> list[Decimal]:
        found = [_decimal(_string(a)) for a in amounts if a.get("currencyID") == code]
        return [value for value in found if value is not None]

    in_tax, in_document = values(tax_currency), values(normalize_space(currency))
    same_sign = (any(v <= 0 for v in in_tax) and any(v <= 0 for v in in_document)) or (
        any(v >= 0 for v in in_tax) and any(v >= 0 for v in in_document)
    )
    if same_sign:
        return []
    message = (
        "Invoice total VAT amount and Invoice total VAT amount in accounting currency MUST "
        "have the same operational sign"
    )
    return [_ours("PEPPOL-EN16931-R055", message)]


def _r008(root: Any, _: _Context) -> list[Finding]:
    """R008: no element without element children whose string value is blank (XML
    whitespace: a no-break space is content)."""
    return [
        _ours("PEPPOL-EN16931-R008", "Document MUST not contain empty elements.", _where(element))
        for element in root.iter(tag=etree.Element)
        if _blank_leaf(element)
    ]


def _blank_leaf(element: Any) -> bool:
    text = element.text
    if text and text.strip(_XML_SPACE):
        return False  # the common case: a leaf with its text
    if len(element) and next(element.iterchildren(tag=etree.Element), None) is not None:
        return False
    return not _string(element).strip(_XML_SPACE)


_XML_SPACE = " \t\r\n"


def _endpoints(root: Any, _: _Context) -> list[Finding]:
    """R010 and R020: the buyer's and the seller's electronic address (its scheme is the
    CEN rules' BR-62 and BR-63)."""
    findings = []
    for rule, party, role in (
        ("PEPPOL-EN16931-R010", "cac:AccountingCustomerParty", "Buyer"),
        ("PEPPOL-EN16931-R020", "cac:AccountingSupplierParty", "Seller"),
    ):
        for element in root.xpath(f"{party}/cac:Party[not(cbc:EndpointID)]", namespaces=NS):
            message = f"{role} electronic address MUST be provided"
            findings.append(_ours(rule, message, _where(element)))
    return findings


# --- Allowances and charges --------------------------------------------------------------

_ALLOWANCES = _xpath(
    "cac:AllowanceCharge | cac:InvoiceLine/cac:AllowanceCharge | "
    "cac:CreditNoteLine/cac:AllowanceCharge"
)
_PRICE_ALLOWANCES = _xpath(".//cac:Price/cac:AllowanceCharge")


def _first(node: Any, tag: str) -> Any:
    return node.find(_CBC + tag)


def _allowances(root: Any, _: _Context) -> list[Finding]:
    """R041, R042, R040 and R043 on the document's and the lines' allowances and charges;
    R044 and R046 on the price's."""
    findings = []
    for element in _ALLOWANCES(root):
        where = _where(element)
        factor, base = _first(element, "MultiplierFactorNumeric"), _first(element, "BaseAmount")
        if factor is not None and base is None:
            message = (
                "Allowance/charge base amount MUST be provided when allowance/charge "
                "percentage is provided."
            )
            findings.append(_ours("PEPPOL-EN16931-R041", message, where))
            continue
        if factor is None and base is not None:
            message = (
                "Allowance/charge percentage MUST be provided when allowance/charge base "
                "amount is provided."
            )
            findings.append(_ours("PEPPOL-EN16931-R042", message, where))
            continue
        if factor is not None and base is not None:
            amount_element = _first(element, "Amount")
            amount = Decimal(0) if amount_element is None else _decimal(_string(amount_element))
            base_value, percent = _decimal(_string(base)), _decimal(_string(factor))
            if amount is not None and base_value is not None and percent is not None:
                expected = base_value * percent / 100
                if abs(amount - expected) > SLACK:
                    message = (
                        "Allowance/charge amount must equal base amount * percentage/100 if "
                        f"base amount and percentage exists: {amount} != {expected}"
                    )
                    findings.append(_ours("PEPPOL-EN16931-R040", message, where))
        indicator = _first(element, "ChargeIndicator")
        if indicator is None or normalize_space(_string(indicator)) not in ("true", "false"):
            message = "Allowance/charge ChargeIndicator value MUST equal 'true' or 'false'"
            findings.append(_ours("PEPPOL-EN16931-R043", message, where))
    for element in _PRICE_ALLOWANCES(root):
        where = _where(element)
        indicator = _first(element, "ChargeIndicator")
        if indicator is None or normalize_space(_string(indicator)) != "false":
            message = "Charge on price level is NOT allowed. Only value 'false' allowed."
            findings.append(_ours("PEPPOL-EN16931-R044", message, where))
        base = _first(element, "BaseAmount")
        if base is None:
            continue
        price = _first(element.getparent(), "PriceAmount")
        amount = _first(element, "Amount")
        values = [
            None if node is None else _decimal(_string(node)) for node in (price, base, amount)
        ]
        net, gross, allowance = values
        known = net is not None and gross is not None and allowance is not None
        if known and net != gross - allowance:  # type: ignore[operator]
            message = (
                "Item net price MUST equal (Gross price - Allowance amount) when gross "
                "price is provided."
            )
            findings.append(_ours("PEPPOL-EN16931-R046", message, where))
    return findings


# --- Payment, currencies, code lists -----------------------------------------------------

_PAYMENT_MEANS = _xpath("cac:PaymentMeans")


def _r061(root: Any, _: _Context) -> list[Finding]:
    """R061: each direct debit (49, 59) names its mandate."""
    findings = []
    for means in _PAYMENT_MEANS(root):
        code = _first(means, "PaymentMeansCode")
        if code is None or normalize_space(_string(code)) not in ("49", "59"):
            continue
        if not means.xpath("cac:PaymentMandate/cbc:ID", namespaces=NS):
            message = "Mandate reference MUST be provided for direct debit."
            findings.append(_ours("PEPPOL-EN16931-R061", message, _where(means)))
    return findings


def _currencies(root: Any, context: _Context) -> list[Finding]:
    """R051: every amount but BT-111 in the document currency (compared as written, as
    the rule); CL007: every amount's currency in Peppol's ISO 4217 list."""
    findings = []
    currency = "".join(_string(e) for e in _DOCUMENT_CURRENCY(root)[:1])
    for element in root.iter(*_AMOUNT_TAGS):
        code = element.get("currencyID")
        bt111 = element.tag == _CBC + "TaxAmount" and _is_bt111(element)
        if not bt111 and code != currency:
            message = (
                "All currencyID attributes must have the same value as the invoice currency "
                "code (BT-5), except for the invoice total VAT amount in accounting currency "
                "(BT-111)."
            )
            findings.append(_ours("PEPPOL-EN16931-R051", message, _where(element)))
        if code not in ISO4217:
            message = "Currency code must be according to ISO 4217:2005"
            findings.append(_ours("PEPPOL-EN16931-CL007", message, _where(element)))
    return findings


def _is_bt111(tax_amount: Any) -> bool:
    """A TaxAmount R051 leaves alone: a TaxTotal's without subtotals (BT-111), or one
    neither of a TaxTotal with subtotals nor of a TaxSubtotal (a line's, say)."""
    parent = etree.QName(tax_amount.getparent()).localname
    if parent == "TaxSubtotal":
        return False
    if parent == "TaxTotal":
        return not _TAX_SUBTOTALS(tax_amount.getparent())
    return True


_ENDPOINTS = _xpath("//cbc:EndpointID[@schemeID]")


def _cl008(root: Any, _: _Context) -> list[Finding]:
    """CL008: an electronic address's scheme is one of Peppol's EAS codes; fatal, as
    Peppol's. Our UBL writer no longer falls back to the email address under EM for
    Peppol (shared/einvoice/ubl.py, `endpoint`), so an email endpoint here is one the
    settings or the client named with scheme EM: the API refuses it, naming that field
    (shared/einvoice/service.py)."""
    return [
        _ours(
            "PEPPOL-EN16931-CL008",
            "Electronic address identifier scheme must be from the codelist "
            f'"Electronic Address Identifier Scheme": {element.get("schemeID")!r}',
            _where(element),
        )
        for element in _ENDPOINTS(root)
        if element.get("schemeID") not in EAS
    ]


_IDENTIFIERS = _xpath(
    "//cbc:EndpointID[@schemeID] | //cac:PartyIdentification/cbc:ID[@schemeID] | "
    "//cbc:CompanyID[@schemeID]"
)


def _identifiers(root: Any, _: _Context) -> list[Finding]:
    """PEPPOL-COMMON-R040 ... R050: an identifier under an ICD scheme has the scheme's
    format and check digits (shared.einvoice.peppol_ids)."""
    findings = []
    for element in _IDENTIFIERS(root):
        scheme = element.get("schemeID")
        rule = SCHEMES.get(scheme)
        if rule is None:
            continue
        if scheme in ENDPOINT_ONLY and element.tag != _CBC + "EndpointID":
            continue
        rule_id, flag, test, message, normalize = rule
        value = _string(element)
        if not test(normalize_space(value) if normalize else value):
            findings.append(_ours(rule_id, message, _where(element), flag=flag))  # type: ignore[arg-type]
    return findings


_TYPE_CODES = _xpath("cbc:InvoiceTypeCode | cbc:CreditNoteTypeCode")
_EXEMPT_CATEGORIES = _xpath("//cac:TaxCategory[cbc:TaxExemptionReasonCode]")


def _type_codes(root: Any, context: _Context) -> list[Finding]:
    """P0100 and P0101 (the profile 01's type codes), P0112 (326 and 384 between German
    parties only); P0104 ... P0111 (an exemption reason code's category)."""
    findings = []
    for element in _TYPE_CODES(root):
        code = normalize_space(_string(element))
        if etree.QName(element).localname == "InvoiceTypeCode":
            if context.profile == "01" and code not in INVOICE_TYPES:
                message = "Invoice type code MUST be set according to the profile."
                findings.append(_ours("PEPPOL-EN16931-P0100", message, _where(element)))
            if code in GERMAN_INVOICE_TYPES and not context.german_parties:
                message = (
                    "Invoice type code 326 or 384 are only allowed when both buyer and seller "
                    "are German organizations"
                )
                findings.append(_ours("PEPPOL-EN16931-P0112", message, _where(element)))
        elif context.profile == "01" and code not in CREDIT_TYPES:
            message = "Credit note type code MUST be set according to the profile."
            findings.append(_ours("PEPPOL-EN16931-P0101", message, _where(element)))
    for category in _EXEMPT_CATEGORIES(root):
        reasons = {
            _string(e).upper() for e in category.iterchildren(_CBC + "TaxExemptionReasonCode")
        }
        category_id = normalize_space(
            "".join(_string(e) for e in category.iterchildren(_CBC + "ID"))
        )
        for reason in sorted(reasons & EXEMPTION_CATEGORIES.keys()):
            rule, required = EXEMPTION_CATEGORIES[reason]
            if category_id != required:
                message = (
                    f"Tax Category {required} MUST be used when exemption reason code is {reason}"
                )
                findings.append(_ours(rule, message, _where(category)))
    return findings


def _f001(root: Any, _: _Context) -> list[Finding]:
    """F001: every date YYYY-MM-DD (the XSD's xs:date also takes a time zone)."""
    findings = []
    for element in root.iter(*_DATE_TAGS):
        if _date(element.text or "") is None:
            message = "A date MUST be formatted YYYY-MM-DD."
            findings.append(_ours("PEPPOL-EN16931-F001", message, _where(element)))
    return findings


def _date(text: str) -> date | None:
    if not _DATE.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


# --- Lines -------------------------------------------------------------------------------

_LINES = _xpath("cac:InvoiceLine | cac:CreditNoteLine")
_PERIOD_START = _xpath("cac:InvoicePeriod/cbc:StartDate")
_PERIOD_END = _xpath("cac:InvoicePeriod/cbc:EndDate")
_LINE_ALLOWANCES = _xpath(
    "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator) = 'false']/cbc:Amount"
)
_LINE_CHARGES = _xpath(
    "cac:AllowanceCharge[normalize-space(cbc:ChargeIndicator) = 'true']/cbc:Amount"
)
_DOCUMENT_REFERENCES = _xpath("cac:DocumentReference")
_BASE_QUANTITY = _xpath("cac:Price/cbc:BaseQuantity")


def _lines(root: Any, context: _Context) -> list[Finding]:
    """R100, R101, R110, R111, R120, R121, R130 on each line."""
    findings = []
    starts = [_date(_string(e)) for e in _PERIOD_START(root)]
    ends = [_date(_string(e)) for e in _PERIOD_END(root)]
    quantity_tag = _CBC + ("InvoicedQuantity" if context.invoice else "CreditedQuantity")
    for line in _LINES(root):
        where = _where(line)
        findings.extend(_line_period(line, starts, ends, where))
        quantity_element = line.find(quantity_tag)
        findings.extend(_line_amount(line, quantity_element, where))
        references = _DOCUMENT_REFERENCES(line)
        if len(references) > 1:
            message = "Only one invoiced object is allowed pr line"
            findings.append(_ours("PEPPOL-EN16931-R100", message, where))
        if references and not any(
            _string(code) == "130"
            for reference in references
            for code in reference.iterchildren(_CBC + "DocumentTypeCode")
        ):
            message = "Element Document reference can only be used for Invoice line object"
            findings.append(_ours("PEPPOL-EN16931-R101", message, where))
        for base in _BASE_QUANTITY(line):
            unit = base.get("unitCode")
            quantity_unit = None if quantity_element is None else quantity_element.get("unitCode")
            if unit is not None and quantity_element is not None and unit != quantity_unit:
                message = "Unit code of price base quantity MUST be same as invoiced quantity."
                findings.append(_ours("PEPPOL-EN16931-R130", message, _where(base)))
    return findings


def _line_period(
    line: Any, starts: list[date | None], ends: list[date | None], where: str
) -> list[Finding]:
    """R110 / R111: a line's period within the invoice's, when the invoice has one."""
    findings = []
    for rule, elements, bounds, word in (
        ("PEPPOL-EN16931-R110", _PERIOD_START(line), starts, "Start"),
        ("PEPPOL-EN16931-R111", _PERIOD_END(line), ends, "End"),
    ):
        known = [bound for bound in bounds if bound is not None]
        for element in elements if known else ():
            value = _date(_string(element))
            if value is None:
                continue  # not a date: F001's (and the XSD's)
            inside = (
                any(value >= bound for bound in known)
                if word == "Start"
                else any(value <= bound for bound in known)
            )
            if not inside:
                message = f"{word} date of line period MUST be within invoice period."
                findings.append(_ours(rule, message, _where(element)))
    return findings


def _xpath_round(value: Decimal) -> Decimal:
    """XPath's round(x * 100) div 100: half up towards positive infinity."""
    return (value * 100 + Decimal("0.5")).to_integral_value(ROUND_FLOOR) / 100


def _sum(elements: list[Any]) -> Decimal | None:
    values = [_decimal(_string(e)) for e in elements]
    if any(value is None for value in values):
        return None
    return sum((value for value in values if value is not None), Decimal(0))


def _line_amount(line: Any, quantity_element: Any, where: str) -> list[Finding]:
    """R121: a base quantity is positive; R120: line net amount = quantity x (price /
    base quantity) + line charges - line allowances (the sums rounded to 2 decimals), to
    within 0.02, as the rule reads absent terms (quantity 1, price 0, base quantity 1
    when absent or 0)."""
    findings = []
    base_elements = _BASE_QUANTITY(line)
    base = _decimal(_string(base_elements[0])) if base_elements else Decimal(1)
    if base_elements and (base is None or base <= 0):
        message = "Base quantity MUST be a positive number above zero."
        findings.append(_ours("PEPPOL-EN16931-R121", message, where))
    amount_element = line.find(_CBC + "LineExtensionAmount")
    price_element = line.find(f"{{{NS['cac']}}}Price/{_CBC}PriceAmount")
    amount = Decimal(0) if amount_element is None else _decimal(_string(amount_element))
    quantity = Decimal(1) if quantity_element is None else _decimal(_string(quantity_element))
    price = Decimal(0) if price_element is None else _decimal(_string(price_element))
    allowances, charges = _sum(_LINE_ALLOWANCES(line)), _sum(_LINE_CHARGES(line))
    if (
        amount is None
        or quantity is None
        or price is None
        or base is None
        or allowances is None
        or charges is None
    ):
        return findings  # a number that is not one: the XSD's
    if base == 0:
        base = Decimal(1)
    expected = quantity * (price / base) + _xpath_round(charges) - _xpath_round(allowances)
    if abs(amount - expected) > SLACK:
        message = (
            "Invoice line net amount MUST equal (Invoiced quantity * (Item net price/item "
            "price base quantity) + Sum of invoice line charge amount - sum of invoice line "
            f"allowance amount: {amount} != {expected.normalize():f}"
        )
        findings.append(_ours("PEPPOL-EN16931-R120", message, where))
    return findings


CHECKS: tuple[Callable[[Any, _Context], list[Finding]], ...] = (
    _r008,
    _document,
    _endpoints,
    _allowances,
    _r061,
    _currencies,
    _lines,
    _identifiers,
    _type_codes,
    _cl008,
    _f001,
)

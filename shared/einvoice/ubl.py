"""UBL 2.1 Invoice and CreditNote from the exchange model (EN 16931's UBL binding).

``to_ubl(invoice, profile)`` writes the document in the XSD's element order, with the
profile's CustomizationID (BT-24) and ProfileID (BT-23): ``ubl`` (EN 16931 core),
``xrechnung-ubl`` (XRechnung 3.0) or ``peppol`` (Peppol BIS Billing 3.0). A credit note
(type 381) is a ``CreditNote`` whose due date goes to PaymentMeans/PaymentDueDate (UBL's
CreditNote has no DueDate).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from lxml import etree

from shared.einvoice import model
from shared.einvoice.profiles import profile as get_profile

NS_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
NS_CREDIT = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
_C = f"{{{CAC}}}"
_B = f"{{{CBC}}}"


def decimal_text(value: Decimal) -> str:
    """A decimal without exponent and without trailing zeros past the point."""
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def amount_text(value: Decimal, currency: str) -> str:
    return format(model.money(value, currency), "f")


def percent_text(value: Decimal) -> str:
    return (
        format(value.quantize(Decimal("0.01")), "f")
        if value == value.to_integral()
        else decimal_text(value)
    )


def _el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag, attrs) if attrs else etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _opt(parent: Any, tag: str, text: str | None, **attrs: str) -> None:
    if text is not None and str(text).strip():
        _el(parent, tag, str(text).strip(), **attrs)


# The formats whose rules take an email address as the electronic address (scheme EM of
# the CEN EAS list, BR-CL-25): EN 16931 itself, XRechnung (KoSIT's rules require BT-34 and
# BT-49 and take EM) and Factur-X. Peppol's EAS list (PEPPOL-EN16931-CL008) has no EM: a
# Peppol endpoint is a participant id the settings or the client must name.
EMAIL_SCHEME = "EM"
NO_EMAIL_ENDPOINT = frozenset({"peppol"})


def endpoint(party: model.Party, profile: str) -> tuple[str, str | None] | None:
    """The electronic address (BT-34 / BT-49) written for ``party`` in ``profile``, with
    its scheme: the party's own, else (where the format allows it) its email under EM,
    else none (Peppol's R010/R020 then name the field to fill)."""
    if party.electronic_address:
        return party.electronic_address, party.electronic_address_scheme
    if party.email and profile not in NO_EMAIL_ENDPOINT:
        return party.email, EMAIL_SCHEME
    return None


def to_ubl(invoice: model.Invoice, profile: str = "ubl") -> bytes:
    """The UBL 2.1 document of ``invoice`` in ``profile`` (ubl, xrechnung-ubl, peppol)."""
    spec = get_profile(profile)
    if spec.syntax != "ubl":
        raise ValueError(f"{profile} is not a UBL profile")
    credit = invoice.is_credit_note
    ns = NS_CREDIT if credit else NS_INVOICE
    kind = "CreditNote" if credit else "Invoice"
    root = etree.Element(f"{{{ns}}}{kind}", nsmap={None: ns, "cac": CAC, "cbc": CBC})  # type: ignore[dict-item]
    _header(root, invoice, spec.specification_id, spec.business_process)
    _party(_el(root, _C + "AccountingSupplierParty"), invoice.seller, profile, seller=True)
    _party(_el(root, _C + "AccountingCustomerParty"), invoice.buyer, profile, seller=False)
    _delivery(root, invoice)
    _payment(root, invoice)
    for charge, entries in ((False, invoice.allowances), (True, invoice.charges)):
        for entry in entries:
            _allowance_charge(root, entry, charge, invoice.currency)
    _tax_total(root, invoice)
    _monetary_total(root, invoice)
    for line in invoice.lines:
        _line(root, line, credit, invoice.currency)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _header(root: Any, invoice: model.Invoice, specification: str, process: str | None) -> None:
    credit = invoice.is_credit_note
    _el(root, _B + "CustomizationID", invoice.specification_id or specification)
    _opt(root, _B + "ProfileID", invoice.business_process or process)
    _el(root, _B + "ID", invoice.number)
    _el(root, _B + "IssueDate", invoice.issue_date.isoformat())
    if not credit and invoice.due_date:
        _el(root, _B + "DueDate", invoice.due_date.isoformat())
    _el(root, _B + ("CreditNoteTypeCode" if credit else "InvoiceTypeCode"), invoice.type_code)
    _opt(root, _B + "Note", invoice.note)
    _el(root, _B + "DocumentCurrencyCode", invoice.currency)
    _opt(root, _B + "BuyerReference", invoice.buyer_reference)
    if invoice.purchase_order_reference:
        order = _el(root, _C + "OrderReference")
        _el(order, _B + "ID", invoice.purchase_order_reference)
    if invoice.preceding_invoice_reference:
        billing = _el(root, _C + "BillingReference")
        reference = _el(billing, _C + "InvoiceDocumentReference")
        _el(reference, _B + "ID", invoice.preceding_invoice_reference)
        if invoice.preceding_invoice_date:
            _el(reference, _B + "IssueDate", invoice.preceding_invoice_date.isoformat())


def _delivery(root: Any, invoice: model.Invoice) -> None:
    if not (invoice.delivery_date or invoice.delivery_address):
        return
    delivery = _el(root, _C + "Delivery")
    if invoice.delivery_date:
        _el(delivery, _B + "ActualDeliveryDate", invoice.delivery_date.isoformat())
    if invoice.delivery_address:
        location = _el(delivery, _C + "DeliveryLocation")
        _address(_el(location, _C + "Address"), invoice.delivery_address)


def _payment(root: Any, invoice: model.Invoice) -> None:
    payment = invoice.payment
    if payment is None:
        return
    means = _el(root, _C + "PaymentMeans")
    _el(means, _B + "PaymentMeansCode", payment.code)
    if invoice.is_credit_note and invoice.due_date:
        _el(means, _B + "PaymentDueDate", invoice.due_date.isoformat())
    _opt(means, _B + "PaymentID", payment.remittance_information)
    if payment.iban:
        account = _el(means, _C + "PayeeFinancialAccount")
        _el(account, _B + "ID", payment.iban)
        _opt(account, _B + "Name", payment.account_name)
        if payment.bic:
            branch = _el(account, _C + "FinancialInstitutionBranch")
            _el(branch, _B + "ID", payment.bic)
    if payment.terms:
        terms = _el(root, _C + "PaymentTerms")
        _el(terms, _B + "Note", payment.terms)


def _amount(parent: Any, tag: str, value: Decimal, currency: str) -> None:
    _el(parent, _B + tag, amount_text(value, currency), currencyID=currency)


def _tax_total(root: Any, invoice: model.Invoice) -> None:
    currency = invoice.currency
    total = _el(root, _C + "TaxTotal")
    _amount(total, "TaxAmount", invoice.totals.tax_total, currency)
    for group in invoice.tax_breakdown:
        subtotal = _el(total, _C + "TaxSubtotal")
        _amount(subtotal, "TaxableAmount", group.taxable_amount, currency)
        _amount(subtotal, "TaxAmount", group.tax_amount, currency)
        _tax_category(
            subtotal,
            "TaxCategory",
            group.vat_category,
            group.vat_rate,
            breakdown=True,
            reason_code=group.exemption_reason_code,
            reason=group.exemption_reason,
        )


def _monetary_total(root: Any, invoice: model.Invoice) -> None:
    totals = invoice.totals
    monetary = _el(root, _C + "LegalMonetaryTotal")
    for tag, value, always in (
        ("LineExtensionAmount", totals.line_net_total, True),
        ("TaxExclusiveAmount", totals.tax_exclusive, True),
        ("TaxInclusiveAmount", totals.tax_inclusive, True),
        ("AllowanceTotalAmount", totals.allowance_total, bool(invoice.allowances)),
        ("ChargeTotalAmount", totals.charge_total, bool(invoice.charges)),
        ("PrepaidAmount", totals.prepaid, bool(totals.prepaid)),
        ("PayableRoundingAmount", totals.rounding, bool(totals.rounding)),
        ("PayableAmount", totals.payable, True),
    ):
        if always:
            _amount(monetary, tag, value, invoice.currency)


def _party(parent: Any, party: model.Party, profile: str, *, seller: bool) -> None:
    element = _el(parent, _C + "Party")
    address = endpoint(party, profile)
    if address:
        value, scheme = address
        if scheme:
            _el(element, _B + "EndpointID", value, schemeID=scheme)
        else:  # no scheme: BR-62 / BR-63 name the field
            _el(element, _B + "EndpointID", value)
    if party.trading_name:
        name = _el(element, _C + "PartyName")
        _el(name, _B + "Name", party.trading_name)
    _address(_el(element, _C + "PostalAddress"), party.address)
    if party.vat_id:
        scheme = _el(element, _C + "PartyTaxScheme")
        _el(scheme, _B + "CompanyID", party.vat_id)
        _el(_el(scheme, _C + "TaxScheme"), _B + "ID", "VAT")
    if seller and party.tax_registration_id:
        scheme = _el(element, _C + "PartyTaxScheme")
        _el(scheme, _B + "CompanyID", party.tax_registration_id)
        _el(_el(scheme, _C + "TaxScheme"), _B + "ID", "FC")
    legal = _el(element, _C + "PartyLegalEntity")
    _el(legal, _B + "RegistrationName", party.name)
    _opt(legal, _B + "CompanyID", party.legal_registration_id)
    if party.contact_name or party.phone or party.email:
        contact = _el(element, _C + "Contact")
        _opt(contact, _B + "Name", party.contact_name)
        _opt(contact, _B + "Telephone", party.phone)
        _opt(contact, _B + "ElectronicMail", party.email)


def _address(element: Any, address: model.Address) -> None:
    _opt(element, _B + "StreetName", address.line1)
    _opt(element, _B + "AdditionalStreetName", address.line2)
    _opt(element, _B + "CityName", address.city)
    _opt(element, _B + "PostalZone", address.postal_code)
    _opt(element, _B + "CountrySubentity", address.subdivision)
    country = _el(element, _C + "Country")
    _el(country, _B + "IdentificationCode", address.country_code or "")


def _tax_category(
    parent: Any,
    tag: str,
    category: str,
    rate: Decimal,
    *,
    breakdown: bool = False,
    reason_code: str | None = None,
    reason: str | None = None,
) -> None:
    element = _el(parent, _C + tag)
    _el(element, _B + "ID", category)
    # BR-O-05, BR-O-06, BR-O-07: no rate on lines, allowances or charges "not subject to
    # VAT"; the breakdown (BT-119) has one, 0, which XRechnung's BR-DE-14 requires.
    if category != "O" or (tag == "TaxCategory" and breakdown):
        _el(element, _B + "Percent", percent_text(rate))
    _opt(element, _B + "TaxExemptionReasonCode", reason_code)
    _opt(element, _B + "TaxExemptionReason", reason)
    _el(_el(element, _C + "TaxScheme"), _B + "ID", "VAT")


def _allowance_charge(root: Any, entry: model.AllowanceCharge, charge: bool, currency: str) -> None:
    element = _el(root, _C + "AllowanceCharge")
    _el(element, _B + "ChargeIndicator", "true" if charge else "false")
    _opt(element, _B + "AllowanceChargeReasonCode", entry.reason_code)
    _opt(element, _B + "AllowanceChargeReason", entry.reason)
    if entry.percentage is not None:
        _el(element, _B + "MultiplierFactorNumeric", decimal_text(entry.percentage))
    _el(element, _B + "Amount", amount_text(entry.amount, currency), currencyID=currency)
    if entry.base_amount is not None:
        _el(
            element,
            _B + "BaseAmount",
            amount_text(entry.base_amount, currency),
            currencyID=currency,
        )
    _tax_category(element, "TaxCategory", entry.vat_category, entry.vat_rate)


def _line(root: Any, line: model.Line, credit: bool, currency: str) -> None:
    element = _el(root, _C + ("CreditNoteLine" if credit else "InvoiceLine"))
    _el(element, _B + "ID", line.id)
    _opt(element, _B + "Note", line.note)
    _el(
        element,
        _B + ("CreditedQuantity" if credit else "InvoicedQuantity"),
        decimal_text(line.quantity),
        unitCode=line.unit_code,
    )
    _el(
        element,
        _B + "LineExtensionAmount",
        amount_text(line.net_amount, currency),
        currencyID=currency,
    )
    item = _el(element, _C + "Item")
    _opt(item, _B + "Description", line.description)
    _el(item, _B + "Name", line.name)
    _tax_category(item, "ClassifiedTaxCategory", line.vat_category, line.vat_rate)
    price = _el(element, _C + "Price")
    _el(price, _B + "PriceAmount", decimal_text(line.net_price), currencyID=currency)

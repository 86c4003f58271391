"""UN/CEFACT Cross Industry Invoice (CII D16B) from the exchange model (EN 16931's CII
binding), in the element order of the D16B schema (and of Factur-X's EN 16931 subset).

``to_cii(invoice, profile)`` with ``cii`` (EN 16931 core), ``xrechnung-cii`` (XRechnung 3.0)
or ``facturx`` (Factur-X / ZUGFeRD EN 16931 profile, BT-24 ``urn:cen.eu:en16931:2017``, the
XML ``facturx.py`` embeds in the PDF). A credit note is type 381 with positive amounts.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from lxml import etree

from shared.einvoice import model
from shared.einvoice.profiles import profile as get_profile
from shared.einvoice.ubl import amount_text, decimal_text, endpoint, percent_text

RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
QDT = "urn:un:unece:uncefact:data:standard:QualifiedDataType:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
_R = f"{{{RSM}}}"
_A = f"{{{RAM}}}"
_U = f"{{{UDT}}}"
_Q = f"{{{QDT}}}"


def _el(parent: Any, tag: str, text: str | None = None, **attrs: str) -> Any:
    element = etree.SubElement(parent, tag, attrs) if attrs else etree.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _opt(parent: Any, tag: str, text: str | None, **attrs: str) -> None:
    if text is not None and str(text).strip():
        _el(parent, tag, str(text).strip(), **attrs)


def _date(parent: Any, tag: str, value: date, namespace: str = _U) -> None:
    element = _el(parent, tag)
    _el(element, namespace + "DateTimeString", value.strftime("%Y%m%d"), format="102")


def to_cii(invoice: model.Invoice, profile: str = "cii") -> bytes:
    """The CII document of ``invoice`` in ``profile`` (cii, xrechnung-cii, facturx)."""
    spec = get_profile(profile)
    if spec.syntax != "cii":
        raise ValueError(f"{profile} is not a CII profile")
    root = etree.Element(
        _R + "CrossIndustryInvoice", nsmap={"rsm": RSM, "ram": RAM, "qdt": QDT, "udt": UDT}
    )
    context = _el(root, _R + "ExchangedDocumentContext")
    process = invoice.business_process or spec.business_process
    if process:
        _el(
            _el(context, _A + "BusinessProcessSpecifiedDocumentContextParameter"),
            _A + "ID",
            process,
        )
    guideline = _el(context, _A + "GuidelineSpecifiedDocumentContextParameter")
    _el(guideline, _A + "ID", invoice.specification_id or spec.specification_id)
    document = _el(root, _R + "ExchangedDocument")
    _el(document, _A + "ID", invoice.number)
    _el(document, _A + "TypeCode", invoice.type_code)
    _date(document, _A + "IssueDateTime", invoice.issue_date)
    if invoice.note:
        _el(_el(document, _A + "IncludedNote"), _A + "Content", invoice.note)
    transaction = _el(root, _R + "SupplyChainTradeTransaction")
    for line in invoice.lines:
        _line(transaction, line, invoice.currency)
    _agreement(transaction, invoice, profile)
    _delivery(transaction, invoice)
    _settlement(transaction, invoice)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def _line(transaction: Any, line: model.Line, currency: str) -> None:
    item = _el(transaction, _A + "IncludedSupplyChainTradeLineItem")
    document = _el(item, _A + "AssociatedDocumentLineDocument")
    _el(document, _A + "LineID", line.id)
    if line.note:
        _el(_el(document, _A + "IncludedNote"), _A + "Content", line.note)
    product = _el(item, _A + "SpecifiedTradeProduct")
    _el(product, _A + "Name", line.name)
    _opt(product, _A + "Description", line.description)
    agreement = _el(item, _A + "SpecifiedLineTradeAgreement")
    price = _el(agreement, _A + "NetPriceProductTradePrice")
    _el(price, _A + "ChargeAmount", decimal_text(line.net_price))
    delivery = _el(item, _A + "SpecifiedLineTradeDelivery")
    _el(delivery, _A + "BilledQuantity", decimal_text(line.quantity), unitCode=line.unit_code)
    settlement = _el(item, _A + "SpecifiedLineTradeSettlement")
    tax = _el(settlement, _A + "ApplicableTradeTax")
    _el(tax, _A + "TypeCode", "VAT")
    _el(tax, _A + "CategoryCode", line.vat_category)
    if line.vat_category != "O":  # BR-O-05
        _el(tax, _A + "RateApplicablePercent", percent_text(line.vat_rate))
    summation = _el(settlement, _A + "SpecifiedTradeSettlementLineMonetarySummation")
    _el(summation, _A + "LineTotalAmount", amount_text(line.net_amount, currency))


def _party(parent: Any, tag: str, party: model.Party, profile: str, *, seller: bool) -> None:
    element = _el(parent, _A + tag)
    _el(element, _A + "Name", party.name)
    if party.legal_registration_id or party.trading_name:
        legal = _el(element, _A + "SpecifiedLegalOrganization")
        _opt(legal, _A + "ID", party.legal_registration_id)
        _opt(legal, _A + "TradingBusinessName", party.trading_name)
    if party.contact_name or party.phone or party.email:
        contact = _el(element, _A + "DefinedTradeContact")
        _opt(contact, _A + "PersonName", party.contact_name)
        if party.phone:
            _el(
                _el(contact, _A + "TelephoneUniversalCommunication"),
                _A + "CompleteNumber",
                party.phone,
            )
        if party.email:
            _el(_el(contact, _A + "EmailURIUniversalCommunication"), _A + "URIID", party.email)
    _address(_el(element, _A + "PostalTradeAddress"), party.address)
    address = endpoint(party, profile)
    if address:
        uri = _el(element, _A + "URIUniversalCommunication")
        value, scheme = address
        if scheme:
            _el(uri, _A + "URIID", value, schemeID=scheme)
        else:  # no scheme: BR-62 / BR-63 name the field
            _el(uri, _A + "URIID", value)
    if party.vat_id:
        _el(_el(element, _A + "SpecifiedTaxRegistration"), _A + "ID", party.vat_id, schemeID="VA")
    if seller and party.tax_registration_id:
        registration = _el(element, _A + "SpecifiedTaxRegistration")
        _el(registration, _A + "ID", party.tax_registration_id, schemeID="FC")


def _address(element: Any, address: model.Address) -> None:
    _opt(element, _A + "PostcodeCode", address.postal_code)
    _opt(element, _A + "LineOne", address.line1)
    _opt(element, _A + "LineTwo", address.line2)
    _opt(element, _A + "CityName", address.city)
    _el(element, _A + "CountryID", address.country_code or "")
    _opt(element, _A + "CountrySubDivisionName", address.subdivision)


def _agreement(transaction: Any, invoice: model.Invoice, profile: str) -> None:
    agreement = _el(transaction, _A + "ApplicableHeaderTradeAgreement")
    _opt(agreement, _A + "BuyerReference", invoice.buyer_reference)
    _party(agreement, "SellerTradeParty", invoice.seller, profile, seller=True)
    _party(agreement, "BuyerTradeParty", invoice.buyer, profile, seller=False)
    if invoice.purchase_order_reference:
        order = _el(agreement, _A + "BuyerOrderReferencedDocument")
        _el(order, _A + "IssuerAssignedID", invoice.purchase_order_reference)


def _delivery(transaction: Any, invoice: model.Invoice) -> None:
    delivery = _el(transaction, _A + "ApplicableHeaderTradeDelivery")
    if invoice.delivery_address:
        ship_to = _el(delivery, _A + "ShipToTradeParty")
        _address(_el(ship_to, _A + "PostalTradeAddress"), invoice.delivery_address)
    if invoice.delivery_date:
        event = _el(delivery, _A + "ActualDeliverySupplyChainEvent")
        _date(event, _A + "OccurrenceDateTime", invoice.delivery_date)


def _trade_tax(
    parent: Any,
    category: str,
    rate: Decimal,
    *,
    breakdown: model.TaxSubtotal | None = None,
    currency: str = "EUR",
) -> None:
    currency_free = breakdown is None
    tax = _el(parent, _A + ("CategoryTradeTax" if currency_free else "ApplicableTradeTax"))
    if breakdown is not None:
        _el(tax, _A + "CalculatedAmount", amount_text(breakdown.tax_amount, currency))
    _el(tax, _A + "TypeCode", "VAT")
    if breakdown is not None:
        _opt(tax, _A + "ExemptionReason", breakdown.exemption_reason)
        _el(tax, _A + "BasisAmount", amount_text(breakdown.taxable_amount, currency))
    _el(tax, _A + "CategoryCode", category)
    if breakdown is not None:
        _opt(tax, _A + "ExemptionReasonCode", breakdown.exemption_reason_code)
    # The breakdown always has a rate (0 for O: XRechnung's BR-DE-14); an allowance or
    # charge "not subject to VAT" has none (BR-O-06, BR-O-07).
    if category != "O" or breakdown is not None:
        _el(tax, _A + "RateApplicablePercent", percent_text(rate))


def _settlement(transaction: Any, invoice: model.Invoice) -> None:
    currency = invoice.currency
    settlement = _el(transaction, _A + "ApplicableHeaderTradeSettlement")
    payment = invoice.payment
    if payment is not None:
        _opt(settlement, _A + "PaymentReference", payment.remittance_information)
    _el(settlement, _A + "InvoiceCurrencyCode", currency)
    if payment is not None:
        means = _el(settlement, _A + "SpecifiedTradeSettlementPaymentMeans")
        _el(means, _A + "TypeCode", payment.code)
        if payment.iban:
            account = _el(means, _A + "PayeePartyCreditorFinancialAccount")
            _el(account, _A + "IBANID", payment.iban)
            _opt(account, _A + "AccountName", payment.account_name)
        if payment.iban and payment.bic:
            institution = _el(means, _A + "PayeeSpecifiedCreditorFinancialInstitution")
            _el(institution, _A + "BICID", payment.bic)
    for group in invoice.tax_breakdown:
        _trade_tax(
            settlement, group.vat_category, group.vat_rate, breakdown=group, currency=currency
        )
    for charge, entries in ((False, invoice.allowances), (True, invoice.charges)):
        for entry in entries:
            _allowance_charge(settlement, entry, charge, currency)
    if (payment is not None and payment.terms) or invoice.due_date:
        terms = _el(settlement, _A + "SpecifiedTradePaymentTerms")
        _opt(terms, _A + "Description", payment.terms if payment else None)
        if invoice.due_date:
            _date(terms, _A + "DueDateDateTime", invoice.due_date)
    _summation(settlement, invoice)
    if invoice.preceding_invoice_reference:
        reference = _el(settlement, _A + "InvoiceReferencedDocument")
        _el(reference, _A + "IssuerAssignedID", invoice.preceding_invoice_reference)
        if invoice.preceding_invoice_date:
            _date(reference, _A + "FormattedIssueDateTime", invoice.preceding_invoice_date, _Q)


def _allowance_charge(
    settlement: Any, entry: model.AllowanceCharge, charge: bool, currency: str
) -> None:
    element = _el(settlement, _A + "SpecifiedTradeAllowanceCharge")
    _el(_el(element, _A + "ChargeIndicator"), _U + "Indicator", "true" if charge else "false")
    if entry.percentage is not None:
        _el(element, _A + "CalculationPercent", decimal_text(entry.percentage))
    if entry.base_amount is not None:
        _el(element, _A + "BasisAmount", amount_text(entry.base_amount, currency))
    _el(element, _A + "ActualAmount", amount_text(entry.amount, currency))
    _opt(element, _A + "ReasonCode", entry.reason_code)
    _opt(element, _A + "Reason", entry.reason)
    _trade_tax(element, entry.vat_category, entry.vat_rate)


def _summation(settlement: Any, invoice: model.Invoice) -> None:
    currency = invoice.currency
    totals = invoice.totals
    summation = _el(settlement, _A + "SpecifiedTradeSettlementHeaderMonetarySummation")
    _el(summation, _A + "LineTotalAmount", amount_text(totals.line_net_total, currency))
    if invoice.charges:
        _el(summation, _A + "ChargeTotalAmount", amount_text(totals.charge_total, currency))
    if invoice.allowances:
        _el(summation, _A + "AllowanceTotalAmount", amount_text(totals.allowance_total, currency))
    _el(summation, _A + "TaxBasisTotalAmount", amount_text(totals.tax_exclusive, currency))
    _el(
        summation,
        _A + "TaxTotalAmount",
        amount_text(totals.tax_total, currency),
        currencyID=currency,
    )
    if totals.rounding:
        _el(summation, _A + "RoundingAmount", amount_text(totals.rounding, currency))
    _el(summation, _A + "GrandTotalAmount", amount_text(totals.tax_inclusive, currency))
    if totals.prepaid:
        _el(summation, _A + "TotalPrepaidAmount", amount_text(totals.prepaid, currency))
    _el(summation, _A + "DuePayableAmount", amount_text(totals.payable, currency))

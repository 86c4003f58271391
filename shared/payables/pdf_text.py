"""A vendor invoice read from a PDF's text layer, for a draft a person confirms
(docs/payables.md, "Invoices in by email").

pypdf reads the text (it is already in the layer for the Factur-X files: pure Python,
where pdfplumber would add pdfminer.six and a native pypdfium2 wheel for the same
text); the fields are found by their labels in English, German, French and Spanish
("Invoice No", "Rechnungsnummer", "Facture n°", "Total", "Gesamtbetrag", "Due date",
"Fällig", "PO"...). What is not found stays empty: the draft says so, and the person
completes it. Nothing here decides anything on its own: a draft is never an invoice
until a member confirms it.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from shared.reconciliation.ingest import FieldError, parse_date, parse_number

MAX_PAGES = 5
EXCERPT_CHARS = 4000
# The embedded XML of a Factur-X / ZUGFeRD / XRechnung PDF (its files' names).
EINVOICE_NAMES = frozenset(
    {"factur-x.xml", "zugferd-invoice.xml", "xrechnung.xml", "zugferd_invoice.xml"}
)

_NUMBER_LABEL = (
    r"(?:invoice|rechnung|facture|factura|bill)\s*"
    r"(?:no\.?|number|nr\.?|nummer|n[°o]\.?|num(?:éro|ero)?\.?|#)?\s*[:#.]?\s*"
)
_NUMBER = re.compile(_NUMBER_LABEL + r"([A-Z0-9][A-Z0-9\-/.]{1,40}[A-Z0-9])", re.IGNORECASE)
_PO = re.compile(
    r"(?:P\.?\s?O\.?|purchase\s+order|bestellnummer|bestellung|bon\s+de\s+commande|"
    r"pedido|order)\s*(?:no\.?|number|nr\.?|n[°o]\.?|#|ref(?:erence)?\.?)?\s*[:#.]?\s*"
    r"([A-Z0-9][A-Z0-9\-/]{1,40}[A-Z0-9])",
    re.IGNORECASE,
)
_DATE_TEXT = (
    r"(\d{4}-\d{2}-\d{2}|\d{1,2}[./]\d{1,2}[./]\d{2,4}|\d{1,2}\s+[A-Za-zä]{3,9}\.?\s+\d{4}"
    r"|[A-Za-z]{3,9}\.?\s+\d{1,2},\s+\d{4})"
)
_INVOICE_DATE = re.compile(
    r"(?:invoice\s+date|date\s+of\s+invoice|rechnungsdatum|date\s+de\s+facture|"
    r"fecha(?:\s+de\s+factura)?|datum|date)\s*[:.]?\s*" + _DATE_TEXT,
    re.IGNORECASE,
)
_DUE_DATE = re.compile(
    r"(?:due\s+date|payment\s+due|due|payable\s+by|f[äa]llig(?:keitsdatum|\s+am)?|"
    r"zahlbar\s+bis|[ée]ch[ée]ance|vencimiento)\s*[:.]?\s*(?:on\s+)?" + _DATE_TEXT,
    re.IGNORECASE,
)
_AMOUNT = r"([€$£]?\s?\d{1,3}(?:[ ,.']\d{3})*(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)"
_TOTAL = re.compile(
    r"(?:amount\s+due|total\s+due|balance\s+due|grand\s+total|invoice\s+total|total\s+ttc|"
    r"gesamtbetrag|rechnungsbetrag|endbetrag|total\s+amount|importe\s+total|total)"
    r"\s*(?:\(?[A-Z]{3}\)?)?\s*[:=]?\s*(?:([A-Z]{3})\s*)?" + _AMOUNT + r"\s*([A-Z]{3}|[€$£])?",
    re.IGNORECASE,
)
_TAX = re.compile(
    r"(?:vat|tax|mwst\.?|ust\.?|tva|iva)(?:\s+\d{1,2}(?:[.,]\d+)?\s?%)?\s*[:=]?\s*"
    r"(?:[A-Z]{3}\s*)?" + _AMOUNT,
    re.IGNORECASE,
)
_CURRENCY = re.compile(r"\b(EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|CZK|CAD|AUD|JPY)\b")
_SYMBOLS = {"€": "EUR", "$": "USD", "£": "GBP"}
_WORDS = re.compile(r"[A-Za-zÀ-ÿ]{2,}")
_NOT_VENDOR = re.compile(
    r"^(?:invoice|rechnung|facture|factura|tax invoice|bill to|page|date)\b", re.IGNORECASE
)


class NoTextLayer(ValueError):
    """The PDF has no text to read (a scan): the draft cannot be made."""


@dataclass(frozen=True)
class DraftFields:
    vendor_name: str | None
    invoice_number: str | None
    invoice_date: date | None
    due_date: date | None
    po_number: str | None
    currency: str | None
    tax_amount: Decimal | None
    total_amount: Decimal | None
    text_excerpt: str

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in asdict(self).items():
            out[name] = str(value) if isinstance(value, Decimal | date) else value
        return out


def embedded_files(data: bytes) -> list[str]:
    """The names of the files a PDF carries (lower case); [] for a PDF pypdf cannot open."""
    from pypdf import PdfReader  # noqa: PLC0415 (only the mail worker reads PDFs)

    try:
        reader = PdfReader(io.BytesIO(data))
        return [str(name).lower() for name in reader.attachments]
    except Exception:
        return []


def has_einvoice(data: bytes) -> bool:
    """Whether a PDF carries a Factur-X / ZUGFeRD / XRechnung XML."""
    return any(name in EINVOICE_NAMES for name in embedded_files(data))


def pdf_text(data: bytes) -> str:
    """The text of the first MAX_PAGES pages; raises NoTextLayer when there is none and
    ValueError for a file pypdf cannot read."""
    from pypdf import PdfReader  # noqa: PLC0415
    from pypdf.errors import PyPdfError  # noqa: PLC0415

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() or "" for page in reader.pages[:MAX_PAGES]]
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"the PDF could not be read ({type(error).__name__})") from None
    text = "\n".join(pages)
    if not _WORDS.search(text):
        raise NoTextLayer("the PDF has no text layer (a scan?): nothing could be read")
    return text


def _amount(text: str | None) -> Decimal | None:
    if not text:
        return None
    cleaned = text.strip().strip("€$£").strip()
    try:
        return parse_number(cleaned, "," if re.search(r",\d{1,2}$", cleaned) else ".")
    except FieldError:
        return None


def _date(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return parse_date(text, "dmy" if "." in text else "mdy" if "/" in text else "dmy")
    except FieldError:
        return None


def _vendor(lines: list[str]) -> str | None:
    for line in lines[:8]:
        candidate = line.strip()
        if len(candidate) >= 3 and _WORDS.search(candidate) and not _NOT_VENDOR.match(candidate):
            return candidate[:200]
    return None


def read_fields(text: str) -> DraftFields:
    """The fields of a vendor invoice found in its text (each None when not found)."""
    lines = [line for line in text.splitlines() if line.strip()]
    number = _NUMBER.search(text)
    invoice_date = _INVOICE_DATE.search(text)
    due = _DUE_DATE.search(text)
    po = _PO.search(text)
    total_match = None
    for found in _TOTAL.finditer(text):  # the last "total" is the grand total
        if not re.match(r"sub", text[max(0, found.start() - 3) : found.start()], re.IGNORECASE):
            total_match = found
    tax = _TAX.search(text)
    currency = None
    if total_match:
        named = total_match.group(1) or total_match.group(3) or ""
        symbol = total_match.group(2).strip()[:1] if total_match.group(2) else ""
        currency = _SYMBOLS.get(named) or (named.upper() if len(named) == 3 else None)
        currency = currency or _SYMBOLS.get(symbol)
    if currency is None and (found_currency := _CURRENCY.search(text)):
        currency = found_currency.group(1)
    if currency is None:
        currency = next((code for sym, code in _SYMBOLS.items() if sym in text), None)
    invoice_number = number.group(1).rstrip(".") if number else None
    if invoice_number and not re.search(r"\d", invoice_number):
        invoice_number = None
    invoice_day = _date(invoice_date.group(1)) if invoice_date else None
    due_day = _date(due.group(1)) if due else None
    if invoice_day and due_day and due_day < invoice_day:
        due_day = None
    return DraftFields(
        vendor_name=_vendor(lines),
        invoice_number=invoice_number[:50] if invoice_number else None,
        invoice_date=invoice_day,
        due_date=due_day,
        po_number=po.group(1)[:50] if po and re.search(r"\d", po.group(1)) else None,
        currency=currency,
        tax_amount=_amount(tax.group(1)) if tax else None,
        total_amount=_amount(total_match.group(2)) if total_match else None,
        text_excerpt=text[:EXCERPT_CHARS],
    )

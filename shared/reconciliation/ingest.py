"""Reading vendor invoices, purchase orders and goods receipts from CSV files and JSON
bodies: validated, normalized, grouped into documents ready for one import RPC.

The CSV layout (docs/api.md, "Reconciliation: import") is **one row per line**; the
document's own fields (vendor, number, dates, currency, totals) are repeated on every
row of the document or left blank after its first row. The rows of one document are
those sharing its key: vendor + invoice number (invoices), the PO number (purchase
orders), the receipt number (receipts); they need not be next to each other.

What is accepted:

- the encoding: UTF-8 (with or without a BOM), UTF-16 with a BOM, else Windows-1252;
- the separator: ``,``, ``;`` or a tab, sniffed from the header line; quoted fields
  (with separators, quotes and line breaks inside); blank lines (skipped);
- header names in any case and spacing, with common synonyms (``Invoice No``,
  ``invoice_number``, ``Inv #``, ``Qty``, ``Supplier`` ...); unknown columns are ignored;
- numbers with thousands separators and either decimal mark: ``1,234.56``, ``1.234,56``,
  ``1 234,56``, ``1'234.56``, ``1234,5``. A lone separator followed by exactly three
  digits (``1,234``) is read with the file's decimal mark, decided once per file from its
  unambiguous numbers (else ``,`` in ``;``-separated files, ``.`` otherwise);
- dates: ISO ``2026-12-31``, ``31.12.2026``, ``31 Dec 2026``, ``Dec 31, 2026``,
  ``31-Dec-2026``, and ``31/12/2026`` or ``12/31/2026``. Whether slashed dates are
  day/month or month/day is decided **once per file**: from the dates that can only be
  read one way (a first number above 12 means day first, a second one above 12 month
  first; the majority wins, and dates contradicting it are rejected with the reason),
  else from the file's decimal mark (``,``: day first, ``.``: month first), unless the
  import names ``date_order`` itself;
- amounts as ``Decimal`` (never a float), currencies as ISO 4217 codes.

The file is read twice as a stream of rows (a first pass gathers the evidence for the
date order and the decimal mark); only the normalized documents are kept, as the JSON
the import RPC takes.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from shared.formatting import minor_unit

Kind = Literal["vendor_invoices", "purchase_orders", "goods_receipts"]
Policy = Literal["all_or_nothing", "accept_valid_rows"]
DateOrder = Literal["dmy", "mdy"]
KINDS: tuple[Kind, ...] = ("vendor_invoices", "purchase_orders", "goods_receipts")
POLICIES: tuple[Policy, ...] = ("all_or_nothing", "accept_valid_rows")

MAX_ROWS = 50_000
MAX_FILE_BYTES = 10 * 1024 * 1024
MAX_VALUE_CHARS = 500  # import_row_errors.value

# ISO 4217 active codes (and the precious metals and special codes left out).
_CODES = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD "
    "BTN BWP BYN BZD CAD CDF CHF CLP CNY COP CRC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB "
    "EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD HKD HNL HTG HUF IDR ILS INR IQD IRR ISK "
    "JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD MAD MDL MGA "
    "MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK "
    "PHP PKR PLN PYG QAR RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP "
    "STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS UAH UGX USD UYU UZS VES VND VUV "
    "WST XAF XCD XOF XPF YER ZAR ZMW ZWL"
)
CURRENCIES = frozenset(_CODES.split())


# ---------------------------------------------------------------------------------------
# Columns


FieldType = Literal["text", "date", "money", "quantity", "price", "int", "currency", "status"]


@dataclass(frozen=True)
class Column:
    name: str
    type: FieldType
    level: Literal["doc", "line"]
    required: bool = False
    max_length: int = 0
    synonyms: tuple[str, ...] = ()


def _syn(*names: str) -> tuple[str, ...]:
    return names


_VENDOR = _syn(
    "vendor",
    "vendorname",
    "supplier",
    "suppliername",
    "seller",
    "payee",
    "company",
    "lieferant",
    "fournisseur",
    "proveedor",
)
_PO = _syn(
    "ponumber",
    "pono",
    "po",
    "ponum",
    "poid",
    "purchaseorder",
    "purchaseordernumber",
    "purchaseorderno",
    "ordernumber",
    "orderno",
    "poreference",
    "poref",
)
_ITEM = _syn(
    "itemcode",
    "item",
    "sku",
    "partnumber",
    "partno",
    "productcode",
    "article",
    "articleno",
    "articlenumber",
    "itemnumber",
    "itemno",
    "code",
    "materialnumber",
)
_DESCRIPTION = _syn(
    "description",
    "itemdescription",
    "desc",
    "product",
    "productname",
    "itemname",
    "details",
    "linedescription",
    "text",
)
_NOTES = _syn("notes", "note", "comment", "comments", "memo", "remarks")
_LINE = _syn("linenumber", "line", "lineno", "linenum", "position", "pos", "lineitem")

COLUMNS: dict[Kind, tuple[Column, ...]] = {
    "vendor_invoices": (
        Column("vendor_name", "text", "doc", True, 200, _VENDOR),
        Column(
            "invoice_number",
            "text",
            "doc",
            True,
            50,
            _syn(
                "invoicenumber",
                "invoiceno",
                "invoicenum",
                "invoice",
                "invoiceid",
                "invno",
                "invnumber",
                "invnum",
                "invoiceref",
                "invoicereference",
                "billnumber",
                "billno",
                "documentnumber",
                "documentno",
            ),
        ),
        Column(
            "invoice_date",
            "date",
            "doc",
            True,
            0,
            _syn("invoicedate", "date", "invdate", "billdate", "documentdate", "issuedate"),
        ),
        Column("due_date", "date", "doc", False, 0, _syn("duedate", "paymentdue", "dueon", "due")),
        Column("po_number", "text", "doc", False, 50, _PO),
        Column(
            "currency",
            "currency",
            "doc",
            True,
            0,
            _syn("currency", "currencycode", "curr", "ccy", "wahrung", "devise", "moneda"),
        ),
        Column(
            "subtotal", "money", "doc", False, 0, _syn("subtotal", "net", "nettotal", "netamount")
        ),
        Column(
            "tax_amount",
            "money",
            "doc",
            False,
            0,
            _syn("taxamount", "tax", "vat", "vatamount", "salestax", "gst", "taxtotal"),
        ),
        Column(
            "total_amount",
            "money",
            "doc",
            False,
            0,
            _syn(
                "totalamount",
                "total",
                "invoicetotal",
                "grandtotal",
                "amountdue",
                "totaldue",
                "gross",
                "grossamount",
            ),
        ),
        Column("notes", "text", "doc", False, 5000, _NOTES),
        Column("line_number", "int", "line", False, 0, _LINE),
        Column("item_code", "text", "line", False, 100, _ITEM),
        Column("description", "text", "line", False, 2000, _DESCRIPTION),
        Column(
            "quantity",
            "quantity",
            "line",
            True,
            0,
            _syn("quantity", "qty", "quantitybilled", "qtybilled", "units", "invoicedquantity"),
        ),
        Column(
            "unit_price",
            "price",
            "line",
            True,
            0,
            _syn("unitprice", "price", "unitcost", "rate", "priceperunit", "netprice"),
        ),
        Column(
            "amount",
            "money",
            "line",
            False,
            0,
            _syn("amount", "lineamount", "linetotal", "extendedprice", "lineamountnet", "extended"),
        ),
    ),
    "purchase_orders": (
        Column("po_number", "text", "doc", True, 50, _PO),
        Column("vendor_name", "text", "doc", True, 200, _VENDOR),
        Column(
            "order_date", "date", "doc", False, 0, _syn("orderdate", "podate", "date", "ordered")
        ),
        Column(
            "currency",
            "currency",
            "doc",
            True,
            0,
            _syn("currency", "currencycode", "curr", "ccy", "wahrung", "devise", "moneda"),
        ),
        Column("status", "status", "doc", False, 0, _syn("status", "postatus", "state")),
        Column("notes", "text", "doc", False, 5000, _NOTES),
        Column("line_number", "int", "line", False, 0, _LINE),
        Column("item_code", "text", "line", False, 100, _ITEM),
        Column("description", "text", "line", False, 2000, _DESCRIPTION),
        Column(
            "quantity",
            "quantity",
            "line",
            True,
            0,
            _syn("quantity", "qty", "quantityordered", "qtyordered", "orderedquantity", "units"),
        ),
        Column(
            "unit_price",
            "price",
            "line",
            True,
            0,
            _syn("unitprice", "price", "unitcost", "rate", "priceperunit", "netprice"),
        ),
    ),
    "goods_receipts": (
        Column(
            "receipt_number",
            "text",
            "doc",
            True,
            50,
            _syn(
                "receiptnumber",
                "receiptno",
                "receipt",
                "receiptid",
                "grn",
                "grnnumber",
                "grnno",
                "goodsreceipt",
                "goodsreceiptnumber",
                "goodsreceiptno",
                "deliverynote",
                "deliverynumber",
                "deliverynoteno",
                "deliverynotenumber",
            ),
        ),
        Column("po_number", "text", "doc", True, 50, _PO),
        Column(
            "received_date",
            "date",
            "doc",
            False,
            0,
            _syn("receiveddate", "receiptdate", "date", "deliverydate", "received", "datereceived"),
        ),
        Column("notes", "text", "doc", False, 5000, _NOTES),
        Column(
            "po_line",
            "int",
            "line",
            False,
            0,
            _syn("poline", "polinenumber", "polineno", "linenumber", "line", "lineno", "position"),
        ),
        Column("item_code", "text", "line", False, 100, _ITEM),
        Column(
            "quantity_received",
            "quantity",
            "line",
            True,
            0,
            _syn("quantityreceived", "qtyreceived", "receivedquantity", "quantity", "qty", "units"),
        ),
    ),
}

WHAT: dict[Kind, str] = {
    "vendor_invoices": "invoice",
    "purchase_orders": "purchase order",
    "goods_receipts": "receipt",
}
A_WHAT: dict[Kind, str] = {
    "vendor_invoices": "an invoice",
    "purchase_orders": "a purchase order",
    "goods_receipts": "a receipt",
}
# The JSON body's list of documents, per kind.
JSON_LIST: dict[Kind, str] = {
    "vendor_invoices": "invoices",
    "purchase_orders": "purchase_orders",
    "goods_receipts": "receipts",
}


def header_key(name: str) -> str:
    """A header as a lookup key: case, accents, spaces and punctuation folded
    (``Invoice No.`` -> ``invoiceno``, ``Inv #`` -> ``invnumber``)."""
    text = unicodedata.normalize("NFKD", name.replace("\ufeff", "")).casefold()
    text = text.replace("#", "number").replace("nº", "number").replace("n°", "number")
    return "".join(ch for ch in text if ch.isalnum() and ch.isascii())


def _lookup(kind: Kind) -> dict[str, Column]:
    found: dict[str, Column] = {}
    for column in COLUMNS[kind]:
        for key in (header_key(column.name), *column.synonyms):
            found.setdefault(key, column)
    return found


_LOOKUPS = {kind: _lookup(kind) for kind in KINDS}


# ---------------------------------------------------------------------------------------
# Values


class FieldError(ValueError):
    """A value that cannot be used; the message is for a person."""


_SPACES = re.compile(r"[\s\u00a0\u202f\u2009]+")
_SYMBOLS = "$€£¥₹₩₺₽"
_PLAIN = re.compile(r"\d+(?:\.\d+)?")
_GROUPED_TAIL = re.compile(r"\d{3}")


def parse_number(text: str, decimal_mark: str = ".") -> Decimal:  # noqa: PLR0912 (one grammar)
    """A number as written by people and spreadsheets (see the module's doc)."""
    raw = _SPACES.sub(" ", text).strip().strip(_SYMBOLS).strip()
    negative = raw.startswith("-") or raw.endswith("-") or (raw[:1], raw[-1:]) == ("(", ")")
    if negative:
        raise FieldError(f"{text.strip()!r} is negative; amounts and quantities must be 0 or more")
    raw = raw.removeprefix("+").strip()
    if not raw or not all(ch.isdigit() or ch in ".,' " for ch in raw) or not raw[0].isdigit():
        raise FieldError(f"{text.strip()!r} is not a number")
    if " " in raw or "'" in raw:
        groups = re.split(r"[ ']", raw)
        if not all(_GROUPED_TAIL.fullmatch(g) for g in groups[1:-1]) or not re.fullmatch(
            r"\d{3}(?:[.,]\d+)?", groups[-1]
        ):
            raise FieldError(f"{text.strip()!r} is not a number (digit groups of three?)")
        raw = "".join(groups)
    dots, commas = raw.count("."), raw.count(",")
    if dots and commas:
        mark = "." if raw.rfind(".") > raw.rfind(",") else ","
    elif dots + commas == 0:
        mark = ""
    else:
        sep = "." if dots else ","
        tail = raw.rsplit(sep, 1)[1]
        if dots + commas > 1:
            mark = ""  # 1.234.567: only grouping
        elif len(tail) != 3:
            mark = sep
        else:
            mark = sep if sep == decimal_mark else ""
    if mark:
        whole, _, fraction = raw.rpartition(mark)
        group = "," if mark == "." else "."
    else:
        whole, fraction, group = raw, "", "." if dots else ","
    if group in whole:
        parts = whole.split(group)
        if not (1 <= len(parts[0]) <= 3) or not all(len(p) == 3 for p in parts[1:]):
            raise FieldError(f"{text.strip()!r} is not a number (misplaced thousands separator)")
        whole = "".join(parts)
    if not whole.isdigit() or (fraction and not fraction.isdigit()):
        raise FieldError(f"{text.strip()!r} is not a number")
    try:
        return Decimal(whole + ("." + fraction if fraction else ""))
    except InvalidOperation:
        raise FieldError(f"{text.strip()!r} is not a number") from None


def _json_number(value: Any) -> Decimal:
    if isinstance(value, bool) or value is None:
        raise FieldError("must be a number or a decimal string")
    if isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))  # the shortest text that round-trips
    elif isinstance(value, str):
        text = value.strip()
        if text.startswith("-") and _PLAIN.fullmatch(text[1:]):
            raise FieldError(f"{text} is negative; it must be 0 or more")
        if not _PLAIN.fullmatch(text):
            raise FieldError(f"{value!r} is not a decimal number like 1234.56")
        number = Decimal(text)
    else:
        raise FieldError("must be a number or a decimal string")
    if not number.is_finite():
        raise FieldError("must be a finite number")
    if number < 0:
        raise FieldError(f"{value} is negative; it must be 0 or more")
    return number


_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}
_TIME = re.compile(r"[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$")
_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})")
_SLASHED = re.compile(r"(\d{1,2})([/-])(\d{1,2})\2(\d{4}|\d{2})")
_DOTTED = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4}|\d{2})")
_NAMED_MONTH_FIRST = re.compile(r"([A-Za-z]{3,9})\.?[ -](\d{1,2})(?:st|nd|rd|th)?,?[ -](\d{4})")
_NAMED_DAY_FIRST = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?[ -]([A-Za-z]{3,9})\.?,?[ -](\d{4})")


def _year(text: str) -> int:
    return 2000 + int(text) if len(text) == 2 else int(text)


def _make_date(year: int, month: int, day: int, text: str, how: str = "") -> date:
    try:
        value = date(year, month, day)
    except ValueError:
        raise FieldError(f"{text!r} is not a valid date{how}") from None
    if not 1900 <= value.year <= 2999:
        raise FieldError(f"{text!r} is out of range (years 1900 to 2999)")
    return value


def slashed_parts(text: str) -> tuple[int, int] | None:
    """The two leading numbers of a ``a/b/yyyy`` date (evidence for the date order)."""
    match = _SLASHED.fullmatch(_TIME.sub("", text.strip()))
    return (int(match.group(1)), int(match.group(3))) if match else None


def parse_date(text: str, order: DateOrder = "dmy", evidence: str = "") -> date:
    """A date in one of the accepted formats; ``order`` reads ``a/b/yyyy``."""
    raw = _TIME.sub("", text.strip())
    if match := _ISO.fullmatch(raw):
        return _make_date(int(match[1]), int(match[2]), int(match[3]), text)
    if match := _SLASHED.fullmatch(raw):
        a, b, year = int(match[1]), int(match[3]), _year(match[4])
        day, month = (a, b) if order == "dmy" else (b, a)
        how = " read as day/month/year" if order == "dmy" else " read as month/day/year"
        return _make_date(year, month, day, text, how + evidence)
    if match := _DOTTED.fullmatch(raw):
        return _make_date(_year(match[3]), int(match[2]), int(match[1]), text)
    if match := _NAMED_MONTH_FIRST.fullmatch(raw):
        named = _MONTHS.get(match[1].casefold())
        if named:
            return _make_date(int(match[3]), named, int(match[2]), text)
    if match := _NAMED_DAY_FIRST.fullmatch(raw):
        named = _MONTHS.get(match[2].casefold())
        if named:
            return _make_date(int(match[3]), named, int(match[1]), text)
    raise FieldError(
        f"{text.strip()!r} is not a date in a known format "
        "(2026-12-31, 31/12/2026, 12/31/2026, 31.12.2026, Dec 31, 2026)"
    )


@dataclass
class Reading:
    """How a file's (or a body's) values are read."""

    decimal_mark: str = "."
    date_order: DateOrder = "dmy"
    strict: bool = False  # JSON: ISO dates and plain decimal numbers only
    evidence: str = ""  # why the date order was chosen, for error messages


def _scale(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def convert(column: Column, value: Any, reading: Reading) -> Any:  # noqa: PLR0911, PLR0912, PLR0915 (one case per type)
    """The JSON-ready value of one field (``None`` when blank); raises FieldError."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if column.type == "text":
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise FieldError("must be text")
        text = (
            _SPACES.sub(" ", str(value)).strip() if column.name != "notes" else str(value).strip()
        )
        if column.max_length and len(text) > column.max_length:
            raise FieldError(f"is {len(text)} characters long; at most {column.max_length}")
        return text
    if column.type == "currency":
        if not isinstance(value, str):
            raise FieldError("must be a three-letter currency code like USD")
        code = value.strip().upper()
        if code not in CURRENCIES:
            raise FieldError(f"{value.strip()!r} is not an ISO 4217 currency code (USD, EUR, ...)")
        return code
    if column.type == "status":
        if not isinstance(value, str) or value.strip().casefold() not in (
            "open",
            "closed",
            "cancelled",
            "canceled",
        ):
            raise FieldError(f"{value!r} is not a status; use open, closed or cancelled")
        status = value.strip().casefold()
        return "cancelled" if status == "canceled" else status
    if column.type == "date":
        if reading.strict:
            if not isinstance(value, str):
                raise FieldError("must be a date, YYYY-MM-DD")
            match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})", value.strip())
            if not match:
                raise FieldError(f"{value!r} is not a date in the form YYYY-MM-DD")
            return _make_date(int(match[1]), int(match[2]), int(match[3]), value).isoformat()
        if not isinstance(value, str):
            raise FieldError("must be a date")
        return parse_date(value, reading.date_order, reading.evidence).isoformat()
    if column.type == "int":
        if isinstance(value, bool):
            raise FieldError("must be a whole number")
        text = str(value).strip()
        if not text.isdigit():
            raise FieldError(f"{text!r} is not a whole number")
        whole = int(text)
        if not 1 <= whole <= 100_000:
            raise FieldError(f"{whole} is out of range (1 to 100000)")
        return whole
    # money, quantity, price
    if reading.strict:
        number = _json_number(value)
    elif isinstance(value, str):
        number = parse_number(value, reading.decimal_mark)
    else:
        raise FieldError("must be a number")
    if column.type == "quantity":
        if number <= 0:
            raise FieldError("must be more than 0")
        if number >= 10**9:
            raise FieldError(f"{number} is too large (less than 1,000,000,000)")
        if _scale(number) > 4:
            raise FieldError(f"{number} has more than 4 decimals")
    else:
        if number >= 10**12:
            raise FieldError(f"{number} is too large (less than 1,000,000,000,000)")
        if _scale(number) > 4:
            raise FieldError(f"{number} has more than 4 decimals")
    return format(number, "f")


# ---------------------------------------------------------------------------------------
# Documents


@dataclass(frozen=True)
class RowError:
    """One reason a row was rejected: row 1 is the first data row after the header (0 is
    the header or the file itself; in JSON imports the document's index)."""

    row: int
    column: str | None
    value: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "row": self.row,
            "column": self.column,
            "value": None if self.value is None else self.value[:MAX_VALUE_CHARS],
            "message": self.message[:1000],
        }


@dataclass
class Parsed:
    """What an import stores: the documents (JSON for the RPC), the rejected rows' errors,
    and how the values were read."""

    kind: Kind
    documents: list[dict[str, Any]]
    errors: list[RowError]
    rows_total: int
    decimal_mark: str = "."
    date_order: DateOrder | None = None
    columns: dict[str, str] = field(default_factory=dict)  # field -> the file's header

    @property
    def rejected_rows(self) -> set[int]:
        return {e.row for e in self.errors}


def _doc_key(kind: Kind, values: Mapping[str, Any]) -> tuple[str, ...] | None:
    def number(value: Any) -> str:
        return re.sub(r"[^0-9A-Za-z]+", "", str(value or "")).upper()

    key: tuple[str, ...]
    if kind == "vendor_invoices":
        vendor = str(values.get("vendor_name") or "").casefold()
        key = (vendor, number(values.get("invoice_number")))
    elif kind == "purchase_orders":
        key = (number(values.get("po_number")),)
    else:
        key = (number(values.get("receipt_number")),)
    return key if all(key) else None


def _describe(kind: Kind, values: Mapping[str, Any]) -> str:
    if kind == "vendor_invoices":
        return f"invoice {values.get('invoice_number')} of {values.get('vendor_name')}"
    if kind == "purchase_orders":
        return f"purchase order {values.get('po_number')}"
    return f"receipt {values.get('receipt_number')}"


@dataclass
class _Group:
    first_row: int
    label: str
    fields: dict[str, Any]
    field_rows: dict[str, int]
    rows: list[int] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    line_rows: dict[int, int] = field(default_factory=dict)
    bad_rows: list[int] = field(default_factory=list)


class _Assembler:
    """Rows in, documents out: consistency of the document fields across its rows,
    line numbers, and every rejected row told why."""

    def __init__(self, kind: Kind, policy: Policy, label: Mapping[str, str]) -> None:
        self.kind = kind
        self.policy = policy
        self.label = label  # field -> how errors name the column
        self.columns = COLUMNS[kind]
        self.groups: dict[tuple[str, ...], _Group] = {}
        self.errors: list[RowError] = []
        self.rows_total = 0

    def col(self, name: str) -> str:
        return self.label.get(name, name)

    def add(self, row: int, raw: Mapping[str, Any], reading: Reading, at: str = "") -> None:
        """One row (CSV) or one line of a JSON document (``at`` prefixes its fields)."""
        values: dict[str, Any] = {}
        problems: list[RowError] = []
        for column in self.columns:
            given = raw.get(column.name)
            try:
                values[column.name] = convert(column, given, reading)
            except FieldError as error:
                where = (at if column.level == "line" else "") + self.col(column.name)
                problems.append(RowError(row, where, _text(given), f"{where}: {error}"))
                values[column.name] = None
        key = _doc_key(self.kind, values)
        group = self.groups.get(key) if key else None
        line: dict[str, Any] | None = None
        if key and group is None:
            group = _Group(row, _describe(self.kind, values), {}, {})
            self.groups[key] = group
        if group is not None:
            problems += self._doc_fields(row, group, values, raw, at)
            self._money_scale(
                row=row, group=group, values=values, raw=raw, problems=problems, at=at
            )
            line, line_problems = self._line(row, group, values, raw, at)
            problems += line_problems
        else:
            for column in self.columns:
                given_bad = any(p.column == self.col(column.name) for p in problems)
                if column.level == "doc" and column.required and values[column.name] is None:
                    problems += [] if given_bad else [self._missing(row, column.name)]
        if problems:
            self.errors += problems
            if group is not None:
                group.rows.append(row)
                group.bad_rows.append(row)
            return
        assert group is not None
        assert line is not None
        group.rows.append(row)
        group.lines.append(line)

    def _missing(self, row: int, name: str, hint: str = "") -> RowError:
        return RowError(row, self.col(name), None, f"{self.col(name)} is required{hint}")

    def _doc_fields(
        self, row: int, group: _Group, values: dict[str, Any], raw: Mapping[str, Any], at: str
    ) -> list[RowError]:
        problems = []
        for column in self.columns:
            if column.level != "doc":
                continue
            value = values[column.name]
            if value is None:
                if (
                    column.required
                    and column.name not in group.fields
                    and not _text(raw.get(column.name))
                ):
                    hint = "" if at else f" (on the first row of {group.label})"
                    problems.append(self._missing(row, column.name, hint))
                continue
            if column.name not in group.fields:
                group.fields[column.name] = value
                group.field_rows[column.name] = row
            elif _same(column.name, group.fields[column.name], value, self.kind):
                continue
            else:
                name = self.col(column.name)
                problems.append(
                    RowError(
                        row,
                        name,
                        _text(raw.get(column.name)),
                        f"{name} is {value} here but {group.fields[column.name]} on row "
                        f"{group.field_rows[column.name]} of {group.label}: the rows of one "
                        f"{WHAT[self.kind]} must agree",
                    )
                )
        return problems

    def _money_scale(
        self,
        *,
        row: int,
        group: _Group,
        values: dict[str, Any],
        raw: Mapping[str, Any],
        problems: list[RowError],
        at: str,
    ) -> None:
        currency = group.fields.get("currency") or values.get("currency")
        if not currency:
            return
        for column in self.columns:
            if column.type != "money" or values[column.name] is None:
                continue
            if _scale(Decimal(values[column.name])) > minor_unit(currency):
                where = (at if column.level == "line" else "") + self.col(column.name)
                problems.append(
                    RowError(
                        row,
                        where,
                        _text(raw.get(column.name)),
                        f"{where}: {values[column.name]} has more decimals than {currency} "
                        f"allows ({minor_unit(currency)})",
                    )
                )

    def _line(
        self,
        row: int,
        group: _Group,
        values: dict[str, Any],
        raw: Mapping[str, Any],
        at: str,
    ) -> tuple[dict[str, Any] | None, list[RowError]]:
        problems: list[RowError] = []
        line: dict[str, Any] = {"row": row, "at": at}
        for column in self.columns:
            if column.level == "line":
                line[column.name] = values[column.name]
                if (
                    column.required
                    and values[column.name] is None
                    and not _text(raw.get(column.name))
                ):
                    problems.append(
                        RowError(
                            row,
                            at + self.col(column.name),
                            None,
                            f"{at}{self.col(column.name)} is required",
                        )
                    )
        if self.kind == "goods_receipts":
            if (
                line["po_line"] is None
                and line["item_code"] is None
                and not _text(raw.get("po_line"))
            ):
                problems.append(
                    RowError(
                        row,
                        at + self.col("po_line"),
                        None,
                        f"name the purchase order line: {self.col('po_line')} (its line number) "
                        f"or {self.col('item_code')}",
                    )
                )
        else:
            if line["description"] is None:
                line["description"] = line["item_code"]
                if line["description"] is None and not _text(raw.get("description")):
                    problems.append(
                        RowError(
                            row,
                            at + self.col("description"),
                            None,
                            f"{at}{self.col('description')} is required (or an item code)",
                        )
                    )
            number = line["line_number"]
            if number is None and not _text(raw.get("line_number")):
                number = max(group.line_rows, default=0) + 1
                line["line_number"] = number
            if number is not None:
                if number in group.line_rows:
                    problems.append(
                        RowError(
                            row,
                            at + self.col("line_number"),
                            str(number),
                            f"line {number} appears twice in {group.label} (rows "
                            f"{group.line_rows[number]} and {row})",
                        )
                    )
                elif not problems:
                    group.line_rows[number] = row
        return (None if problems else line), problems

    def finish(self) -> list[dict[str, Any]]:
        documents = []
        for group in self.groups.values():
            if group.bad_rows:
                if self.policy == "accept_valid_rows":
                    bad = ", ".join(str(r) for r in group.bad_rows[:5])
                    for row in group.rows:
                        if row not in group.bad_rows:
                            self.errors.append(
                                RowError(
                                    row,
                                    None,
                                    None,
                                    f"not imported with the rest of {group.label}: row(s) "
                                    f"{bad} of it have errors, and {A_WHAT[self.kind]} is "
                                    "imported whole or not at all",
                                )
                            )
                continue
            documents.append(
                {"index": group.first_row, "rows": group.rows, **group.fields, "lines": group.lines}
            )
        self.errors.sort(key=lambda e: e.row)
        return documents


# The fields that make a document's key: its rows agree on them by definition (written
# however: "ACME" and "Acme", "INV-1" and "inv 1"); the first row's spelling is kept.
_KEYS: dict[Kind, tuple[str, ...]] = {
    "vendor_invoices": ("vendor_name", "invoice_number"),
    "purchase_orders": ("po_number",),
    "goods_receipts": ("receipt_number",),
}


def _same(name: str, first: Any, value: Any, kind: Kind) -> bool:
    if name in _KEYS[kind]:
        return True
    if name.endswith("_number") and isinstance(first, str) and isinstance(value, str):
        return (
            re.sub(r"[^0-9A-Za-z]+", "", first).upper()
            == re.sub(r"[^0-9A-Za-z]+", "", value).upper()
        )
    return bool(first == value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


# ---------------------------------------------------------------------------------------
# CSV


def _decode(data: bytes) -> tuple[str, bytes]:
    """The encoding of ``data`` and the bytes without their BOM."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8", data[len(codecs.BOM_UTF8) :]
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", data
    decoder = codecs.getincrementaldecoder("utf-8")()
    step = 1 << 20
    try:
        for start in range(0, len(data), step):
            decoder.decode(data[start : start + step], final=start + step >= len(data))
    except UnicodeDecodeError:
        return "cp1252", data
    return "utf-8", data


def _lines(data: bytes, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(io.BytesIO(data), encoding=encoding, errors="replace", newline="")


def _delimiter(header: str) -> str:
    counts = dict.fromkeys((";", "\t", ","), 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _records(data: bytes, encoding: str, delimiter: str) -> Iterator[list[str]]:
    reader = csv.reader(_lines(data, encoding), delimiter=delimiter, quotechar='"', strict=False)
    yield from reader


def _blank(record: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in record)


def parse_csv(  # noqa: PLR0912, PLR0915 (header, two passes, one place)
    data: bytes,
    kind: Kind,
    *,
    policy: Policy = "all_or_nothing",
    date_order: DateOrder | None = None,
) -> Parsed:
    """A CSV file's documents and rejected rows (see the module's doc for the layout)."""
    encoding, data = _decode(data)
    first = ""
    for line in _lines(data, encoding):
        if line.strip():
            first = line
            break
    if not first:
        return Parsed(kind, [], [RowError(0, None, None, "the file is empty")], 0)
    delimiter = _delimiter(first)
    records = _records(data, encoding, delimiter)
    header: list[str] = []
    for record in records:
        if not _blank(record):
            header = record
            break
    lookup = _LOOKUPS[kind]
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    errors: list[RowError] = []
    for index, name in enumerate(header):
        column = lookup.get(header_key(name))
        if column is None:
            continue
        if column.name in positions:
            errors.append(
                RowError(
                    0,
                    name.strip(),
                    None,
                    f"the columns {labels[column.name]!r} and {name.strip()!r} both give "
                    f"{column.name}; keep one",
                )
            )
            continue
        positions[column.name] = index
        labels[column.name] = name.strip().replace("\ufeff", "")
    for column in COLUMNS[kind]:
        if column.required and column.name not in positions:
            synonyms = ", ".join(column.synonyms[:4])
            errors.append(
                RowError(
                    0,
                    column.name,
                    None,
                    f"the header has no {column.name} column (also accepted: {synonyms})",
                )
            )
    if kind == "goods_receipts" and "po_line" not in positions and "item_code" not in positions:
        errors.append(
            RowError(0, "po_line", None, "the header needs a po_line or an item_code column")
        )

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 0
        started = False
        for record in _records(data, encoding, delimiter):
            if not started:
                if not _blank(record):
                    started = True
                continue
            number += 1
            if not _blank(record):
                yield number, record

    if errors:
        total = sum(1 for _ in rows())
        return Parsed(kind, [], errors, total, columns=labels)

    def cell(record: list[str], name: str) -> str:
        index = positions.get(name)
        return record[index] if index is not None and index < len(record) else ""

    # First pass: how this file writes numbers and dates.
    numeric = [c.name for c in COLUMNS[kind] if c.type in ("money", "quantity", "price")]
    dated = [c.name for c in COLUMNS[kind] if c.type == "date"]
    votes = {".": 0, ",": 0}
    day_first: list[int] = []
    month_first: list[int] = []
    total = 0
    for number, record in rows():
        total += 1
        for name in numeric:
            mark = _decimal_evidence(cell(record, name))
            if mark:
                votes[mark] += 1
        for name in dated:
            parts = slashed_parts(cell(record, name))
            if parts and parts[0] > 12 >= parts[1] and len(day_first) < 1000:
                day_first.append(number)
            elif parts and parts[1] > 12 >= parts[0] and len(month_first) < 1000:
                month_first.append(number)
    if total > MAX_ROWS:
        return Parsed(
            kind,
            [],
            [
                RowError(
                    0, None, None, f"the file has {total:,} rows; at most {MAX_ROWS:,} per import"
                )
            ],
            total,
            columns=labels,
        )
    if votes["."] != votes[","]:
        decimal_mark = "." if votes["."] > votes[","] else ","
    else:
        decimal_mark = "," if delimiter == ";" else "."
    order: DateOrder
    if date_order:
        order, evidence = date_order, " (the import's date_order)"
    elif day_first or month_first:
        order = "dmy" if len(day_first) >= len(month_first) else "mdy"
        sample = day_first[0] if order == "dmy" else month_first[0]
        words = "day/month/year" if order == "dmy" else "month/day/year"
        evidence = f" (this file's dates are {words}, as row {sample} shows)"
    else:
        order = "dmy" if decimal_mark == "," else "mdy"
        words = "day/month/year" if order == "dmy" else "month/day/year"
        evidence = f" (this file's dates are read as {words})"
    reading = Reading(decimal_mark=decimal_mark, date_order=order, evidence=evidence)

    # Second pass: the rows.
    assembler = _Assembler(kind, policy, labels)
    names = [c.name for c in COLUMNS[kind]]
    for number, record in rows():
        assembler.add(number, {name: cell(record, name) for name in names}, reading)
    documents = assembler.finish()
    return Parsed(
        kind,
        documents,
        assembler.errors,
        total,
        decimal_mark=decimal_mark,
        date_order=order,
        columns=labels,
    )


def _decimal_evidence(text: str) -> str | None:
    """The decimal mark a number shows unambiguously, if it does."""
    raw = text.strip().strip(_SYMBOLS).strip()
    if "." in raw and "," in raw:
        return "." if raw.rfind(".") > raw.rfind(",") else ","
    for sep in (".", ","):
        if raw.count(sep) == 1:
            tail = raw.rsplit(sep, 1)[1]
            if tail.isdigit() and len(tail) != 3:
                return sep
    return None


# ---------------------------------------------------------------------------------------
# JSON


def validate_json(
    kind: Kind, documents: Sequence[Any], *, policy: Policy = "all_or_nothing"
) -> Parsed:
    """The documents of a JSON import (``{..., "lines": [...]}`` each): the same checks as
    a CSV file, ISO dates and plain decimal numbers; errors name ``lines[i].field``, the
    row is the document's index."""
    assembler = _Assembler(kind, policy, {})
    reading = Reading(strict=True)
    allowed_doc = {c.name for c in COLUMNS[kind] if c.level == "doc"}
    allowed_line = {c.name for c in COLUMNS[kind] if c.level == "line"}
    documents_out: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if not isinstance(document, dict):
            assembler.errors.append(
                RowError(index, None, None, f"must be an object, one {WHAT[kind]}")
            )
            continue
        problems = [
            RowError(index, name, None, f"{name}: unknown field")
            for name in document
            if name not in allowed_doc and name != "lines"
        ]
        lines = document.get("lines")
        if not isinstance(lines, list) or not 1 <= len(lines) <= 1000:
            problems.append(RowError(index, "lines", None, "lines: give 1 to 1000 lines"))
        else:
            for position, line in enumerate(lines):
                if not isinstance(line, dict):
                    problems.append(
                        RowError(
                            index,
                            f"lines[{position}]",
                            None,
                            f"lines[{position}]: must be an object",
                        )
                    )
                    continue
                problems += [
                    RowError(
                        index,
                        f"lines[{position}].{name}",
                        None,
                        f"lines[{position}].{name}: unknown field",
                    )
                    for name in line
                    if name not in allowed_line
                ]
        if problems or not isinstance(lines, list):
            assembler.errors += problems
            continue
        # Each document is assembled alone: two documents with one key are duplicates,
        # which the import RPC reports (as it does duplicates of stored documents).
        single = _Assembler(kind, policy, {})
        for position, line in enumerate(lines):
            single.add(index, {**document, **line}, reading, at=f"lines[{position}].")
        for group in single.groups.values():
            group.rows = [index]
            group.bad_rows = sorted(set(group.bad_rows))
        found = single.finish()
        seen: set[tuple[str, ...]] = set()
        assembler.errors += [e for e in single.errors if not _seen(seen, e)]
        if single.errors or not found:
            if not single.errors:
                assembler.errors.append(RowError(index, None, None, "nothing to import"))
            continue
        documents_out += found
    assembler.errors.sort(key=lambda e: e.row)
    return Parsed(kind, documents_out, assembler.errors, len(documents))


def _seen(seen: set[tuple[str, ...]], error: RowError) -> bool:
    """Document-level errors repeat once per line in a JSON document: keep one."""
    key = (str(error.row), error.column or "", error.message)
    if key in seen:
        return True
    seen.add(key)
    return False

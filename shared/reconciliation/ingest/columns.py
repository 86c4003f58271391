"""What is imported and under which names: the three kinds of document (vendor
invoices, purchase orders, goods receipts), the import policies, and each kind's fields
(`COLUMNS`: document or line level, type, required, the header synonyms a file may use:
``Invoice No``, ``invoice_number``, ``Inv #``, ``Qty``, ``Supplier`` ...; header names in
any case and spacing, unknown columns ignored).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Literal

Kind = Literal["vendor_invoices", "purchase_orders", "goods_receipts"]
Policy = Literal["all_or_nothing", "accept_valid_rows"]
DateOrder = Literal["dmy", "mdy"]
KINDS: tuple[Kind, ...] = ("vendor_invoices", "purchase_orders", "goods_receipts")
POLICIES: tuple[Policy, ...] = ("all_or_nothing", "accept_valid_rows")


FieldType = Literal[
    "text", "date", "money", "quantity", "price", "int", "currency", "status", "match_mode"
]


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
        # 2-way or 3-way matching (issue 20): the PO's mode, repeated on its rows, and a
        # line's own (JSON: the document's and lines[i].match_mode).
        Column(
            "match_mode",
            "match_mode",
            "doc",
            False,
            0,
            _syn("matchmode", "pomatchmode", "matching"),
        ),
        Column("line_match_mode", "match_mode", "line", False, 0, _syn("linematchmode")),
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


# Each kind's columns by their header key (`header_key`) and synonyms.
BY_HEADER = {kind: _lookup(kind) for kind in KINDS}

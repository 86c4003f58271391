"""The invoice and payment lists for the export: the filters of ``GET /api/invoices`` and
``GET /api/payments``, newest first. The invoices are read by ``export_invoice_page``
(one RPC a page); the payments in keyset pages through PostgREST on ``payment_date
desc, id desc`` (``payments (organization_id, payment_date desc)``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from shared import db
from shared.errors import validation
from shared.exports.reading import (
    ReportQuery,
    keyset_pages,
    read_ahead,
    subtitle,
    to_date,
    to_money,
    to_text,
)
from shared.exports.table import Column, Row, Table
from shared.listing import comma_values, escape_like, one_of, ranges, uuids
from shared.models.invoices import STATUSES
from shared.models.payments import PAYMENT_METHODS

INVOICE_COLUMNS = [
    Column("invoice_number", "Number", "text", 14),
    Column("client_company_name", "Client", "text", 30),
    Column("status", "Status", "text", 10),
    Column("is_overdue", "Overdue", "bool", 9, in_pdf=False),
    Column("issue_date", "Issued", "date", 12),
    Column("due_date", "Due", "date", 12),
    Column("payment_terms", "Terms", "text", 14, in_pdf=False),
    Column("currency", "Cur.", "text", 9),
    Column("subtotal", "Subtotal", "money", 14, in_pdf=False),
    Column("discount", "Discount", "money", 12, in_pdf=False),
    Column("tax_rate", "Tax %", "decimal", 8, in_pdf=False),
    Column("tax_amount", "Tax", "money", 12, in_pdf=False),
    Column("total_amount", "Total", "money", 14),
    Column("amount_paid", "Paid", "money", 14),
    Column("balance_due", "Balance", "money", 14),
    Column("sent_at", "Sent at", "datetime", 20, in_pdf=False),
    Column("paid_at", "Paid at", "datetime", 20, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]
INVOICE_SELECT = ",".join(c.key for c in INVOICE_COLUMNS)
# Rows per export_invoice_page call (the function allows up to 5,000; bench/export.py).
INVOICE_PAGE_ROWS = 5000


def invoices(query: ReportQuery) -> Table:
    """The invoice list: the filters of ``GET /api/invoices`` (``from``/``to`` are the issue
    date range), newest issue date first, read by ``export_invoice_page`` (one RPC a
    page of `INVOICE_PAGE_ROWS`, the next one read while this one is written)."""
    o = query.options
    issue_from = o.get("issue_date_from") or query.date_from
    issue_to = o.get("issue_date_to") or query.date_to
    params: dict[str, Any] = {
        "organization_id": str(query.organization_id),
        "statuses": one_of("status", o.get("status"), STATUSES) or None,
        "client_ids": uuids("client_id", o.get("client_id")) or None,
        "overdue": o.get("overdue"),
        "search": str(o["q"]).strip() if o.get("q") else None,
    }
    for name, low, high in (
        ("issue", issue_from, issue_to),
        ("due", o.get("due_date_from"), o.get("due_date_to")),
        ("total", o.get("total_from"), o.get("total_to")),
    ):
        if low is not None and high is not None and low > high:
            field = {"issue": "issue_date", "due": "due_date", "total": "total"}[name]
            raise validation(f"{field}_from", f"is after {field}_to")
        params[f"{name}_from"] = None if low is None else str(low)
        params[f"{name}_to"] = None if high is None else str(high)
    params = {k: v for k, v in params.items() if v is not None}

    def page(after: list[Any] | None) -> list[list[Any]]:
        extra = {"page_rows": INVOICE_PAGE_ROWS}
        if after is not None:
            extra.update(after_issue_date=after[4], after_id=after[17])
        found: list[list[Any]] = db.rpc(query.client, "export_invoice_page", params | extra)
        return found

    first = page(None)  # errors (403, 422) before any file is started

    def rows() -> Iterator[Row]:
        for found in read_ahead(first, page, INVOICE_PAGE_ROWS):
            for r in found:
                yield tuple(r)  # canonical text: the writers convert what they need

    span = f"issued {issue_from or 'any time'} to {issue_to or 'today'}"
    return Table(
        name="invoices",
        title="Invoices",
        subtitle=subtitle(span, o),
        columns=INVOICE_COLUMNS,
        rows=rows(),
        total=len(first) if len(first) < INVOICE_PAGE_ROWS else None,
        date_from=issue_from,
        date_to=issue_to,
    )


PAYMENT_COLUMNS = [
    Column("payment_date", "Date", "date", 12),
    Column("invoice_number", "Invoice", "text", 14),
    Column("client_name", "Client", "text", 30),
    Column("payment_method", "Method", "text", 14),
    Column("reference_number", "Reference", "text", 18),
    Column("currency", "Cur.", "text", 9),
    Column("amount", "Amount", "money", 14),
    Column("notes", "Notes", "text", 30, in_pdf=False),
    Column("invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
    Column("id", "Id", "text", 38, in_pdf=False),
]
PAYMENT_SELECT = (
    "id,payment_date,amount,currency,payment_method,reference_number,notes,invoice_id,"
    "invoice:invoices{inner}(invoice_number,client_id,client:clients(company_name))"
)


def payments(query: ReportQuery) -> Table:
    """The payment list: the filters of ``GET /api/payments`` (``from``/``to`` are the
    payment date range), newest payment first."""
    o = query.options
    invoice_ids = uuids("invoice_id", o.get("invoice_id"))
    clients = uuids("client_id", o.get("client_id"))
    methods = one_of("payment_method", o.get("payment_method"), PAYMENT_METHODS)
    currencies = [c.upper() for c in comma_values("currency", o.get("currency"))]
    if not all(len(c) == 3 and c.isascii() and c.isalpha() for c in currencies):
        raise validation("currency", "give three-letter currency codes, e.g. USD,EUR")
    paid_from = o.get("payment_date_from") or query.date_from
    paid_to = o.get("payment_date_to") or query.date_to
    term = escape_like(str(o.get("q") or "").strip())
    # Filtering by the invoice's client needs the inner join (as GET /api/payments).
    select = PAYMENT_SELECT.format(inner="!inner" if clients else "")

    def build(count: bool = False) -> Any:
        q = (
            query.client.from_("payments")
            .select(select, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if invoice_ids:
            q = q.in_("invoice_id", invoice_ids)
        if clients:
            q = q.in_("invoice.client_id", clients)
        if methods:
            q = q.in_("payment_method", methods)
        if currencies:
            q = q.in_("currency", currencies)
        q = ranges(
            q,
            {
                "payment_date": (paid_from, paid_to),
                "amount": (o.get("amount_from"), o.get("amount_to")),
            },
            refuse_reversed=True,
        )
        if term:
            q = q.or_(f"reference_number.ilike.*{term}*,notes.ilike.*{term}*")
        return q

    build()
    total, pages = keyset_pages(build, "payment_date")

    def rows() -> Iterator[Row]:
        for page in pages:
            for doc in page:
                invoice = doc.get("invoice") or {}
                client = invoice.get("client") or {}
                yield (
                    to_date(doc["payment_date"]),
                    to_text(invoice.get("invoice_number")),
                    to_text(client.get("company_name")),
                    doc["payment_method"],
                    doc["reference_number"],
                    doc["currency"],
                    to_money(doc["amount"]),
                    doc["notes"],
                    doc["invoice_id"],
                    to_text(invoice.get("client_id")),
                    doc["id"],
                )

    span = f"paid {paid_from or 'any time'} to {paid_to or 'today'}"
    return Table(
        name="payments",
        title="Payments",
        subtitle=subtitle(span, o),
        columns=PAYMENT_COLUMNS,
        rows=rows(),
        total=total,
        date_from=paid_from,
        date_to=paid_to,
    )

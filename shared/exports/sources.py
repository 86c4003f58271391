"""Where the exported rows come from, always through PostgREST with the caller's JWT
(row-level security decides, as for every read of the API).

- The reports: one call to the report's SQL function (20261122000600_reports_api.sql), its
  document flattened into rows. Those are small (a row per currency, period, status or
  client).
- The invoice and payment lists and the reconciliation match results
  (``public.reconciliation_match_rows``, keyset on ``invoice_date desc, vendor_invoice_id
  desc, line_number``): the filters of ``GET /api/invoices`` / ``GET /api/payments``,
  read in pages of `PAGE_ROWS` by **keyset** on the order the tenant's index gives
  (``issue_date desc, id desc`` on ``invoices (organization_id, issue_date desc)``;
  ``payment_date desc, id desc`` on ``payments (organization_id, payment_date desc)``): each
  page starts where the last one ended, ``issue_date <= d and (issue_date < d or
  (issue_date = d and id < last))``, so page 100 costs what page 1 costs (OFFSET would read
  and discard every row before it). Only the first page asks for the exact count, and
  the next page is read while the current one is written (one page ahead, no more).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from shared import db
from shared.errors import validation
from shared.exports.table import Column, Point, Row, Table, Value
from shared.listing import comma_values, escape_like, one_of, uuids
from shared.models.invoices import STATUSES
from shared.models.payments import PAYMENT_METHODS

# PostgREST answers at most 1,000 rows a request (its max-rows, and the local stack's cap).
PAGE_ROWS = 1000

Convert = Callable[[Any], Value]


def _text(value: Any) -> Value:
    return None if value is None else str(value)


def _money(value: Any) -> Value:
    # JSON numbers arrive as Decimal (with a fraction) or int (without: JPY, "0").
    if value is None or isinstance(value, Decimal):
        return value
    return Decimal(str(value))


def _int(value: Any) -> Value:
    return None if value is None else int(value)


def _date(value: Any) -> Value:
    return None if value is None else date.fromisoformat(value)


def _datetime(value: Any) -> Value:
    return None if value is None else datetime.fromisoformat(value)


def _bool(value: Any) -> Value:
    return None if value is None else bool(value)


CONVERTERS: dict[str, Convert] = {
    "text": _text,
    "money": _money,
    "decimal": _money,
    "int": _int,
    "date": _date,
    "datetime": _datetime,
    "bool": _bool,
}


def _rows(columns: list[Column], documents: list[dict[str, Any]]) -> list[Row]:
    converters = [CONVERTERS[c.kind] for c in columns]
    return [
        tuple(convert(doc.get(c.key)) for c, convert in zip(columns, converters, strict=True))
        for doc in documents
    ]


def _range_text(data: dict[str, Any]) -> str:
    return f"{data['from']} to {data['to']}"


def _covered(table: Table, data: dict[str, Any]) -> Table:
    """The table, with the range the SQL function used (its defaults applied)."""
    table.date_from = date.fromisoformat(data["from"])
    table.date_to = date.fromisoformat(data["to"])
    return table


# --------------------------------------------------------------------------------------
# Reports (one RPC each)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportQuery:
    """What the export route parsed: the organization, the range and the report's options."""

    client: Any  # the PostgREST client bound to the caller's JWT
    organization_id: UUID
    date_from: date | None
    date_to: date | None
    options: dict[str, Any]

    def rpc(self, function: str, **extra: Any) -> Any:
        params: dict[str, Any] = {"org_id": str(self.organization_id)}
        if self.date_from is not None:
            params["date_from"] = self.date_from.isoformat()
        if self.date_to is not None:
            params["date_to"] = self.date_to.isoformat()
        params.update({k: v for k, v in extra.items() if v is not None})
        return db.rpc(self.client, function, params)


OVERVIEW_COLUMNS = [
    Column("currency", "Currency", "text", 10),
    Column("invoice_count", "Invoices", "int", 10),
    Column("billed", "Billed", "money", 16),
    Column("paid", "Paid", "money", 16),
    Column("outstanding", "Outstanding", "money", 16),
    Column("overdue_amount", "Overdue", "money", 16),
    Column("overdue_count", "Overdue #", "int", 10),
    Column("collection_rate", "Collected %", "decimal", 12),
    Column("average_invoice", "Avg invoice", "money", 14),
    Column("collected", "Collected", "money", 16),
    Column("payment_count", "Payments", "int", 10),
    Column("average_days_to_pay", "Days to pay", "decimal", 12),
]


def overview(query: ReportQuery) -> Table:
    data = query.rpc("reports_overview")
    rows = _rows(OVERVIEW_COLUMNS, data["by_currency"] or [data["primary"]])
    counts = data["invoice_counts"]
    table = Table(
        name="overview",
        title="Overview",
        subtitle=f"{_range_text(data)} · {counts['total']} invoices issued"
        f" · {data['clients']['new']} new clients",
        columns=OVERVIEW_COLUMNS,
        rows=iter(rows),
        total=len(rows),
    )
    return _covered(table, data)


REVENUE_COLUMNS = [
    Column("period", "Period", "text", 10),
    Column("start", "From", "date", 12),
    Column("end", "To", "date", 12),
    Column("currency", "Currency", "text", 9),
    Column("billed", "Billed", "money", 16),
    Column("collected", "Collected", "money", 16),
    Column("invoice_count", "Invoices", "int", 10),
    Column("payment_count", "Payments", "int", 10),
]


def revenue(query: ReportQuery) -> Table:
    group_by = query.options.get("group_by") or "month"
    client_id = query.options.get("client_id")
    data = query.rpc(
        "reports_revenue",
        group_by=group_by,
        client_id=str(client_id) if client_id else None,
        client_limit=1,
    )
    documents = [
        {**point, "currency": series["currency"]}
        for series in data["series"]
        for point in series["points"]
    ]
    rows = _rows(REVENUE_COLUMNS, documents)
    series = [
        Point(
            label=str(doc["period"]),
            currency=str(doc["currency"]),
            billed=Decimal(str(doc["billed"])),
            collected=Decimal(str(doc["collected"])),
        )
        for doc in documents
    ]
    table = Table(
        name=f"revenue-by-{group_by}",
        title=f"Revenue by {group_by}" + (" (one client)" if client_id else ""),
        subtitle=_range_text(data),
        columns=REVENUE_COLUMNS,
        rows=iter(rows),
        total=len(rows),
        series=series,
    )
    return _covered(table, data)


CLIENT_REVENUE_COLUMNS = [
    Column("client_name", "Client", "text", 32),
    Column("currency", "Currency", "text", 9),
    Column("billed", "Billed", "money", 16),
    Column("collected", "Collected", "money", 16),
    Column("invoice_count", "Invoices", "int", 10),
    Column("payment_count", "Payments", "int", 10),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
]


def revenue_by_client(query: ReportQuery) -> Table:
    limit = query.options.get("limit") or 100
    data = query.rpc("reports_revenue", group_by="year", client_limit=limit)
    rows = _rows(CLIENT_REVENUE_COLUMNS, data["by_client"])
    table = Table(
        name="revenue-by-client",
        title="Revenue by client",
        subtitle=f"{_range_text(data)} · the top {limit} clients of each currency by billed",
        columns=CLIENT_REVENUE_COLUMNS,
        rows=iter(rows),
        total=len(rows),
    )
    return _covered(table, data)


PAYMENT_STATUS_COLUMNS = [
    Column("status", "Status", "text", 12),
    Column("count", "Invoices", "int", 10),
    Column("percentage", "Share %", "decimal", 10),
    Column("currency", "Currency", "text", 9),
    Column("currency_count", "In currency", "int", 12),
    Column("total", "Total", "money", 16),
    Column("paid", "Paid", "money", 16),
    Column("outstanding", "Outstanding", "money", 16),
]


def payment_status(query: ReportQuery) -> Table:
    data = query.rpc("reports_payment_status")
    documents = []
    for share in data["statuses"]:
        amounts = share["amounts"] or [
            {"currency": data["currency"], "count": 0, "total": 0, "paid": 0, "outstanding": 0}
        ]
        for amount in amounts:
            documents.append(
                {
                    "status": share["status"],
                    "count": share["count"],
                    "percentage": share["percentage"],
                    "currency": amount["currency"],
                    "currency_count": amount["count"],
                    "total": amount["total"],
                    "paid": amount["paid"],
                    "outstanding": amount["outstanding"],
                }
            )
    rows = _rows(PAYMENT_STATUS_COLUMNS, documents)
    table = Table(
        name="payment-status",
        title="Payment status",
        subtitle=f"{_range_text(data)} · {data['total_count']} invoices issued",
        columns=PAYMENT_STATUS_COLUMNS,
        rows=iter(rows),
        total=len(rows),
    )
    return _covered(table, data)


CLIENT_PERFORMANCE_COLUMNS = [
    Column("client_name", "Client", "text", 32),
    Column("currency", "Currency", "text", 9),
    Column("invoice_count", "Invoices", "int", 10),
    Column("billed", "Billed", "money", 16),
    Column("paid", "Paid", "money", 16),
    Column("outstanding", "Outstanding", "money", 16),
    Column("overdue_amount", "Overdue", "money", 16),
    Column("overdue_count", "Overdue #", "int", 10),
    Column("average_days_to_pay", "Days to pay", "decimal", 12),
    Column("last_invoice_date", "Last invoice", "date", 13),
    Column("client_id", "Client id", "text", 38, in_pdf=False),
]


def client_performance(query: ReportQuery) -> Table:
    limit = query.options.get("limit") or 100
    data = query.rpc(
        "reports_client_performance",
        sort_by=query.options.get("sort") or "-billed",
        row_limit=limit,
        currency_code=query.options.get("currency"),
    )
    rows = _rows(CLIENT_PERFORMANCE_COLUMNS, data["clients"])
    table = Table(
        name="client-performance",
        title="Client performance",
        subtitle=f"{_range_text(data)} · {len(rows)} of {data['total']} clients by {data['sort']}",
        columns=CLIENT_PERFORMANCE_COLUMNS,
        rows=iter(rows),
        total=len(rows),
    )
    return _covered(table, data)


# --------------------------------------------------------------------------------------
# Lists (keyset pages)
# --------------------------------------------------------------------------------------


def _between(query: Any, column: str, low: Any, high: Any) -> Any:
    if low is not None and high is not None and low > high:
        raise validation(f"{column}_from", f"is after {column}_to")
    if low is not None:
        query = query.gte(column, low.isoformat() if isinstance(low, date) else str(low))
    if high is not None:
        query = query.lte(column, high.isoformat() if isinstance(high, date) else str(high))
    return query


def _and(query: Any, expression: str) -> Any:
    """Adds ``and=(expression)``: a second logical tree beside the search's ``or``."""
    query.request.params = query.request.params.add("and", f"({expression})")
    return query


def _keyset_pages(
    build: Callable[..., Any], date_column: str, first_count: bool = True
) -> tuple[int | None, Iterator[list[dict[str, Any]]]]:
    """Reads the first page (with the exact count), then yields it and the pages after it,
    each starting after the last row of the one before (``date_column desc, id desc``)."""

    def page(after: tuple[str, str] | None, count: bool) -> db.Result:
        query = build(count=count)
        if after is not None:
            day, last = after
            query = query.lte(date_column, day)
            query = _and(
                query, f"or({date_column}.lt.{day},and({date_column}.eq.{day},id.lt.{last}))"
            )
        query = query.order(date_column, desc=True).order("id", desc=True).limit(PAGE_ROWS)
        return db.run(query)

    first = page(None, first_count)

    def pages() -> Iterator[list[dict[str, Any]]]:
        # The next page is asked for as soon as this one arrives (its last row is the
        # key), on a thread: the database and the network work while this page is written.
        result = first
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-page") as ahead:
            while True:
                rows: list[dict[str, Any]] = result.data or []
                following = None
                if len(rows) >= PAGE_ROWS:
                    key = (rows[-1][date_column], rows[-1]["id"])
                    following = ahead.submit(page, key, False)
                if rows:
                    yield rows
                if following is None:
                    return
                result = following.result()

    return first.count, pages()


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
        "org_id": str(query.organization_id),
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
        current = first
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-page") as ahead:
            while True:
                following = (
                    ahead.submit(page, current[-1]) if len(current) >= INVOICE_PAGE_ROWS else None
                )
                for r in current:
                    yield tuple(r)  # canonical text: the writers convert what they need
                if following is None:
                    return
                current = following.result()

    described = ", ".join(
        f"{k}={v}" for k, v in sorted(o.items()) if v is not None and k != "limit"
    )
    span = f"issued {issue_from or 'any time'} to {issue_to or 'today'}"
    return Table(
        name="invoices",
        title="Invoices",
        subtitle=span + (f" · {described}" if described else ""),
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
        q = _between(q, "payment_date", paid_from, paid_to)
        q = _between(q, "amount", o.get("amount_from"), o.get("amount_to"))
        if term:
            q = q.or_(f"reference_number.ilike.*{term}*,notes.ilike.*{term}*")
        return q

    build()
    total, pages = _keyset_pages(build, "payment_date")

    def rows() -> Iterator[Row]:
        for page in pages:
            for doc in page:
                invoice = doc.get("invoice") or {}
                client = invoice.get("client") or {}
                yield (
                    _date(doc["payment_date"]),
                    _text(invoice.get("invoice_number")),
                    _text(client.get("company_name")),
                    doc["payment_method"],
                    doc["reference_number"],
                    doc["currency"],
                    _money(doc["amount"]),
                    doc["notes"],
                    doc["invoice_id"],
                    _text(invoice.get("client_id")),
                    doc["id"],
                )

    described = ", ".join(
        f"{k}={v}" for k, v in sorted(o.items()) if v is not None and k != "limit"
    )
    span = f"paid {paid_from or 'any time'} to {paid_to or 'today'}"
    return Table(
        name="payments",
        title="Payments",
        subtitle=span + (f" · {described}" if described else ""),
        columns=PAYMENT_COLUMNS,
        rows=rows(),
        total=total,
        date_from=paid_from,
        date_to=paid_to,
    )


MATCH_OUTCOMES = ("matched", "matched_with_tolerance", "exception")
MATCH_COLUMNS = [
    Column("invoice_date", "Date", "date", 12),
    Column("invoice_number", "Invoice", "text", 13),
    Column("vendor_name", "Vendor", "text", 20),
    Column("po_number", "PO", "text", 12, in_pdf=False),
    Column("invoice_outcome", "Outcome", "text", 25),
    Column("invoice_status", "Status", "text", 14, in_pdf=False),
    Column("currency", "Cur.", "text", 6),
    Column("total_amount", "Total", "money", 13),
    Column("total_variance", "Total var.", "money", 12, in_pdf=False),
    Column("open_exceptions", "Open exc.", "int", 10, in_pdf=False),
    Column("line_number", "Line", "int", 7),
    Column("line_outcome", "Line outcome", "text", 25),
    Column("rule", "Rule", "text", 20),
    Column("matched_by", "Matched by", "text", 12, in_pdf=False),
    Column("ordered_quantity", "Ordered", "decimal", 10, in_pdf=False),
    Column("received_quantity", "Received", "decimal", 10, in_pdf=False),
    Column("previously_billed_quantity", "Prev. billed", "decimal", 12, in_pdf=False),
    Column("billed_quantity", "Qty", "decimal", 8),
    Column("allowed_quantity", "Allowed qty", "decimal", 10, in_pdf=False),
    # Unit prices and their variance keep every decimal (a unit price may have more
    # than the currency's minor unit): decimals, not money.
    Column("po_unit_price", "PO price", "decimal", 11, in_pdf=False),
    Column("billed_unit_price", "Billed price", "decimal", 11, in_pdf=False),
    Column("price_variance", "Price var.", "decimal", 11),
    Column("price_allowance", "Price allow.", "decimal", 11, in_pdf=False),
    Column("expected_amount", "Expected", "money", 13, in_pdf=False),
    Column("billed_amount", "Billed", "money", 12),
    Column("amount_variance", "Amt var.", "money", 11),
    Column("matched_at", "Matched at", "datetime", 20, in_pdf=False),
    Column("vendor_invoice_id", "Invoice id", "text", 38, in_pdf=False),
    Column("vendor_id", "Vendor id", "text", 38, in_pdf=False),
    Column("purchase_order_id", "PO id", "text", 38, in_pdf=False),
    Column("purchase_order_line_id", "PO line id", "text", 38, in_pdf=False),
]
MATCH_SELECT = ",".join(c.key for c in MATCH_COLUMNS)


def match_results(query: ReportQuery) -> Table:
    """The reconciliation match results (``public.reconciliation_match_rows``): one row
    per vendor invoice line with its invoice's outcome and the line's evidence (an
    invoice without line evidence is one row, its line columns empty); ``from``/``to``
    are the invoice date range, ``outcome`` the invoice's outcomes, ``vendor_id`` its
    vendors. Newest invoice first, its lines in order, read in keyset pages on
    ``(invoice_date desc, vendor_invoice_id desc, line_number)``."""
    o = query.options
    outcomes = one_of("outcome", o.get("outcome"), MATCH_OUTCOMES)
    vendors = uuids("vendor_id", o.get("vendor_id"))
    low, high = query.date_from, query.date_to
    if low is not None and high is not None and low > high:  # pragma: no cover - the route
        raise validation("from", "is after to")
    converters = [CONVERTERS[c.kind] for c in MATCH_COLUMNS]

    def page(after: dict[str, Any] | None, count: bool) -> db.Result:
        q = (
            query.client.from_("reconciliation_match_rows")
            .select(MATCH_SELECT, count="exact" if count else None)
            .eq("organization_id", str(query.organization_id))
        )
        if outcomes:
            q = q.in_("invoice_outcome", outcomes)
        if vendors:
            q = q.in_("vendor_id", vendors)
        q = _between(q, "invoice_date", low, high)
        if after is not None:
            day, invoice, line = (
                after["invoice_date"],
                after["vendor_invoice_id"],
                after["line_number"],
            )
            q = q.lte("invoice_date", day)
            later = (
                f",and(invoice_date.eq.{day},vendor_invoice_id.eq.{invoice},line_number.gt.{line})"
                if line is not None
                else ""  # an invoice without line evidence is a single row
            )
            q = _and(
                q,
                f"or(invoice_date.lt.{day},"
                f"and(invoice_date.eq.{day},vendor_invoice_id.lt.{invoice}){later})",
            )
        q = (
            q.order("invoice_date", desc=True)
            .order("vendor_invoice_id", desc=True)
            .order("line_number", nullsfirst=True)
            .limit(PAGE_ROWS)
        )
        return db.run(q)

    first = page(None, True)  # errors (403, 422) before any file is started

    def rows() -> Iterator[Row]:
        result = first
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-page") as ahead:
            while True:
                found: list[dict[str, Any]] = result.data or []
                following = (
                    ahead.submit(page, found[-1], False) if len(found) >= PAGE_ROWS else None
                )
                for doc in found:
                    yield tuple(
                        convert(doc.get(c.key))
                        for c, convert in zip(MATCH_COLUMNS, converters, strict=True)
                    )
                if following is None:
                    return
                result = following.result()

    described = ", ".join(
        f"{k}={v}" for k, v in sorted(o.items()) if v is not None and k != "limit"
    )
    span = f"invoices dated {low or 'any time'} to {high or 'today'}"
    return Table(
        name="match-results",
        title="Reconciliation match results",
        subtitle=span + (f" · {described}" if described else ""),
        columns=MATCH_COLUMNS,
        rows=rows(),
        total=first.count,
        date_from=low,
        date_to=high,
    )


REPORTS: dict[str, Callable[[ReportQuery], Table]] = {
    "overview": overview,
    "revenue": revenue,
    "revenue-by-client": revenue_by_client,
    "payment-status": payment_status,
    "client-performance": client_performance,
    "invoices": invoices,
    "payments": payments,
    "match-results": match_results,
}

"""The reports' tables for the export: one call each to the report's SQL function (the
functions ``GET /api/reports/*`` answer with), its document flattened into rows. Those
are small: a row per currency, period, status or client.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from shared.exports.reading import ReportQuery, typed_rows
from shared.exports.table import Column, Point, Table


def _range_text(data: dict[str, Any]) -> str:
    return f"{data['from']} to {data['to']}"


def _covered(table: Table, data: dict[str, Any]) -> Table:
    """The table, with the range the SQL function used (its defaults applied)."""
    table.date_from = date.fromisoformat(data["from"])
    table.date_to = date.fromisoformat(data["to"])
    return table


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
    rows = typed_rows(OVERVIEW_COLUMNS, data["by_currency"] or [data["primary"]])
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
    rows = typed_rows(REVENUE_COLUMNS, documents)
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
    rows = typed_rows(CLIENT_REVENUE_COLUMNS, data["by_client"])
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
    rows = typed_rows(PAYMENT_STATUS_COLUMNS, documents)
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
    rows = typed_rows(CLIENT_PERFORMANCE_COLUMNS, data["clients"])
    table = Table(
        name="client-performance",
        title="Client performance",
        subtitle=f"{_range_text(data)} · {len(rows)} of {data['total']} clients by {data['sort']}",
        columns=CLIENT_PERFORMANCE_COLUMNS,
        rows=iter(rows),
        total=len(rows),
    )
    return _covered(table, data)

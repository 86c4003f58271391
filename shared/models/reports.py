"""Models of the dashboard and report routes (docs/api.md, "Dashboard and reports").

Every amount is ``Decimal`` (sent as a decimal string) and belongs to a currency: figures
are grouped per currency and never summed across currencies. Counts, percentages and
days carry no currency. The SQL functions of 20261206100900_reports.sql build these
documents (redefined by 20261206110600_lifecycle_reports.sql with the billing lifecycle's
fields: credit notes, refunds, client credit, recurring revenue, quotes); the models type
them and publish their shape in the OpenAPI document.

Money is counted once (docs/api.md, "Dashboard and reports"): collected = payments
received less refunds; billed is net of credit notes (credited shows them apart);
outstanding is the balance due, net of credits, with the client credit beside it.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from shared.models import Output

InvoiceStatus = Literal["draft", "sent", "paid", "overdue", "cancelled"]
ActivityType = Literal[
    "new", "communication", "payment", "invoice_sent", "invoice_overdue", "other"
]
GroupBy = Literal["month", "quarter", "year"]

# --------------------------------------------------------------------------------------
# Shared pieces
# --------------------------------------------------------------------------------------


class DateRange(Output):
    """An inclusive range of dates."""

    from_: date = Field(alias="from")
    to: date


class InvoiceCounts(Output):
    """Invoices by report status: a sent invoice past its due date counts as overdue."""

    draft: int
    sent: int
    overdue: int
    paid: int
    cancelled: int
    total: int


# --------------------------------------------------------------------------------------
# Dashboard
# --------------------------------------------------------------------------------------


class QuoteCounts(Output):
    """Quotes by status; a sent quote past its valid_until counts as expired."""

    draft: int
    sent: int
    accepted: int
    declined: int
    expired: int
    converted: int
    total: int


class DashboardFigures(Output):
    """The dashboard's figures in one currency."""

    currency: str = Field(description="ISO 4217 code; every amount of this block is in it")
    revenue_this_month: Decimal = Field(
        description="money collected this calendar month: payments received less refunds"
    )
    revenue_last_month: Decimal = Field(description="the same for the previous month")
    revenue_change_percent: Decimal | None = Field(
        description="(this - last) / last * 100, 1 decimal; null when last month is zero"
    )
    payments_this_month: int
    outstanding_amount: Decimal = Field(description="balance due of sent and overdue invoices")
    outstanding_count: int
    overdue_amount: Decimal = Field(
        description="balance due of overdue (or sent, past due) invoices"
    )
    overdue_count: int
    paid_this_month_amount: Decimal = Field(
        description="total of invoices paid whose last payment is in this month"
    )
    paid_this_month_count: int
    received_this_month: Decimal = Field(description="payments dated this month")
    received_last_month: Decimal
    refunded_this_month: Decimal = Field(description="refunds dated this month")
    refunded_last_month: Decimal
    credited_this_month: Decimal = Field(description="credit notes issued this month")
    credit_notes_this_month: int
    client_credit: Decimal = Field(
        description="credit clients hold now (not subtracted from outstanding_amount)"
    )
    clients_with_credit: int
    mrr: Decimal = Field(description="monthly recurring revenue of the active recurring profiles")
    active_recurring_profiles: int
    open_quotes_amount: Decimal = Field(description="sent quotes still valid today")
    open_quotes_count: int
    average_days_to_pay: Decimal | None = Field(
        description="last payment date - issue date of invoices paid in the last 12 months"
    )


class DashboardMetrics(Output):
    as_of: date
    currency: str = Field(description="the organization's default currency")
    this_month: DateRange
    last_month: DateRange
    primary: DashboardFigures = Field(description="the figures in the default currency")
    by_currency: list[DashboardFigures] = Field(
        description="every currency with activity, the default currency first"
    )
    invoice_counts: InvoiceCounts
    outstanding_count: int = Field(description="open invoices, all currencies")
    overdue_count: int = Field(description="overdue invoices, all currencies")
    average_days_to_pay: Decimal | None = Field(description="over all currencies")
    quote_counts: QuoteCounts
    quote_acceptance_rate: Decimal | None = Field(
        description="(accepted + converted) / (accepted + converted + declined + expired) * 100"
    )
    active_recurring_profiles: int = Field(description="all currencies")


class RecentInvoice(Output):
    id: UUID
    invoice_number: str
    client_id: UUID
    client_name: str
    status: InvoiceStatus
    is_overdue: bool = Field(description="overdue, or sent and past its due date")
    currency: str
    issue_date: date
    due_date: date
    total_amount: Decimal
    amount_paid: Decimal
    amount_credited: Decimal = Field(description="credit notes and client credit applied")
    balance_due: Decimal


class RecentInvoices(Output):
    data: list[RecentInvoice]


class RecentActivity(Output):
    id: UUID
    client_id: UUID
    client_name: str
    type: ActivityType
    activity: str
    timestamp: datetime
    metadata: dict[str, Any] | None


class RecentActivities(Output):
    data: list[RecentActivity]


class ChartPoint(Output):
    month: date = Field(description="the first day of the month")
    billed: Decimal = Field(description="invoices issued, net of their credit notes")
    collected: Decimal = Field(description="payments received less refunds")
    received: Decimal
    refunded: Decimal
    credited: Decimal = Field(description="credit notes issued (already out of billed)")
    invoice_count: int
    payment_count: int


class ChartSeries(Output):
    currency: str
    total_billed: Decimal
    total_collected: Decimal
    total_refunded: Decimal
    total_credited: Decimal
    invoice_count: int
    payment_count: int
    points: list[ChartPoint] = Field(description="every month of the chart, zero-filled")


class RevenueChart(Output):
    from_: date = Field(alias="from")
    to: date
    months: int
    currency: str = Field(description="the organization's default currency")
    series: list[ChartSeries] = Field(description="one per currency, the default currency first")


# --------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------


class OverviewFigures(Output):
    """A report range's figures in one currency."""

    currency: str
    invoice_count: int = Field(
        description="invoices issued in the range, drafts and cancelled excluded"
    )
    billed: Decimal = Field(description="net of credit notes: paid + credit_applied + outstanding")
    paid: Decimal = Field(description="amount paid on the invoices billed in the range")
    credit_applied: Decimal = Field(description="client credit applied to them")
    outstanding: Decimal = Field(description="their open balance due")
    overdue_amount: Decimal
    overdue_count: int
    collection_rate: Decimal | None = Field(description="paid / billed * 100, 1 decimal")
    average_invoice: Decimal | None
    collected: Decimal = Field(description="payments dated in the range less refunds")
    received: Decimal
    refunded: Decimal
    refund_count: int
    payment_count: int
    credited: Decimal = Field(description="credit notes issued in the range")
    credit_note_count: int
    client_credit: Decimal = Field(description="credit clients hold now")
    mrr: Decimal = Field(description="monthly recurring revenue now")
    active_recurring_profiles: int
    quote_count: int = Field(description="quotes issued in the range, drafts excluded")
    quoted: Decimal
    accepted_amount: Decimal = Field(description="of those, accepted or converted")
    average_days_to_pay: Decimal | None


class ClientCounts(Output):
    new: int = Field(description="clients created in the range")
    billed: int = Field(description="clients with an invoice billed in the range")


class ReportsOverview(Output):
    from_: date = Field(alias="from")
    to: date
    currency: str
    primary: OverviewFigures
    by_currency: list[OverviewFigures]
    invoice_counts: InvoiceCounts
    clients: ClientCounts
    average_days_to_pay: Decimal | None
    quote_counts: QuoteCounts
    quote_acceptance_rate: Decimal | None


class RevenuePoint(Output):
    period: str = Field(description="2026-01, 2026-Q1 or 2026")
    start: date = Field(description="the period's first day within the range")
    end: date = Field(description="the period's last day within the range")
    billed: Decimal
    collected: Decimal
    refunded: Decimal
    credited: Decimal
    invoice_count: int
    payment_count: int


class RevenueSeries(Output):
    currency: str
    total_billed: Decimal
    total_collected: Decimal
    total_refunded: Decimal
    total_credited: Decimal
    invoice_count: int
    payment_count: int
    points: list[RevenuePoint]


class ClientRevenue(Output):
    client_id: UUID
    client_name: str
    currency: str
    billed: Decimal
    collected: Decimal
    refunded: Decimal
    invoice_count: int
    payment_count: int


class RevenueReport(Output):
    from_: date = Field(alias="from")
    to: date
    group_by: GroupBy
    client_id: UUID | None
    currency: str
    series: list[RevenueSeries]
    by_client: list[ClientRevenue] = Field(
        description="the top clients of each currency by billed amount"
    )


class StatusAmount(Output):
    currency: str
    count: int
    total: Decimal
    paid: Decimal
    credited: Decimal
    outstanding: Decimal


class StatusShare(Output):
    status: InvoiceStatus
    count: int
    percentage: Decimal | None = Field(description="share of the count, 1 decimal")
    amounts: list[StatusAmount]


class PaymentStatusReport(Output):
    from_: date = Field(alias="from")
    to: date
    currency: str
    total_count: int
    statuses: list[StatusShare]


class ClientPerformance(Output):
    client_id: UUID
    client_name: str
    currency: str
    invoice_count: int
    billed: Decimal
    paid: Decimal
    credit_applied: Decimal
    client_credit: Decimal
    outstanding: Decimal
    overdue_amount: Decimal
    overdue_count: int
    average_days_to_pay: Decimal | None
    last_invoice_date: date


class ClientPerformanceReport(Output):
    from_: date = Field(alias="from")
    to: date
    currency: str
    sort: str
    total: int = Field(description="clients billed in the range (before the limit)")
    clients: list[ClientPerformance]

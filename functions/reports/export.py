"""GET /api/reports/export: a report, the invoice or payment list, or the reconciliation
match results, as a CSV, XLSX or PDF
file in S3 (under the organization's prefix), answered with a presigned URL that expires.

The rows are read page by page with the caller's JWT (row-level security decides what is
in the file) and written as they come into an upload that never holds the whole file
(`shared.exports`). Any role of the organization may export: it is a read.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from functions.reports import STATUSES, ReportRange, error_responses, report_range
from shared.api import make_handler
from shared.context import Viewer
from shared.errors import ErrorResponses, forbidden
from shared.exports import run, sources
from shared.models.exports import ExportResult, Format, Report
from shared.models.reports import GroupBy

# An export also writes to the file store: its 404 and 503 say when.
export_error_responses = ErrorResponses(
    {
        **error_responses.descriptions,
        404: "no such client (revenue with client_id)",
        503: "the database or the file store failed",
    }
)

router = APIRouter(tags=["reports"])


@router.get(
    "/api/reports/export",
    response_model=ExportResult,
    summary="Export a report or a list as CSV, XLSX or PDF (a presigned S3 URL)",
    description=(
        "`report`: overview, revenue (`group_by`, `client_id`), revenue-by-client "
        "(`limit`), payment-status, client-performance (`sort`, `limit`, `currency`), "
        "invoices and payments (the filters of their list routes; `from`/`to` are the "
        "issue or payment date range), match-results (the reconciliation match results, a "
        "row per vendor invoice line: `outcome`, `vendor_id`; `from`/`to` are the invoice "
        "date range); quotes, credit-notes, refunds, recurring-profiles and client-credit (the "
        "ledger), with the filters of their list routes (`from`/`to`: issue, refund or start "
        "date, the ledger entry's day); audit (admins and owners: the audit trail, `table`, "
        "`record_id`, `actor`, `action`; `from`/`to` the days of the changes). See "
        "docs/api.md, Report export."
    ),
    responses=export_error_responses(*STATUSES, 404),
)
async def export(
    *,
    request: Request,
    ctx: Viewer,
    report: Annotated[Report, Query(description="which report or list")],
    fmt: Annotated[Format, Query(alias="format", description="csv, xlsx or pdf")],
    period: Annotated[ReportRange, Depends(report_range)],
    group_by: Annotated[GroupBy | None, Query(description="revenue: month/quarter/year")] = None,
    client_id: Annotated[str | None, Query(description="revenue: one client; lists")] = None,
    limit: Annotated[int | None, Query(ge=1, le=100, description="clients (default 100)")] = None,
    sort: Annotated[str | None, Query(description="client-performance: e.g. -billed")] = None,
    currency: Annotated[
        str | None, Query(description="client-performance, payments, client-credit")
    ] = None,
    q: Annotated[str | None, Query(max_length=200, description="lists: search")] = None,
    status: Annotated[
        str | None, Query(description="invoices, quotes, recurring-profiles: statuses")
    ] = None,
    overdue: Annotated[bool | None, Query(description="invoices: overdue or not")] = None,
    issue_date_from: date | None = None,
    issue_date_to: date | None = None,
    due_date_from: date | None = None,
    due_date_to: date | None = None,
    total_from: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    total_to: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    invoice_id: Annotated[
        str | None, Query(description="payments, credit-notes, refunds: invoice ids")
    ] = None,
    payment_method: Annotated[str | None, Query(description="payments: methods")] = None,
    payment_date_from: date | None = None,
    payment_date_to: date | None = None,
    amount_from: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    amount_to: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    outcome: Annotated[
        str | None,
        Query(description="match-results: matched, matched_with_tolerance, exception"),
    ] = None,
    vendor_id: Annotated[str | None, Query(description="match-results: vendor ids")] = None,
    valid_until_from: date | None = None,
    valid_until_to: date | None = None,
    kind: Annotated[
        str | None, Query(description="credit-notes: whole, lines, amount; client-credit: kinds")
    ] = None,
    payment_id: Annotated[str | None, Query(description="refunds: payment ids")] = None,
    source: Annotated[str | None, Query(description="refunds: payment, credit")] = None,
    refund_date_from: date | None = None,
    refund_date_to: date | None = None,
    frequency: Annotated[
        str | None, Query(description="recurring-profiles: monthly, quarterly, annually, custom")
    ] = None,
    table: Annotated[str | None, Query(max_length=70, description="audit: a table")] = None,
    record_id: Annotated[str | None, Query(description="audit: a record's id")] = None,
    actor: Annotated[str | None, Query(description="audit: who made the change")] = None,
    action: Annotated[str | None, Query(description="audit: insert, update, delete")] = None,
) -> ExportResult:
    values = dict(locals())
    if report == "audit" and not ctx.at_least("admin"):
        raise forbidden(f"your role ({ctx.role}) may not export the audit trail; it needs admin")
    chosen = run.options(request.query_params, report, values)
    query = sources.ReportQuery(
        client=ctx.db,
        organization_id=ctx.organization_id,
        date_from=period.date_from,
        date_to=period.date_to,
        options=chosen,
    )
    return run.export(query, report, fmt, ctx.user.settings)


handler = make_handler(router)

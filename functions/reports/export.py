"""GET /api/reports/export: a report, the invoice or payment list, or the reconciliation
match results, as a CSV, XLSX or PDF
file in S3 (under the organization's prefix), answered with a presigned URL that expires.

The rows are read page by page with the caller's JWT (row-level security decides what is
in the file) and written as they come into an upload that never holds the whole file
(`shared.exports`). Any role of the organization may export: it is a read.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from botocore.exceptions import BotoCoreError, ClientError
from fastapi import APIRouter, Depends, Query, Request
from pydantic import Field

from functions.reports import ERRORS, ReportRange, report_range
from shared.api import make_handler
from shared.context import Viewer
from shared.errors import ApiError, validation
from shared.exports import sources, storage, writers
from shared.models import Output
from shared.models.common import ErrorBody
from shared.models.reports import GroupBy

router = APIRouter(tags=["reports"])

Report = Literal[
    "overview",
    "revenue",
    "revenue-by-client",
    "payment-status",
    "client-performance",
    "invoices",
    "payments",
    "match-results",
]
Format = Literal["csv", "xlsx", "pdf"]

# The options each report takes besides from/to; any other is refused (422).
OPTIONS: dict[str, set[str]] = {
    "overview": set(),
    "revenue": {"group_by", "client_id"},
    "revenue-by-client": {"limit"},
    "payment-status": set(),
    "client-performance": {"sort", "limit", "currency"},
    "invoices": {
        "q",
        "status",
        "client_id",
        "overdue",
        "issue_date_from",
        "issue_date_to",
        "due_date_from",
        "due_date_to",
        "total_from",
        "total_to",
    },
    "payments": {
        "q",
        "invoice_id",
        "client_id",
        "payment_method",
        "currency",
        "payment_date_from",
        "payment_date_to",
        "amount_from",
        "amount_to",
    },
    "match-results": {"outcome", "vendor_id"},
}
# Query parameters that are not options.
_FIXED = {"report", "format", "from", "to"}


class ExportResult(Output):
    url: str = Field(description="presigned GET URL of the file; expires at `expires_at`")
    key: str = Field(description="the S3 key, under `<organization_id>/exports/`")
    report: str
    format: str
    content_type: str
    file_name: str
    rows: int = Field(description="data rows written (the header not counted)")
    bytes: int
    from_: date | None = Field(alias="from", description="the range covered, when it has one")
    to: date | None
    generated_at: datetime
    expires_in: int = Field(description="seconds the URL stays valid")
    expires_at: datetime


def _options(request: Request, report: str, values: dict[str, Any]) -> dict[str, Any]:
    allowed = OPTIONS[report]
    for name in request.query_params:
        if name not in _FIXED and name not in allowed:
            hint = f"it takes {sorted(allowed)}" if allowed else "it takes only from and to"
            raise validation(name, f"not an option of the {report} report; {hint}")
    return {k: v for k, v in values.items() if k in allowed and v is not None}


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
        "date range). See docs/api.md, Report export."
    ),
    responses={
        **ERRORS,
        404: {"model": ErrorBody, "description": "no such client (revenue with client_id)"},
        503: {"model": ErrorBody, "description": "the database or the file store failed"},
    },
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
    currency: Annotated[str | None, Query(description="client-performance, payments")] = None,
    q: Annotated[str | None, Query(max_length=200, description="lists: search")] = None,
    status: Annotated[str | None, Query(description="invoices: statuses")] = None,
    overdue: Annotated[bool | None, Query(description="invoices: overdue or not")] = None,
    issue_date_from: date | None = None,
    issue_date_to: date | None = None,
    due_date_from: date | None = None,
    due_date_to: date | None = None,
    total_from: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    total_to: Annotated[Decimal | None, Query(allow_inf_nan=False)] = None,
    invoice_id: Annotated[str | None, Query(description="payments: invoice ids")] = None,
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
) -> ExportResult:
    values = dict(locals())
    options = _options(request, report, values)
    if report == "revenue" and client_id is not None:
        try:
            options["client_id"] = UUID(client_id)
        except ValueError:
            raise validation("client_id", f"{client_id!r} is not a client id (UUID)") from None
    if (
        report == "client-performance"
        and currency is not None
        and not (len(currency) == 3 and currency.isascii() and currency.isupper())
    ):
        raise validation("currency", "a three-letter ISO 4217 code, e.g. USD")
    settings = ctx.user.settings
    query = sources.ReportQuery(
        client=ctx.db,
        organization_id=ctx.organization_id,
        date_from=period.date_from,
        date_to=period.date_to,
        options=options,
    )
    table = sources.REPORTS[report](query)  # the filters are checked before any S3 call

    generated = datetime.now(UTC).replace(microsecond=0)
    content_type, extension = writers.FORMATS[fmt]
    span = "-".join(d.isoformat() for d in (table.date_from, table.date_to) if d is not None)
    file_name = f"{table.name}{'-' + span if span else ''}.{extension}"
    key = (
        f"{ctx.organization_id}/exports/{generated:%Y/%m}/"
        f"{generated:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}-{file_name}"
    )
    client = storage.s3()
    bucket = settings.exports_bucket
    try:
        with storage.S3Sink(
            client,
            bucket,
            key,
            content_type=content_type,
            disposition=f'attachment; filename="{file_name}"',
        ) as sink:
            writers.write(table, fmt, sink, generated_at=generated)
        signed = datetime.now(UTC).replace(microsecond=0)  # the URL's X-Amz-Date
        url = storage.presigned_get(client, bucket, key, settings.presigned_url_seconds)
    except writers.TooManyRows as error:
        raise ApiError(
            422,
            "validation_failed",
            f"format: a PDF holds at most {error.limit} rows; narrow the range or the "
            "filters, or export csv or xlsx",
            details=[{"in": "query", "field": "format", "message": "too many rows for a PDF"}],
        ) from None
    except (BotoCoreError, ClientError):
        raise storage.storage_failed() from None
    return ExportResult.model_validate(
        {
            "url": url,
            "key": key,
            "report": report,
            "format": fmt,
            "content_type": content_type,
            "file_name": file_name,
            "rows": table.rows_written,
            "bytes": sink.written,
            "from": table.date_from,
            "to": table.date_to,
            "generated_at": generated,
            "expires_in": settings.presigned_url_seconds,
            "expires_at": signed + timedelta(seconds=settings.presigned_url_seconds),
        }
    )


handler = make_handler(router)

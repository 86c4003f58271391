"""GET /api/reconciliation/imports: the organization's import batches, newest first."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from shared.context import Viewer
from shared.listing import PageParams, escape_like, fetch_page, one_of, order_by, page_params
from shared.models.common import Day, Page, Pagination
from shared.models.imports import ImportBatch
from shared.reconciliation.routes import error_responses

router = APIRouter(tags=["reconciliation"])

SORTABLE = {"created_at", "completed_at", "file_name", "status", "kind", "rows_total"}
VALUES = {
    "kind": ("vendor_invoices", "purchase_orders", "goods_receipts"),
    "status": ("awaiting_upload", "processing", "completed", "rejected", "failed"),
    "source": ("csv", "api", "email"),
    "policy": ("all_or_nothing", "accept_valid_rows"),
}


@router.get(
    "/api/reconciliation/imports",
    response_model=Page[ImportBatch],
    summary="List the organization's import batches",
    description=(
        "Filter (`kind`, `status`, `source`, `policy`: comma-separated; `created_from`/"
        "`created_to` dates), search (`q`: file name), sort "
        f"(`sort`: {', '.join(sorted(SORTABLE))}; default `-created_at`) and page."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_imports(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[
        str | None, Query(max_length=200, description="Substring of the file name")
    ] = None,
    kind: Annotated[
        str | None, Query(description="vendor_invoices, purchase_orders, goods_receipts")
    ] = None,
    status: Annotated[
        str | None, Query(description="awaiting_upload, processing, completed, rejected, failed")
    ] = None,
    source: Annotated[str | None, Query(description="csv, api, email")] = None,
    policy: Annotated[str | None, Query(description="all_or_nothing, accept_valid_rows")] = None,
    created_from: Annotated[Day | None, Query(description="years 1900 to 2200")] = None,
    created_to: Annotated[Day | None, Query(description="years 1900 to 2200")] = None,
    sort: Annotated[str | None, Query(description="Up to three fields, `-` for descending")] = None,
) -> Page[ImportBatch]:
    query = (
        ctx.db.from_("import_batches")
        .select("*", count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    for field, value in (
        ("kind", kind),
        ("status", status),
        ("source", source),
        ("policy", policy),
    ):
        values = one_of(field, value, VALUES[field])
        if values:
            query = query.in_(field, values)
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.ilike("file_name", f"*{term}*")
    if created_from is not None:
        query = query.gte("created_at", created_from.isoformat())
    if created_to is not None:
        query = query.lt("created_at", date.fromordinal(created_to.toordinal() + 1).isoformat())
    rows, pagination = fetch_page(
        order_by(query, sort, SORTABLE, "-created_at", frozenset({"completed_at"})), page
    )
    return Page[ImportBatch](
        data=[ImportBatch.model_validate(row) for row in rows],
        pagination=Pagination(**pagination),
    )

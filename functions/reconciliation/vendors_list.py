"""GET /api/reconciliation/vendors: the organization's vendors, searched and paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from functions.reconciliation import error_responses, plain
from shared.context import Viewer
from shared.listing import PageParams, escape_like, fetch_page, one_of, order_by, page_params
from shared.models.common import Page, Pagination
from shared.models.reconciliation import VENDOR_STATUSES, VendorSummary
from shared.reconciliation import vendor_tax_ids

router = APIRouter(tags=["reconciliation"])

SORTABLE = {"name", "normalized_name", "created_at", "updated_at"}
VENDOR_COLUMNS = (
    "id,organization_id,name,normalized_name,tax_id,email,phone,address,default_currency,"
    "status,merged_into,quantity_tolerance_percent::text,price_tolerance_percent::text,"
    "price_tolerance_amount::text,total_tolerance_amount::text,notes,created_at,updated_at,"
    "aliases:vendor_aliases(id,alias,normalized_alias,source)"
)


@router.get(
    "/api/reconciliation/vendors",
    response_model=Page[VendorSummary],
    summary="List the organization's vendors",
    description=(
        "Search (`q`: a case-insensitive substring of the name or of the normalized name, "
        "so `acme` finds `ACME Corp.`), filter (`status`: active, inactive, merged; "
        "comma-separated), sort (`sort`: name (default), normalized_name, created_at, "
        "updated_at) and page. Each vendor carries its aliases; merge suggestions are on "
        "`GET /api/reconciliation/vendors/{id}`."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def list_vendors(
    *,
    ctx: Viewer,
    page: Annotated[PageParams, Depends(page_params)],
    q: Annotated[str | None, Query(max_length=200, description="Name substring")] = None,
    status: Annotated[str | None, Query(description="active, inactive, merged")] = None,
    sort: Annotated[str | None, Query(description="e.g. `-created_at`")] = None,
    tax_id: Annotated[
        str | None,
        Query(max_length=50, description="Exact tax id (separators and case ignored)"),
    ] = None,
) -> Page[VendorSummary]:
    statuses = one_of("status", status, VENDOR_STATUSES)
    query = (
        ctx.db.from_("vendors")
        .select(VENDOR_COLUMNS, count="exact")
        .eq("organization_id", str(ctx.organization_id))
    )
    term = escape_like(q.strip()) if q else ""
    if term:
        query = query.or_(f"name.ilike.*{term}*,normalized_name.ilike.*{term.lower()}*")
    if statuses:
        query = query.in_("status", statuses)
    if tax_id and tax_id.strip():
        # By the keyed hash: the database holds no clear tax id to compare with.
        query = query.eq("tax_id_hash", vendor_tax_ids.lookup_hash(tax_id))
    rows, pagination = fetch_page(order_by(query, sort, SORTABLE, "name"), page)
    return Page[VendorSummary](
        data=[
            VendorSummary.model_validate(row) for row in vendor_tax_ids.fill_page(ctx, plain(rows))
        ],
        pagination=Pagination(**pagination),
    )

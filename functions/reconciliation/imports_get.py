"""GET /api/reconciliation/imports/{id}: one import batch with its rejected rows, paged."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.listing import PageParams, fetch_page, page_params
from shared.models.common import Page, Pagination
from shared.models.imports import ImportBatchDetail, RowError
from shared.reconciliation.routes import ImportBatchId, error_responses

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/imports/{id}",
    response_model=ImportBatchDetail,
    summary="One import batch with its row errors (page, page_size)",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_import(
    ctx: Viewer,
    batch_id: ImportBatchId,
    page: Annotated[PageParams, Depends(page_params)],
) -> ImportBatchDetail:
    rows = db.run(
        ctx.db.from_("import_batches")
        .select("*")
        .eq("id", str(batch_id))
        .eq("organization_id", str(ctx.organization_id))
        .limit(1)
    ).data
    if not rows:
        raise not_found("import batch")
    errors, pagination = fetch_page(
        ctx.db.from_("import_row_errors")
        .select("row:row_number,column:column_name,value,message", count="exact")
        .eq("import_batch_id", str(batch_id))
        .eq("organization_id", str(ctx.organization_id))
        .order("row_number")
        .order("position")
        .order("id"),
        page,
    )
    return ImportBatchDetail.model_validate(
        {
            **rows[0],
            "errors": Page[RowError](
                data=[RowError.model_validate(e) for e in errors],
                pagination=Pagination(**pagination),
            ),
        }
    )

"""GET /api/invoices/bulk-actions/{id}: a bulk send's progress, counts and per-id results.

One PostgREST query: the job with its items (row level security: the organization's
members see its jobs; another organization's job is "not found").
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path

from functions.invoices import error_responses
from shared import db
from shared.context import Viewer
from shared.errors import not_found
from shared.models.delivery import BulkJob, bulk_job

router = APIRouter(tags=["invoices"])

JobId = Annotated[UUID, Path(alias="id", description="The bulk job's id")]


@router.get(
    "/api/invoices/bulk-actions/{id}",
    response_model=BulkJob,
    summary="A bulk send's progress",
    description=(
        "`state` is queued, running or completed; `summary` counts the items by status "
        "(ok, pending, sending, or the reason an item was not sent); `results` has one "
        "entry per requested id, in the order given."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_bulk_job(ctx: Viewer, job_id: JobId) -> BulkJob:
    rows = db.run(
        ctx.db.from_("bulk_jobs")
        .select(
            "id,action,queued,total,created_by,created_at,finished_at,"
            "items:bulk_job_items(invoice_id,position,status,reason,message,attempts)"
        )
        .eq("id", str(job_id))
        .eq("organization_id", str(ctx.organization_id))
        .order("position", foreign_table="items")
        .limit(1)
    ).data
    if not rows:
        raise not_found("bulk job")
    return bulk_job(rows[0])

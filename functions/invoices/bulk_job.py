"""GET /api/invoices/bulk-actions/{id}: a bulk send's progress, counts and per-id results.

One PostgREST query: the job with its items (row level security: the organization's
members see its jobs; another organization's job is "not found").
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path

from functions.invoices import error_responses
from shared import db
from shared.api import make_handler
from shared.context import Viewer
from shared.errors import not_found
from shared.models.delivery import BulkItemResult, BulkJob

router = APIRouter(tags=["invoices"])

JobId = Annotated[UUID, Path(alias="id", description="The bulk job's id")]


def _state(job: dict[str, Any], items: list[dict[str, Any]]) -> str:
    """completed once nothing is pending or being sent; running once any item was taken
    up (ids decided when the job was made, such as not_found, do not count)."""
    if job.get("finished_at") or not any(i["status"] in ("pending", "sending") for i in items):
        return "completed"
    if any((i.get("attempts") or 0) > 0 for i in items):
        return "running"
    return "queued"


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
    job = rows[0]
    items = job.pop("items") or []
    results = [
        BulkItemResult(
            id=item["invoice_id"],
            status=(item.get("reason") or "send_failed")
            if item["status"] == "failed"
            else item["status"],
            message=item.get("message"),
        )
        for item in items
    ]
    raw = Counter(item["status"] for item in items)
    summary = Counter(r.status for r in results)
    return BulkJob.model_validate(
        {
            **job,
            "state": _state(job, items),
            "done": raw["ok"] + raw["failed"],
            "summary": {"requested": len(results), **dict(sorted(summary.items()))},
            "results": results,
        }
    )


handler = make_handler(router)

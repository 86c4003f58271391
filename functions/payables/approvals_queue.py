"""GET /api/payables/approvals: my approval queue."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from functions.payables import call, error_responses
from shared.context import Viewer
from shared.models.payables import ApprovalQueue

router = APIRouter(tags=["payables"])


@router.get(
    "/api/payables/approvals",
    response_model=ApprovalQueue,
    summary="My approval queue: the steps I may decide now",
    description=(
        "Pending steps whose approver I am (by role or by name), without those separation "
        "of duties keeps from me (invoices I imported, whose exception I resolved, or of "
        "which I decided an earlier step), oldest first. `page_size` 1-200 (default 50), "
        "`offset`; `has_more` says whether another page follows. Viewers get an empty queue."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def approval_queue(
    ctx: Viewer,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ApprovalQueue:
    result = call(ctx, "approval_queue", {"page_size": page_size, "offset": offset})
    return ApprovalQueue.model_validate(result)

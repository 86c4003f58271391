"""GET /api/payables/approvals: my approval queue."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

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
        "which I decided an earlier step), oldest first. `page_size` 1-200 (default 50); "
        "`next_after`, when another page follows, is the `after` that asks for it (keyset "
        "paging: every page costs what the first does). Viewers get an empty queue."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def approval_queue(
    ctx: Viewer,
    page_size: Annotated[int, Query(ge=1, le=200)] = 50,
    after: Annotated[UUID | None, Query(description="the previous page's next_after")] = None,
) -> ApprovalQueue:
    result = call(ctx, "approval_queue", {"page_size": page_size, "after": after})
    return ApprovalQueue.model_validate(result)

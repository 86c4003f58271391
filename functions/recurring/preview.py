"""GET /api/recurring-profiles/{id}/preview: the next invoices, without writing."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from functions.recurring import ProfileId, error_responses
from shared import db
from shared.context import Viewer
from shared.models.recurring import Preview

router = APIRouter(tags=["recurring"])


@router.get(
    "/api/recurring-profiles/{id}/preview",
    response_model=Preview,
    summary="Preview a recurring profile's next invoices",
    description=(
        "The next `count` (1-36, default 3) invoices the profile would issue: period, issue "
        "and due dates, amounts (the items' subtotal, discount, tax and total as the invoice "
        "would compute them). Nothing is written and no number is taken. A paused profile "
        "shows what resuming today would issue; an ended one none."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def preview_recurring_profile(
    ctx: Viewer,
    profile_id: ProfileId,
    count: Annotated[int, Query(ge=1, le=36, description="How many invoices")] = 3,
) -> Preview:
    answer = db.rpc(
        ctx.db,
        "preview_recurring_profile",
        {
            "organization_id": str(ctx.organization_id),
            "profile_id": str(profile_id),
            "count": count,
        },
    )
    return Preview.model_validate(answer)

"""POST /api/recurring-profiles/{id}/issue: the next period's invoice, now, once."""

from __future__ import annotations

from fastapi import APIRouter

from functions.recurring import ProfileId, error_responses
from shared import db
from shared.context import Member
from shared.models.recurring import IssuedNow

router = APIRouter(tags=["recurring"])


@router.post(
    "/api/recurring-profiles/{id}/issue",
    status_code=201,
    response_model=IssuedNow,
    summary="Issue a recurring profile's next invoice now",
    description=(
        "The profile's next period is invoiced now, once (a period is never invoiced twice: "
        "the job finds it issued and moves on): dated for its period when its billing date "
        "has come, today (the organization's) when it is ahead. The invoice is a draft "
        "whatever `auto_send` says: send it with `POST /api/invoices/{id}/send`. Only an "
        "active profile (422 for a paused or ended one)."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def issue_now(ctx: Member, profile_id: ProfileId) -> IssuedNow:
    answer = db.rpc(
        ctx.db,
        "issue_recurring_profile_now",
        {"organization_id": str(ctx.organization_id), "profile_id": str(profile_id)},
    )
    return IssuedNow.model_validate(answer)

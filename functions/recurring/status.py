"""POST /api/recurring-profiles/{id}/pause, /resume, /cancel."""

from __future__ import annotations

from fastapi import APIRouter

from functions.recurring import ProfileId, error_responses
from shared import db
from shared.context import Context, Member
from shared.models.recurring import RecurringProfile

router = APIRouter(tags=["recurring"])


def _change(ctx: Context, profile_id: ProfileId, action: str) -> RecurringProfile:
    answer = db.rpc(
        ctx.db,
        "change_recurring_profile_status",
        {
            "organization_id": str(ctx.organization_id),
            "profile_id": str(profile_id),
            "action": action,
        },
    )
    return RecurringProfile.model_validate(answer)


@router.post(
    "/api/recurring-profiles/{id}/pause",
    response_model=RecurringProfile,
    summary="Pause a recurring profile",
    description="An active profile stops issuing; a paused one is answered unchanged.",
    responses=error_responses(400, 401, 403, 404, 422),
)
async def pause(ctx: Member, profile_id: ProfileId) -> RecurringProfile:
    return _change(ctx, profile_id, "pause")


@router.post(
    "/api/recurring-profiles/{id}/resume",
    response_model=RecurringProfile,
    summary="Resume a paused recurring profile",
    description=(
        "It continues at the first period billed on the organization's today or later: the "
        "periods of the pause are skipped, never backfilled, and are not cycles "
        "(`max_cycles` counts invoices issued). An active profile is answered unchanged."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def resume(ctx: Member, profile_id: ProfileId) -> RecurringProfile:
    return _change(ctx, profile_id, "resume")


@router.post(
    "/api/recurring-profiles/{id}/cancel",
    response_model=RecurringProfile,
    summary="Cancel a recurring profile",
    description=(
        "It ends (status `ended`, `ended_reason` `cancelled`) and issues nothing more; its "
        "invoices stay as they are. Cancelling it again answers it unchanged."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def cancel(ctx: Member, profile_id: ProfileId) -> RecurringProfile:
    return _change(ctx, profile_id, "cancel")

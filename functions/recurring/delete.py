"""DELETE /api/recurring-profiles/{id}: deleted, or cancelled when it issued invoices."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.recurring import ProfileId, error_responses
from shared import db
from shared.context import Member
from shared.models.recurring import RecurringProfile

router = APIRouter(tags=["recurring"])


@router.delete(
    "/api/recurring-profiles/{id}",
    status_code=204,
    response_class=Response,
    summary="Delete a recurring profile, or cancel one that issued invoices",
    description=(
        "A profile that never issued an invoice (or whose invoices were all deleted "
        "drafts) is deleted with its items: 204. One whose invoices remain stays on record, "
        "as they name it: it is cancelled instead (status `ended`, `ended_reason` "
        "`cancelled`) and answered with 200 and the profile."
    ),
    responses={
        200: {"model": RecurringProfile, "description": "It issued invoices: now cancelled"},
        204: {"description": "The profile was deleted"},
        **error_responses(400, 401, 403, 404, 422),
    },
)
async def delete_recurring_profile(ctx: Member, profile_id: ProfileId) -> Response:
    result = db.rpc(
        ctx.db,
        "delete_recurring_profile",
        {"organization_id": str(ctx.organization_id), "profile_id": str(profile_id)},
    )
    if result.get("action") == "deleted":
        return Response(status_code=204)
    profile = RecurringProfile.model_validate(result["profile"])
    return Response(profile.model_dump_json(), status_code=200, media_type="application/json")

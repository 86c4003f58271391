"""PATCH /api/recurring-profiles/{id}: a partial update of a profile (and its items)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.recurring import ProfileId, error_responses
from shared import db, parties
from shared.context import Member
from shared.models.recurring import RecurringProfile, RecurringProfileUpdate

router = APIRouter(tags=["recurring"])


@router.patch(
    "/api/recurring-profiles/{id}",
    response_model=RecurringProfile,
    summary="Change a recurring profile",
    description=(
        "The fields present change; `items` replaces the whole list. The template (terms, "
        "tax rate, discount, notes, items, auto_send, name) changes the invoices to come. "
        "The schedule (frequency, interval, billing day, start date) and the client change "
        "only until the first invoice is issued (then 422: cancel it and create another). "
        "`end_date` / `max_cycles` change any time; moved before the next period, the "
        "profile ends. An ended profile does not change."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def update_recurring_profile(
    ctx: Member, profile_id: ProfileId, body: RecurringProfileUpdate
) -> RecurringProfile:
    params: dict[str, Any] = {
        "organization_id": str(ctx.organization_id),
        "profile_id": str(profile_id),
        "changes": parties.seal_document_instructions(ctx.organization_id, body.fields_json()),
    }
    items = body.items_json()
    if items is not None:
        params["items"] = items
    return RecurringProfile.model_validate(db.rpc(ctx.db, "update_recurring_profile", params))

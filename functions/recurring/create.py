"""POST /api/recurring-profiles: a recurring profile with its items, in one transaction."""

from __future__ import annotations

from fastapi import APIRouter, Response

from functions.recurring import error_responses
from shared import db, parties
from shared.context import Member
from shared.models.recurring import RecurringProfile, RecurringProfileCreate

router = APIRouter(tags=["recurring"])


@router.post(
    "/api/recurring-profiles",
    status_code=201,
    response_model=RecurringProfile,
    summary="Create a recurring profile",
    description=(
        "One transaction (`create_recurring_profile`). The interval is `frequency` "
        "(monthly, quarterly, annually) or `interval_unit` (day, week, month) with "
        "`interval_count`; left out, the client's `billing_frequency` (a `one-time` client "
        "needs one given). `billing_day` (months only, 1-31; 29-31 bill on the month's last "
        "day when it is shorter) defaults to the start date's day; `start_date` to the "
        "organization's today (its time zone). End with `end_date` or `max_cycles` (not "
        "both), or never. Terms, tax rate, template, notes, terms and payment instructions "
        "default to the organization's settings. `auto_send`: the job emails each period's "
        "invoice when it is issued on time (docs/jobs.md)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def create_recurring_profile(
    ctx: Member, body: RecurringProfileCreate, response: Response
) -> RecurringProfile:
    document = db.rpc(
        ctx.db,
        "create_recurring_profile",
        {
            "organization_id": str(ctx.organization_id),
            "profile": parties.seal_document_instructions(ctx.organization_id, body.fields_json()),
            "items": body.items_json(),
        },
    )
    profile = RecurringProfile.model_validate(document)
    response.headers["Location"] = f"/api/recurring-profiles/{profile.id}"
    return profile

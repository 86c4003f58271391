"""PUT /api/settings/business: changes the organization's business settings (admins
and owners; a partial update)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.settings import error_responses, opened, sealed_business
from shared import db
from shared.context import Admin
from shared.models.settings import BusinessSettings, BusinessUpdate, section_json

router = APIRouter(tags=["settings"])


@router.put(
    "/api/settings/business",
    response_model=BusinessSettings,
    summary="Change the organization's business settings",
    description=(
        "Needs the admin role. `next_invoice_number` can only go up; reminder settings "
        "merge key by key; `numbering` merges by document type and field. `time_zone` is an "
        "IANA name (Europe/Paris). `invoice_prefix` and `invoice_number_padding` are the old "
        "way to change the invoice pattern (its text before the first token, and n of "
        "{SEQ:n}); they cannot change together with `numbering.invoice.pattern`."
    ),
    responses=error_responses(401, 403, 422),
)
async def update_business(body: BusinessUpdate, ctx: Admin) -> BusinessSettings:
    result = db.rpc(
        ctx.db,
        "update_settings",
        {
            "organization_id": str(ctx.organization_id),
            "business": sealed_business(ctx.organization_id, section_json(body)),
        },
    )
    return BusinessSettings.model_validate(opened(result)["business"])

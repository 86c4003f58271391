"""GET /api/payables/settings: the organization's account, the debtor of its bank files."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import error_responses
from shared import db
from shared.context import Viewer
from shared.models.payables import PayablesSettings
from shared.payables.bank_accounts import opened_settings

router = APIRouter(tags=["payables"])

COLUMNS = "organization_id,debtor_name,debtor_iban,debtor_iban_sealed,debtor_bic"


@router.get(
    "/api/payables/settings",
    response_model=PayablesSettings,
    summary="The payables settings (the debtor account)",
    responses=error_responses(400, 401, 403),
)
async def get_settings(ctx: Viewer) -> PayablesSettings:
    rows = db.run(
        ctx.db.from_("payables_settings")
        .select(COLUMNS)
        .eq("organization_id", str(ctx.organization_id))
    ).data
    return PayablesSettings.model_validate(
        opened_settings(ctx.organization_id, rows[0])
        if rows
        else {"organization_id": str(ctx.organization_id)}
    )

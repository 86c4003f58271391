"""PUT /api/payables/settings: the organization's account (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.payables import error_responses
from functions.payables.settings_get import COLUMNS
from shared import db
from shared.context import Admin
from shared.models.payables import PayablesSettings, PayablesSettingsUpdate
from shared.payables.accounts import clean_bic, clean_iban
from shared.payables.bank_accounts import debtor_columns, opened_settings

router = APIRouter(tags=["payables"])


@router.put(
    "/api/payables/settings",
    response_model=PayablesSettings,
    summary="Change the payables settings (the fields given)",
    description=(
        "`debtor_name` (1-70 characters; default the organization's name), `debtor_iban` "
        "and `debtor_bic` (checked with python-stdnum; null clears). Admins and owners."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def update_settings(ctx: Admin, body: PayablesSettingsUpdate) -> PayablesSettings:
    row = body.to_json(exclude_unset=True)
    if "debtor_iban" in row:  # sealed at rest (shared/payables/bank_accounts.py)
        iban = row.pop("debtor_iban")
        row.update(
            debtor_columns(ctx.organization_id, clean_iban(iban, "debtor_iban") if iban else None)
        )
    if row.get("debtor_bic"):
        row["debtor_bic"] = clean_bic(row["debtor_bic"], "debtor_bic")
    org = str(ctx.organization_id)
    saved = db.run(
        ctx.db.from_("payables_settings").update(row).eq("organization_id", org).select(COLUMNS)
    ).data
    if not saved:  # the first save (a concurrent first save: 409, retry)
        saved = db.run(
            ctx.db.from_("payables_settings")
            .insert({**row, "organization_id": org})
            .select(COLUMNS)
        ).data
    return PayablesSettings.model_validate(opened_settings(ctx.organization_id, saved[0]))

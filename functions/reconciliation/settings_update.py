"""PUT /api/reconciliation/settings: change the matching settings (admins)."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import call, error_responses
from shared.context import Admin
from shared.models.reconciliation import ReconciliationSettings, SettingsUpdate

router = APIRouter(tags=["reconciliation"])


@router.put(
    "/api/reconciliation/settings",
    response_model=ReconciliationSettings,
    summary="Change the matching settings (the fields given)",
    description=(
        "`quantity_tolerance_percent`, `price_tolerance_percent` (0-100), "
        "`price_tolerance_amount`, `total_tolerance_amount` (>= 0), "
        "`vendor_similarity_threshold` (0-1], `auto_rematch`. Admins and owners. Takes "
        "effect at the next matching."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def update_settings(ctx: Admin, body: SettingsUpdate) -> ReconciliationSettings:
    changes = body.to_json(exclude_unset=True)
    result = call(ctx, "update_reconciliation_settings", {"changes": changes})
    return ReconciliationSettings.model_validate(result)

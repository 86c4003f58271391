"""GET /api/reconciliation/settings: the organization's matching settings."""

from __future__ import annotations

from fastapi import APIRouter

from functions.reconciliation import call, error_responses
from shared.context import Viewer
from shared.models.reconciliation import ReconciliationSettings

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/settings",
    response_model=ReconciliationSettings,
    summary="The matching settings (tolerances, similarity threshold, auto re-match)",
    description=(
        "The defaults (0 % quantity, 0 % / 0 price, 0.05 total tolerance, 0.4 similarity, "
        "auto re-match on) until an admin saves some (`saved`)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def get_settings(ctx: Viewer) -> ReconciliationSettings:
    return ReconciliationSettings.model_validate(call(ctx, "get_reconciliation_settings", {}))

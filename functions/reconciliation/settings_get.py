"""GET /api/reconciliation/settings: the organization's matching settings."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.reconciliation import call, error_responses
from shared.api import make_handler
from shared.context import Viewer

router = APIRouter(tags=["reconciliation"])


@router.get(
    "/api/reconciliation/settings",
    summary="The matching settings (tolerances, similarity threshold, auto re-match)",
    description=(
        "The defaults (0 % quantity, 0 % / 0 price, 0.05 total tolerance, 0.4 similarity, "
        "auto re-match on) until an admin saves some (`saved`)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def get_settings(ctx: Viewer) -> dict[str, Any]:
    result: dict[str, Any] = call(ctx, "get_reconciliation_settings", {})
    return result


handler = make_handler(router)

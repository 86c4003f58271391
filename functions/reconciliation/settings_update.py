"""PUT /api/reconciliation/settings: change the matching settings (admins).

A change of ``default_match_mode`` re-matches, at once, the open invoices it decides
(public.invoices_on_default_match_mode: not approved, rejected or paid, on a purchase
order with a line whose line, purchase order and vendor set no mode) in bounded calls
(`shared.reconciliation.imports.match_in_chunks`, 250 invoices a call, no call started
after 15 s), unless ``auto_rematch`` is off; the answer's ``rematched`` says how many.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import Field

from functions.reconciliation import call, error_responses, plain
from shared.context import Admin
from shared.log import get_logger
from shared.models.reconciliation import MatchSummary, ReconciliationSettings, SettingsUpdate
from shared.reconciliation import imports
from shared.settings import get_settings

router = APIRouter(tags=["reconciliation"])


class SettingsUpdated(ReconciliationSettings):
    rematched: MatchSummary | None = Field(
        default=None,
        description="only when default_match_mode changed: the open invoices it decides, "
        "re-matched (`incomplete`: the rest by POST /api/reconciliation/match); absent "
        "with auto_rematch off",
    )


@router.put(
    "/api/reconciliation/settings",
    response_model=SettingsUpdated,
    response_model_exclude_unset=True,
    summary="Change the matching settings (the fields given)",
    description=(
        "`quantity_tolerance_percent`, `price_tolerance_percent` (0-100), "
        "`price_tolerance_amount`, `total_tolerance_amount` (>= 0), "
        "`vendor_similarity_threshold` (0-1], `auto_rematch`, `default_match_mode`. "
        "Admins and owners. Takes effect at the next matching; a change of "
        "`default_match_mode` re-matches the open invoices it decides at once (unless "
        "`auto_rematch` is off), answered as `rematched`."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def update_settings(ctx: Admin, body: SettingsUpdate) -> SettingsUpdated:
    changes = body.to_json(exclude_unset=True)
    before = None
    if "default_match_mode" in changes:
        before = call(ctx, "get_reconciliation_settings", {})["default_match_mode"]
    result: dict[str, Any] = call(ctx, "update_reconciliation_settings", {"changes": changes})
    answer = SettingsUpdated.model_validate(result)
    if before is None or before == result["default_match_mode"] or not result["auto_rematch"]:
        return answer
    ids = [str(i) for i in call(ctx, "invoices_on_default_match_mode", {}) or []]
    try:
        swept = imports.match_in_chunks(
            ctx.db, ctx.organization_id, invoice_ids=ids, max_seconds=imports.ROUTE_MATCH_SECONDS
        )
    except imports.MatchingInterrupted as error:
        # The setting is saved; the invoices not reached keep their result until the next
        # matching (POST /api/reconciliation/match).
        get_logger(get_settings().log_level).warning(
            "re-matching after the default match mode failed",
            extra={"fields": {"status": error.status, "code": error.code}},
        )
        swept = {**error.done, "incomplete": True}
    return SettingsUpdated.model_validate({**result, "rematched": plain(swept)})

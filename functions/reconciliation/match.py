"""POST /api/reconciliation/match: re-run matching for given invoices or all pending."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.reconciliation import call, error_responses
from shared.api import make_handler
from shared.context import Member
from shared.models.reconciliation import MatchRequest

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/match",
    summary="Match vendor invoices against their purchase orders and receipts",
    description=(
        'Body `{"invoice_ids": [...]}` (1 to 1000) or `{}`: every pending and exception '
        "invoice of the organization. One set-based SQL call; re-matching replaces each "
        "invoice's result. Answers the counts by outcome and `skipped` ids (approved or "
        "rejected by a person, or not the organization's)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def match_invoices(ctx: Member, body: MatchRequest | None = None) -> dict[str, Any]:
    body = body or MatchRequest()
    ids = [str(i) for i in body.invoice_ids] if body.invoice_ids is not None else None
    result: dict[str, Any] = call(ctx, "match_vendor_invoices", {"invoice_ids": ids})
    return result


handler = make_handler(router)

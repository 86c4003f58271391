"""POST /api/reconciliation/match: re-run matching for given invoices or all pending."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from functions.reconciliation import call, error_responses, plain
from shared.api import make_handler
from shared.context import Member
from shared.models.reconciliation import MatchRequest, MatchSummary
from shared.reconciliation import imports

router = APIRouter(tags=["reconciliation"])


@router.post(
    "/api/reconciliation/match",
    response_model=MatchSummary,
    summary="Match vendor invoices against their purchase orders and receipts",
    description=(
        'Body `{"invoice_ids": [...]}` (1 to 1000) or `{}`: every pending and exception '
        "invoice of the organization, in calls of 250 for at most 15 s (`incomplete`: "
        "call again). Re-matching replaces each invoice's result. Answers the counts by "
        "outcome and `skipped` ids (approved or rejected by a person, or not the "
        "organization's)."
    ),
    responses=error_responses(400, 401, 403, 422),
)
async def match_invoices(ctx: Member, body: MatchRequest | None = None) -> MatchSummary:
    body = body or MatchRequest()
    if body.invoice_ids is not None:
        ids = [str(i) for i in body.invoice_ids]
        result: dict[str, Any] = call(ctx, "match_vendor_invoices", {"invoice_ids": ids})
        return MatchSummary.model_validate(result)
    # Every pending and exception invoice: bounded calls, not one over all of them
    # (docs/architecture.md, "Statement timeouts").
    try:
        swept = imports.match_in_chunks(
            ctx.db, ctx.organization_id, max_seconds=imports.ROUTE_MATCH_SECONDS
        )
    except imports.MatchingInterrupted as error:
        raise error.api from None
    return MatchSummary.model_validate(plain(swept))


handler = make_handler(router)

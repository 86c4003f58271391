"""GET /api/reconciliation/invoices/{id}/suggestions: the purchase orders an invoice may
belong to, ranked by the organization's learned weights, each with its evidence
(supabase/migrations/20261206150300_match_suggestions.sql, shared/reconciliation/
suggestions.py)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from functions.reconciliation import VendorInvoiceId, call, error_responses, found
from shared.context import Viewer
from shared.models.reconciliation import MatchSuggestions
from shared.reconciliation import suggestions

router = APIRouter(tags=["reconciliation"])


def candidate(rank: int, row: dict[str, Any], weights: dict[str, float]) -> dict[str, Any]:
    features = [float(v) for v in row["features"]]
    logit = suggestions.score(weights, features)
    return {
        **row,
        "rank": rank,
        "logit": round(logit, 6),
        "score": round(suggestions.logistic(logit), 6),
        "evidence": suggestions.evidence(weights, features),
    }


@router.get(
    "/api/reconciliation/invoices/{id}/suggestions",
    response_model=MatchSuggestions,
    summary="Ranked purchase orders for an invoice, with the evidence of each",
    description=(
        "For an invoice with a missing or wrong PO reference, or an unknown vendor: the "
        "organization's open purchase orders in its currency, best first. Each has its "
        "`score` (the model's probability), and its `evidence`: the five features (vendor, "
        "amount, date, reference, description; each 0-1), the weights and each feature's "
        "contribution. The weights are learned from the organization's decisions (accepted "
        "and rejected suggestions, relinks, confirmed matches); before any, fixed ones."
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def get_suggestions(
    ctx: Viewer,
    invoice_id: VendorInvoiceId,
    limit: Annotated[int, Query(ge=1, le=50, description="1 to 50 candidates")] = 5,
) -> MatchSuggestions:
    result = found(
        call(ctx, "match_suggestions", {"invoice_id": invoice_id, "max_candidates": limit}),
        "vendor invoice",
    )
    weights = {k: float(v) for k, v in result["model"]["weights"].items()}
    result["candidates"] = [
        candidate(rank, row, weights) for rank, row in enumerate(result["candidates"], start=1)
    ]
    return MatchSuggestions.model_validate(result)

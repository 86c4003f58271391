"""POST /api/reconciliation/invoices/{id}/suggestions/{purchase_order_id}/accept and
/reject: a person's decision on a suggestion. Accept links the purchase order through the
exception's link path and re-matches; reject records a negative example. Either way the
organization's weights are retrained at once (shared/reconciliation/suggestions.py)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Path

from functions.reconciliation import VendorInvoiceId, call, error_responses, found
from shared.context import Context, Member
from shared.models.reconciliation import SuggestionDecided, SuggestionDecision
from shared.reconciliation import suggestions

router = APIRouter(tags=["reconciliation"])

SuggestedPurchaseOrderId = Annotated[
    UUID, Path(alias="purchase_order_id", description="The suggested purchase order's id")
]


def retrain(ctx: Context) -> dict[str, Any]:
    """Fits the organization's weights on its examples and stores them."""
    rows = call(ctx, "suggestion_training_set", {"max_examples": suggestions.MAX_EXAMPLES})
    weights, examples, positives = suggestions.fit(rows)
    saved = call(
        ctx,
        "save_suggestion_model",
        {"weights": weights, "examples": examples, "positives": positives},
    )
    return {
        "learned": True,
        "weights": saved["weights"],
        "examples": saved["examples"],
        "decisions": saved["decisions"],
        "trained_at": saved["trained_at"],
    }


def _decide(
    ctx: Context, invoice_id: UUID, po_id: UUID, decision: str, body: SuggestionDecision | None
) -> SuggestionDecided:
    result = call(
        ctx,
        "decide_match_suggestion",
        {
            "invoice_id": invoice_id,
            "purchase_order_id": po_id,
            "decision": decision,
            "reason": body.reason if body else None,
        },
    )
    outcome = found(result, "vendor invoice")
    return SuggestionDecided.model_validate({**outcome, "model": retrain(ctx)})


@router.post(
    "/api/reconciliation/invoices/{id}/suggestions/{purchase_order_id}/accept",
    response_model=SuggestionDecided,
    summary="Accept a suggested purchase order: link it and re-match",
    description=(
        "The purchase order is linked through the relink path (the invoice's open "
        "invoice-level exception, `missing_po` first, resolved with `link`; without one, "
        "the same link and a match), and the decision is an example the weights learn "
        'from (retrained now). Optional body `{"reason": "..."}`. Members and above.'
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def accept_suggestion(
    ctx: Member,
    invoice_id: VendorInvoiceId,
    po_id: SuggestedPurchaseOrderId,
    body: SuggestionDecision | None = None,
) -> SuggestionDecided:
    return _decide(ctx, invoice_id, po_id, "accept", body)


@router.post(
    "/api/reconciliation/invoices/{id}/suggestions/{purchase_order_id}/reject",
    response_model=SuggestionDecided,
    summary="Reject a suggested purchase order (a negative example)",
    description=(
        "Recorded as a negative example and the weights retrained; the invoice is not "
        'changed. Optional body `{"reason": "..."}`. Members and above.'
    ),
    responses=error_responses(400, 401, 403, 404, 422),
)
async def reject_suggestion(
    ctx: Member,
    invoice_id: VendorInvoiceId,
    po_id: SuggestedPurchaseOrderId,
    body: SuggestionDecision | None = None,
) -> SuggestionDecided:
    return _decide(ctx, invoice_id, po_id, "reject", body)
